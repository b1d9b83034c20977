"""The ``migrate`` command, against a fake connection (no database, no psycopg)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sample_api import migrate
from sample_api.migrate import (
    DEFAULT_MIGRATIONS_DIR,
    RECORD_SQL,
    Connection,
    DbSettings,
    MigrateError,
    MigrationError,
    apply_migrations,
    load_migrations,
    settings_from_env,
)

ENV = {
    "DB_HOST": "db.internal",
    "DB_NAME": "app",
    "DB_USERNAME": "app_user",
    "DB_PASSWORD": "s3cret",
}


class FakeDb:
    """Shared state of a fake Postgres: committed versions, executed SQL, a failure trigger."""

    def __init__(self, applied: Sequence[str] = (), fail_on: str | None = None) -> None:
        self.committed_versions: list[str] = list(applied)
        self.executed: list[str] = []
        self.fail_on = fail_on
        self.commits = 0
        self.rollbacks = 0
        self.closed = False


class FakeCursor:
    def __init__(self, conn: FakeConnection) -> None:
        self._conn = conn
        self._rows: list[tuple[str]] = []

    def execute(self, query: str, params: Sequence[object] | None = None) -> object:
        db = self._conn.db
        if db.fail_on is not None and db.fail_on in query:
            raise RuntimeError(f'syntax error at or near "{db.fail_on}"\nLINE 1: ...')
        db.executed.append(query)
        if query.startswith("SELECT version FROM schema_migrations"):
            self._rows = [(v,) for v in db.committed_versions]
        elif query == RECORD_SQL:
            assert params is not None
            self._conn.pending.append(str(params[0]))
        return self

    def fetchall(self) -> Sequence[Sequence[object]]:
        return self._rows

    def close(self) -> None:
        pass


class FakeConnection:
    def __init__(self, db: FakeDb) -> None:
        self.db = db
        self.pending: list[str] = []

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def commit(self) -> None:
        self.db.committed_versions.extend(self.pending)
        self.pending.clear()
        self.db.commits += 1

    def rollback(self) -> None:
        self.pending.clear()
        self.db.rollbacks += 1

    def close(self) -> None:
        self.db.closed = True


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql, encoding="utf-8")
    return directory


@pytest.fixture
def migrations_dir(tmp_path: Path) -> Path:
    # Written out of order on purpose; "0010" must sort after "0002".
    return _write(
        tmp_path / "migrations",
        {
            "0010_third.sql": "CREATE TABLE third (id int);",
            "0001_first.sql": "CREATE TABLE first (id int);",
            "0002_second.sql": "CREATE TABLE second (id int);\nCREATE INDEX ON second (id);",
            "README.txt": "not a migration",
        },
    )


def test_fake_connection_matches_protocol() -> None:
    conn: Connection = FakeConnection(FakeDb())  # checked by mypy
    assert conn is not None


def test_load_migrations_sorts_by_name_and_ignores_other_files(migrations_dir: Path) -> None:
    migrations = load_migrations(migrations_dir)
    assert [m.name for m in migrations] == ["0001_first.sql", "0002_second.sql", "0010_third.sql"]
    assert [m.version for m in migrations] == ["0001_first", "0002_second", "0010_third"]


def test_applies_pending_files_in_order(
    migrations_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = FakeDb()
    done = apply_migrations(FakeConnection(db), load_migrations(migrations_dir))

    assert done == ["0001_first", "0002_second", "0010_third"]
    assert db.committed_versions == done
    file_sql = [q for q in db.executed if q.startswith("CREATE TABLE ") and "schema_" not in q]
    assert file_sql == [
        "CREATE TABLE first (id int);",
        "CREATE TABLE second (id int);\nCREATE INDEX ON second (id);",
        "CREATE TABLE third (id int);",
    ]
    assert db.executed[0].startswith("SELECT pg_advisory_lock(")
    assert "CREATE TABLE IF NOT EXISTS schema_migrations" in db.executed[1]
    # Bootstrap commits, then one commit per file: each file is its own transaction.
    assert db.commits == 2 + 3
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "applied 0001_first.sql",
        "applied 0002_second.sql",
        "applied 0010_third.sql",
        "3 migration(s) applied, 0 already up to date",
    ]


def test_skips_already_applied_files(migrations_dir: Path) -> None:
    db = FakeDb(applied=["0001_first", "0010_third"])
    logged: list[str] = []
    done = apply_migrations(FakeConnection(db), load_migrations(migrations_dir), logged.append)

    assert done == ["0002_second"]
    assert not any("first (id int)" in q or "third (id int)" in q for q in db.executed)
    assert logged == ["applied 0002_second.sql", "1 migration(s) applied, 2 already up to date"]


def test_second_run_is_a_no_op(migrations_dir: Path) -> None:
    db = FakeDb()
    migrations = load_migrations(migrations_dir)
    apply_migrations(FakeConnection(db), migrations, lambda _: None)
    assert apply_migrations(FakeConnection(db), migrations, lambda _: None) == []
    assert db.committed_versions == ["0001_first", "0002_second", "0010_third"]


def test_failing_file_is_rolled_back_and_reported(migrations_dir: Path) -> None:
    db = FakeDb(fail_on="CREATE INDEX")
    logged: list[str] = []

    with pytest.raises(MigrationError, match=r"^0002_second\.sql failed: syntax error") as info:
        apply_migrations(FakeConnection(db), load_migrations(migrations_dir), logged.append)

    assert "\n" not in str(info.value)
    assert db.rollbacks == 1
    # The file before stays applied; the failing one and everything after are not.
    assert db.committed_versions == ["0001_first"]
    assert not any("third" in q for q in db.executed)
    assert logged == ["applied 0001_first.sql"]


def test_run_applies_and_exits_0(migrations_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = FakeDb()
    seen: list[DbSettings] = []

    def connector(settings: DbSettings) -> Connection:
        seen.append(settings)
        return FakeConnection(db)

    assert migrate.run(ENV, connector, migrations_dir) == 0
    assert seen == [DbSettings("db.internal", 5432, "app", "app_user", "s3cret")]
    assert db.closed
    assert "applied 0001_first.sql" in capsys.readouterr().out


def test_run_reports_failing_file_in_one_line(
    migrations_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = FakeDb(fail_on="third")

    assert migrate.run(ENV, lambda _: FakeConnection(db), migrations_dir) == 1
    err = capsys.readouterr().err
    assert err == 'migrate: error: 0010_third.sql failed: syntax error at or near "third"\n'
    assert db.closed


def test_run_applies_the_shipped_migrations() -> None:
    db = FakeDb()
    assert migrate.run(ENV, lambda _: FakeConnection(db), DEFAULT_MIGRATIONS_DIR) == 0
    assert db.committed_versions == ["0001_create_example", "0002_index_example_created_at"]
    # Re-runnable by hand too: every shipped statement is idempotent.
    for migration in load_migrations(DEFAULT_MIGRATIONS_DIR):
        statements = [s.strip() for s in migration.sql.split(";") if s.strip()]
        sql = [line for s in statements for line in s.splitlines() if not line.startswith("--")]
        assert all("IF NOT EXISTS" in line for line in sql if line.startswith("CREATE"))


@pytest.mark.parametrize("missing", ["DB_HOST", "DB_NAME", "DB_USERNAME", "DB_PASSWORD"])
def test_missing_env_var_exits_1_with_one_line(
    missing: str,
    migrations_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(missing)
    monkeypatch.setenv("MIGRATIONS_DIR", str(migrations_dir))

    def connector(_: DbSettings) -> Connection:
        raise AssertionError("must not connect without settings")

    assert migrate.run(connector=connector) == 1
    captured = capsys.readouterr()
    assert captured.err == f"migrate: error: missing environment variable(s): {missing}\n"
    assert "Traceback" not in captured.err


def test_settings_port_default_and_override() -> None:
    assert settings_from_env(ENV).port == 5432
    assert settings_from_env({**ENV, "DB_PORT": "6543"}).port == 6543
    with pytest.raises(MigrateError, match="DB_PORT must be an integer"):
        settings_from_env({**ENV, "DB_PORT": "x"})


def test_settings_repr_hides_password() -> None:
    assert "s3cret" not in repr(settings_from_env(ENV))


def test_missing_migrations_dir_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert migrate.run(ENV, lambda _: FakeConnection(FakeDb()), tmp_path / "nope") == 1
    assert capsys.readouterr().err.startswith("migrate: error: migrations directory not found")


class _FakePsycopgError(Exception):
    pass


def _fake_psycopg(connect: Any) -> ModuleType:
    module = ModuleType("psycopg")
    module.Error = _FakePsycopgError  # type: ignore[attr-defined]
    module.connect = connect  # type: ignore[attr-defined]
    return module


def test_connect_requires_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, object]] = []

    def fake_connect(**kwargs: object) -> FakeConnection:
        calls.append(kwargs)
        return FakeConnection(FakeDb())

    monkeypatch.setitem(sys.modules, "psycopg", _fake_psycopg(fake_connect))
    migrate.connect(settings_from_env({**ENV, "DB_PORT": "5433"}))

    assert len(calls) == 1
    assert calls[0]["sslmode"] == "require"
    assert calls[0]["host"] == "db.internal"
    assert calls[0]["port"] == 5433
    assert calls[0]["dbname"] == "app"
    assert calls[0]["user"] == "app_user"
    assert calls[0]["password"] == "s3cret"


def test_connection_failure_exits_1_with_one_line(
    migrations_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_connect(**_: object) -> FakeConnection:
        raise _FakePsycopgError("connection timeout expired\nMultiple connection attempts failed")

    monkeypatch.setitem(sys.modules, "psycopg", _fake_psycopg(fake_connect))

    assert migrate.run(ENV, migrations_dir=migrations_dir) == 1
    err = capsys.readouterr().err
    assert err == (
        "migrate: error: cannot connect to db.internal:5432/app: connection timeout expired\n"
    )


def test_psycopg_not_installed_is_a_one_line_error(
    migrations_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # makes `import psycopg` raise ImportError

    assert migrate.run(ENV, migrations_dir=migrations_dir) == 1
    assert capsys.readouterr().err == (
        "migrate: error: psycopg is not installed (pip install -r requirements.txt)\n"
    )
