"""Load `config/*.yaml` into validated `EnvironmentConfig` objects, or explain why not.

Each `<name>.yaml` (except `defaults.yaml`) is one environment. It is deep-merged over
`defaults.yaml` (mappings merge key by key; any other value, lists included, replaces the
default), then validated. All problems of all files are collected and raised together as one
`ConfigError` whose lines each name the file and the field, so synth stops before any
construct exists.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from config.models import EnvironmentConfig
from config.primitives import FieldError, ManyFieldsError

DEFAULTS_FILE = "defaults.yaml"
CONFIG_DIR = Path(__file__).resolve().parent


class ConfigError(Exception):
    """One or more configuration problems; `problems` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class LoadedEnvironment:
    """A validated environment and the file it came from."""

    path: Path
    config: EnvironmentConfig


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    first_line: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in first_line:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} is given twice (first on line {first_line[key]})",
                key_node.start_mark,
            )
        first_line[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _FastStrictLoader(getattr(yaml, "CSafeLoader", _StrictLoader)):  # type: ignore[misc]
    """`_StrictLoader` on libyaml's parser where PyYAML has it (several times faster); a
    file it refuses is read again by `_StrictLoader`, whose messages the errors quote."""


_FastStrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _read_yaml(path: Path, shown: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{shown}: cannot read file: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{shown}: not UTF-8 text (byte {exc.start})"]) from None
    try:
        try:
            data = yaml.load(text, Loader=_FastStrictLoader)  # noqa: S506 - a SafeLoader
        except yaml.YAMLError:
            data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([f"{shown}: {where}invalid YAML: {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{shown}: invalid YAML: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            [f"{shown}: the file must hold a mapping of settings, not a list or value"]
        )
    return data


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` over `base`: mappings merge recursively, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _path_text(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _has_path(data: Any, loc: Sequence[int | str]) -> bool:
    for part in loc:
        if isinstance(data, Mapping) and isinstance(part, str) and part in data:
            data = data[part]
            continue
        if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
            continue
        return False
    return True


def _model_at(loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The config model that owns the mapping at `loc`, if it is one."""
    model: type[BaseModel] = EnvironmentConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        # An optional section (`X | None`) is the model X.
        options = get_args(field.annotation) or (field.annotation,) if field else ()
        models = [a for a in options if isinstance(a, type) and issubclass(a, BaseModel)]
        if len(models) != 1:
            return None
        model = models[0]
    return model


@dataclass(frozen=True)
class _Problem:
    loc: tuple[int | str, ...]
    message: str
    #: A rule over several settings (e.g. CIDR vs subnet masks): blamed on the environment
    #: file even when one of the settings comes from the defaults.
    cross_field: bool = False


def _field_problem(loc: tuple[int | str, ...], error: FieldError) -> _Problem:
    field = tuple(int(x) if x.isdigit() else x for x in error.field.split("."))
    return _Problem((*loc, *field), str(error), error.cross_field)


def _describe_all(error: ErrorDetails) -> list[_Problem]:
    """One problem per pydantic error, or each of a rule's several (`ManyFieldsError`)."""
    cause = error.get("ctx", {}).get("error")
    if error["type"] == "value_error" and isinstance(cause, ManyFieldsError):
        return [_field_problem(tuple(error["loc"]), e) for e in cause.errors]
    return [_describe(error)]


def _describe(error: ErrorDetails) -> _Problem:  # noqa: PLR0911 - one return per error kind
    """Location and a human message for one pydantic error."""
    loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    if kind == "value_error":
        cause = error.get("ctx", {}).get("error")
        message = str(cause) if cause is not None else error["msg"]
        if isinstance(value, str) and repr(value) not in message:
            message = f"{value!r}: {message}"
        if isinstance(cause, FieldError):
            return _field_problem(loc, cause)
        return _Problem(loc, message)
    if kind == "extra_forbidden":
        owner = _model_at(loc[:-1])
        allowed = f" (allowed: {', '.join(owner.model_fields)})" if owner else ""
        return _Problem(loc, f"unknown key{allowed}")
    if kind == "missing":
        return _Problem(loc, "required setting is missing")
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        return _Problem(loc, f'{value!r}: must be a string; quote it in YAML ("{value}")')
    if isinstance(value, Mapping | list):
        return _Problem(loc, error["msg"])
    return _Problem(loc, f"{value!r}: {error['msg']}")


def validate_environment(
    data: Mapping[str, Any], shown: str, defaults: Mapping[str, Any], defaults_shown: str
) -> EnvironmentConfig:
    """Validate one merged environment; raise `ConfigError` naming file and field."""
    try:
        return EnvironmentConfig.model_validate(deep_merge(defaults, data))
    except ValidationError as exc:
        problems = []
        for problem in (p for error in exc.errors() for p in _describe_all(error)):
            loc, where = problem.loc, shown
            field = _path_text(loc)
            if loc and not _has_path(data, loc) and _has_path(defaults, loc):
                if problem.cross_field:  # the combination is this environment's
                    field = f"{field} (set in {defaults_shown})"
                else:
                    where = f"{defaults_shown} (as used by {shown})"
            message = problem.message
            problems.append(f"{where}: {field}: {message}" if field else f"{where}: {message}")
        raise ConfigError(problems) from None


def _cross_environment_problems(loaded: Sequence[tuple[str, EnvironmentConfig]]) -> list[str]:
    problems: list[str] = []
    # Compared without case: stage names become directory names in cdk.out.
    by_stage: dict[str, tuple[str, str]] = {}
    for shown, env in loaded:
        key = env.stage_name.lower()
        if key in by_stage:
            other_name, other_shown = by_stage[key]
            problems.append(
                f"{shown}: stage_name: {env.stage_name!r} clashes with stage {other_name!r} "
                f"of {other_shown}"
            )
        by_stage.setdefault(key, (env.stage_name, shown))
    # Every DNS name (the origin's and the viewers') belongs to one environment only.
    by_domain: dict[str, str] = {}
    for shown, env in loaded:
        names = [("compute.domain_name", env.compute.domain_name)]
        names += [(f"edge.domain_names[{i}]", n) for i, n in enumerate(env.edge.domain_names)]
        names += [
            (f"services.{name}.hosts", host)
            for name, service in env.services.items()
            for host in service.hosts
            if host in env.extra_viewer_names
        ]
        for field, domain in names:
            if domain in by_domain:
                problems.append(
                    f"{shown}: {field}: {domain!r} is already used by {by_domain[domain]}"
                )
            by_domain.setdefault(domain, shown)
    problems.extend(_github_oidc_problems(loaded))
    problems.extend(_security_baseline_problems(loaded))
    for i, (shown, env) in enumerate(loaded):
        net = ipaddress.IPv4Network(env.network.cidr)
        for other_shown, other in loaded[:i]:
            if net.overlaps(ipaddress.IPv4Network(other.network.cidr)):
                problems.append(
                    f"{shown}: network.cidr: {env.network.cidr!r} overlaps "
                    f"{other.network.cidr!r} of {other_shown}"
                )
    return problems


def _security_baseline_problems(loaded: Sequence[tuple[str, EnvironmentConfig]]) -> list[str]:
    """GuardDuty and Config allow one detector / recorder per account and region; one
    multi-region trail per account is enough (a second one only doubles the cost)."""
    problems: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    for shown, env in loaded:
        security = env.security
        for field, on, scope in (
            ("guardduty", security.guardduty, env.region),
            ("config_recorder", security.config_recorder, env.region),
            ("cloudtrail", security.cloudtrail, "all regions"),
        ):
            if not on:
                continue
            key = (f"{field}:{env.account}", scope)
            if key in seen:
                problems.append(
                    f"{shown}: security.{field}: account {env.account} ({scope}) has it from "
                    f"{seen[key]} already; set it to false here"
                )
            seen.setdefault(key, shown)
    return problems


def _github_oidc_problems(loaded: Sequence[tuple[str, EnvironmentConfig]]) -> list[str]:
    """An account has one GitHub OIDC provider and one role of a name; repository-level
    variables serve one branch-trusted release per repository."""
    problems: list[str] = []
    providers: dict[str, str] = {}
    roles: dict[tuple[str, str], str] = {}
    branch_trusted: dict[str, str] = {}
    github_environments: dict[tuple[str, str], str] = {}
    for shown, env in loaded:
        pipeline = env.pipeline
        if pipeline is None:
            continue
        oidc, release = pipeline.github_oidc, pipeline.github_actions
        named = [
            ("github_oidc", oidc, env.github_role_name),
            ("github_actions", release, env.release_role_name),
        ]
        if pipeline.creates_github_provider:
            field = "github_oidc" if oidc is not None and oidc.create_provider else "github_actions"
            if env.account in providers:
                problems.append(
                    f"{shown}: pipeline.{field}.create_provider: account {env.account} "
                    f"gets its GitHub OIDC provider from {providers[env.account]} already; "
                    "set create_provider: false here"
                )
            providers.setdefault(env.account, shown)
        for field, section, role in named:
            if section is None or role is None:
                continue
            if (env.account, role) in roles:
                problems.append(
                    f"{shown}: pipeline.{field}.role_name: role {role!r} is already created "
                    f"in account {env.account} by {roles[(env.account, role)]}"
                )
            roles.setdefault((env.account, role), shown)
        if release is not None and release.environment is not None:
            # GitHub compares environment names without case.
            key = (pipeline.repository, release.environment.lower())
            if key in github_environments:
                problems.append(
                    f"{shown}: pipeline.github_actions.environment: {release.environment!r} "
                    f"already releases {github_environments[key]}: one GitHub environment per "
                    "stage, or its jobs could assume both release roles"
                )
            github_environments.setdefault(key, shown)
        if release is not None and release.trust == "branch":
            if pipeline.repository in branch_trusted:
                problems.append(
                    f"{shown}: pipeline.github_actions.trust: {pipeline.repository} already has "
                    f"a branch-trusted release ({branch_trusted[pipeline.repository]}), whose "
                    "repository variables this one would share: use trust 'environment'"
                )
            branch_trusted.setdefault(pipeline.repository, shown)
    return problems


def load_from(directory: Path) -> tuple[LoadedEnvironment, ...]:
    """The environments of `directory`: `config/`, or another directory of environment files
    such as an example's (`examples/<name>/`). A directory without a `defaults.yaml` of its
    own is layered on the shipped `config/defaults.yaml`."""
    own = directory / DEFAULTS_FILE
    return load_environments(
        directory, defaults_path=own if own.exists() else CONFIG_DIR / DEFAULTS_FILE
    )


def load_environments(
    config_dir: Path = CONFIG_DIR, *, defaults_path: Path | None = None
) -> tuple[LoadedEnvironment, ...]:
    """Every environment in `config_dir`, validated; `ConfigError` lists every problem.
    Each is merged over `defaults_path` (default: the directory's own `defaults.yaml`)."""
    # Files are named from the repository's root (`examples/x/dev.yaml`), or else from the
    # directory's parent (`config/dev.yaml` of a copy elsewhere).
    repo = CONFIG_DIR.parent
    root = repo if config_dir.resolve().is_relative_to(repo) else config_dir.parent
    defaults_path = defaults_path or config_dir / DEFAULTS_FILE
    defaults_shown = _display(defaults_path, root)
    problems: list[str] = []
    defaults: dict[str, Any] = {}
    if defaults_path.exists():
        # A broken defaults file is the one problem worth reading: every environment
        # would otherwise repeat "required setting is missing" for what it failed to give.
        defaults = _read_yaml(defaults_path, defaults_shown)

    paths = sorted(p for p in config_dir.glob("*.yaml") if p.name != DEFAULTS_FILE)
    if not paths:
        problems.append(f"{_display(config_dir, root)}: no environment files (*.yaml) found")
    loaded: list[tuple[str, EnvironmentConfig]] = []
    found: list[LoadedEnvironment] = []
    for path in paths:
        shown = _display(path, root)
        try:
            env = validate_environment(_read_yaml(path, shown), shown, defaults, defaults_shown)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        loaded.append((shown, env))
        found.append(LoadedEnvironment(path=path, config=env))

    problems.extend(_cross_environment_problems(loaded))
    if problems:
        raise ConfigError(problems)
    return tuple(found)
