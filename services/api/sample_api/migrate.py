"""The ``migrate`` command: apply ``migrations/*.sql`` in name order, each exactly once.

The platform runs this as a one-shot ECS task before each service update; the server never
runs it at start. Each file runs in its own transaction together with its row in
``schema_migrations``, so a file is either fully applied and recorded or not at all. (So a
file cannot hold statements that refuse to run in a transaction, e.g.
``CREATE INDEX CONCURRENTLY``.)

The logic (:func:`apply_migrations`) works on any object matching :class:`Connection`;
psycopg is imported only by :func:`connect` so that ``serve`` and the tests do not need it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

DEFAULT_MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
DEFAULT_DB_PORT = 5432
CONNECT_TIMEOUT_SECONDS = 10
EXIT_FAILED = 1

# Serialises concurrent runs (e.g. two deployments racing); released when the session ends.
LOCK_SQL = "SELECT pg_advisory_lock(hashtext('sample_api.schema_migrations'))"
CREATE_TABLE_SQL = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
)
SELECT_APPLIED_SQL = "SELECT version FROM schema_migrations"
RECORD_SQL = "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, now())"


class Cursor(Protocol):
    """The part of a DB-API / psycopg cursor that migrate uses."""

    def execute(self, query: str, params: Sequence[object] | None = None) -> object: ...

    def fetchall(self) -> Sequence[Sequence[object]]: ...

    def close(self) -> None: ...


class Connection(Protocol):
    """The part of a DB-API / psycopg connection that migrate uses (not autocommit)."""

    def cursor(self) -> Cursor: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...


class MigrateError(Exception):
    """An expected failure, reported as one line without a traceback."""


class ConfigError(MigrateError):
    """Missing or invalid environment/configuration."""


class MigrationError(MigrateError):
    """A migration file failed to apply (its transaction was rolled back)."""


@dataclass(frozen=True)
class DbSettings:
    host: str
    port: int
    dbname: str
    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Migration:
    version: str  # file name without ".sql", the key in schema_migrations
    name: str
    sql: str


def settings_from_env(environ: Mapping[str, str]) -> DbSettings:
    """Read DB_HOST, DB_PORT (default 5432), DB_NAME, DB_USERNAME, DB_PASSWORD."""
    required = ("DB_HOST", "DB_NAME", "DB_USERNAME", "DB_PASSWORD")
    missing = [name for name in required if not environ.get(name)]
    if missing:
        raise ConfigError(f"missing environment variable(s): {', '.join(missing)}")
    raw_port = environ.get("DB_PORT") or str(DEFAULT_DB_PORT)
    try:
        port = int(raw_port)
    except ValueError:
        raise ConfigError(f"DB_PORT must be an integer, got {raw_port!r}") from None
    return DbSettings(
        host=environ["DB_HOST"],
        port=port,
        dbname=environ["DB_NAME"],
        user=environ["DB_USERNAME"],
        password=environ["DB_PASSWORD"],
    )


def load_migrations(directory: Path) -> list[Migration]:
    """All ``*.sql`` files in ``directory``, sorted by file name."""
    if not directory.is_dir():
        raise ConfigError(f"migrations directory not found: {directory}")
    files = sorted((p for p in directory.glob("*.sql") if p.is_file()), key=lambda p: p.name)
    return [Migration(p.stem, p.name, p.read_text(encoding="utf-8")) for p in files]


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _execute(conn: Connection, query: str, params: Sequence[object] | None = None) -> Cursor:
    cursor = conn.cursor()
    cursor.execute(query, params)
    return cursor


def apply_migrations(
    conn: Connection, migrations: Sequence[Migration], log: Callable[[str], None] = print
) -> list[str]:
    """Apply the migrations not yet in ``schema_migrations``; return their versions.

    Raises :class:`MigrationError` on the first failing file, after rolling it back; the
    files before it stay applied.
    """
    try:
        _execute(conn, LOCK_SQL).close()
        _execute(conn, CREATE_TABLE_SQL).close()
        conn.commit()
        cursor = _execute(conn, SELECT_APPLIED_SQL)
        applied = {str(row[0]) for row in cursor.fetchall()}
        cursor.close()
        conn.commit()
    except Exception as exc:
        with contextlib.suppress(Exception):
            conn.rollback()
        raise MigrationError(f"cannot read schema_migrations: {_first_line(exc)}") from exc

    done: list[str] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        try:
            cursor = conn.cursor()
            if migration.sql.strip():
                cursor.execute(migration.sql)
            cursor.execute(RECORD_SQL, (migration.version,))
            cursor.close()
            conn.commit()
        except Exception as exc:
            with contextlib.suppress(Exception):  # keep the original error if this fails too
                conn.rollback()
            raise MigrationError(f"{migration.name} failed: {_first_line(exc)}") from exc
        log(f"applied {migration.name}")
        done.append(migration.version)
    log(f"{len(done)} migration(s) applied, {len(migrations) - len(done)} already up to date")
    return done


def connect(settings: DbSettings, application_name: str = "sample-api-migrate") -> Connection:
    """Open a psycopg connection with TLS required (the database refuses plain TCP).

    ``application_name`` is what ``pg_stat_activity`` shows for the session.
    """
    try:
        psycopg = importlib.import_module("psycopg")
    except ImportError:
        raise ConfigError("psycopg is not installed (pip install -r requirements.txt)") from None
    try:
        conn: Connection = psycopg.connect(
            host=settings.host,
            port=settings.port,
            dbname=settings.dbname,
            user=settings.user,
            password=settings.password,
            sslmode="require",
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=application_name,
        )
    except psycopg.Error as exc:
        raise MigrateError(
            f"cannot connect to {settings.host}:{settings.port}/{settings.dbname}: "
            f"{_first_line(exc)}"
        ) from None
    return conn


def run(
    environ: Mapping[str, str] | None = None,
    connector: Callable[[DbSettings], Connection] = connect,
    migrations_dir: Path | None = None,
) -> int:
    """The ``migrate`` command: 0 on success, 1 with a one-line error on stderr otherwise."""
    env = os.environ if environ is None else environ
    directory = migrations_dir or Path(env.get("MIGRATIONS_DIR") or DEFAULT_MIGRATIONS_DIR)
    try:
        migrations = load_migrations(directory)
        settings = settings_from_env(env)
        conn = connector(settings)
        try:
            apply_migrations(conn, migrations)
        finally:
            with contextlib.suppress(Exception):
                conn.close()
    except MigrateError as exc:
        print(f"migrate: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0
