"""Building blocks of the config models: the strict base model, the field error that names
the field a person must change, and the validated primitive types every section uses."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr

from l3_constructs.limits import LOG_RETENTION_DAYS

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_STAGE_RE = re.compile(r"^[A-Z][A-Za-z0-9]{0,31}$")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TAG_VALUE_RE = re.compile(r"^[\w\s.:/=+\-@]{0,256}$", re.UNICODE)

MIN_VPC_PREFIX = 16
MAX_VPC_PREFIX = 24


def _account_id(value: str) -> str:
    if not _ACCOUNT_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not an AWS account id (12 digits)")
    return value


def _region(value: str) -> str:
    if not _REGION_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not an AWS region name (e.g. 'ap-northeast-1')")
    return value


def _stage_name(value: str) -> str:
    if not _STAGE_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid stage name "
            "(a capital letter, then letters and digits, at most 32 characters)"
        )
    return value


def _ipv4_network(value: str) -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        try:
            loose = ipaddress.IPv4Network(value, strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not a valid IPv4 network") from None
        raise ValueError(f"{value!r} has host bits set; the network is {str(loose)!r}") from None
    if not MIN_VPC_PREFIX <= net.prefixlen <= MAX_VPC_PREFIX:
        raise ValueError(
            f"{value!r} is a /{net.prefixlen}; a VPC CIDR must be "
            f"/{MIN_VPC_PREFIX} to /{MAX_VPC_PREFIX}"
        )
    return value


def _domain_name(value: str) -> str:
    if "{stage}" in value:
        raise ValueError(f"{value!r} uses {{stage}}, which needs a valid stage_name")
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_LABEL_RE.fullmatch(x) for x in labels):
        raise ValueError(f"{value!r} is not a valid lower-case domain name")
    return value


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(x) for x in LOG_RETENTION_DAYS)
        raise ValueError(f"{value} is not a CloudWatch Logs retention period (days: {allowed})")
    return value


def read_only(value: Mapping[str, str]) -> Mapping[str, str]:
    """A read-only view, so a frozen model's mapping cannot be changed behind validation."""
    return MappingProxyType(dict(value))


def _tag_value(value: str) -> str:
    if not value or not _TAG_VALUE_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid tag value "
            "(1-256 letters, digits, spaces and _ . : / = + - @)"
        )
    return value


AccountId = Annotated[StrictStr, AfterValidator(_account_id)]
Region = Annotated[StrictStr, AfterValidator(_region)]
StageName = Annotated[StrictStr, AfterValidator(_stage_name)]
Ipv4Cidr = Annotated[StrictStr, AfterValidator(_ipv4_network)]
DomainName = Annotated[StrictStr, AfterValidator(_domain_name)]
RetentionDays = Annotated[StrictInt, AfterValidator(_retention)]
TagValue = Annotated[StrictStr, AfterValidator(_tag_value)]
SubnetMask = Annotated[StrictInt, Field(ge=16, le=28)]


class FieldError(ValueError):
    """A cross-field problem that belongs to one field below the model that found it.

    The loader appends ``field`` to the error's location, so the message names the field
    a person has to change (``network.availability_zones``), not just the model.
    ``cross_field`` marks a rule over several settings (e.g. the CIDR against the subnet
    masks): such a problem is the environment's, even if one setting is a default.
    """

    def __init__(self, field: str, message: str, *, cross_field: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.cross_field = cross_field


class ManyFieldsError(ValueError):
    """Several `FieldError`s found by one rule over many settings (e.g. every service's
    references): the loader reports each on its own line."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


class ConfigModel(BaseModel):
    """Base of every config model: immutable, strict about keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


def pattern(regex: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


def unique() -> AfterValidator:
    """Rejects a list naming an item twice (compared without case)."""

    def check(values: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for value in values:
            if value.lower() in seen:
                raise ValueError(f"lists {value!r} twice")
            seen.add(value.lower())
        return values

    return AfterValidator(check)
