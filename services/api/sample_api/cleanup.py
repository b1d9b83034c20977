"""The ``cleanup`` command: delete ``example`` rows older than the retention period.

The platform runs this as a nightly scheduled ECS task (same image, command overridden). It
deletes the rows of ``example`` (``migrations/0001_create_example.sql``) whose ``created_at``
is more than ``CLEANUP_RETENTION_DAYS`` (default 30) days before the start of the run, and
prints how many it deleted.

* Idempotent: a second run (a retry, an overlapping run) finds nothing older than its cutoff
  left and deletes 0 rows.
* Batched: at most :data:`BATCH_SIZE` rows per statement, each batch its own transaction, so
  a large backlog never holds one long transaction or lock; a failure keeps the batches
  already committed, and the next run carries on. ``created_at`` is indexed
  (``migrations/0002_index_example_created_at.sql``).
* The cutoff is fixed when the run starts, so rows that age past it during the run wait for
  the next one, and the loop always ends.

It connects like ``migrate`` (``DB_*`` variables, TLS required) and, like it, needs psycopg
only in :func:`sample_api.migrate.connect`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from sample_api.migrate import (
    ConfigError,
    Connection,
    DbSettings,
    MigrateError,
    _first_line,
    connect,
    settings_from_env,
)

TABLE = "example"
RETENTION_VARIABLE = "CLEANUP_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 36_500
BATCH_SIZE = 5000
EXIT_FAILED = 1
EXIT_CONFIG = 2

# One batch: delete up to (2nd parameter) rows created before (1st); returns one row, the count.
DELETE_BATCH_SQL = (
    "WITH deleted AS ("
    "DELETE FROM example WHERE id IN ("
    "SELECT id FROM example WHERE created_at < %s LIMIT %s"
    ") RETURNING 1"
    ") SELECT count(*) FROM deleted"
)


class CleanupError(MigrateError):
    """A statement failed (its batch was rolled back)."""


def retention_from_env(environ: Mapping[str, str]) -> int:
    """CLEANUP_RETENTION_DAYS: whole days, at least 1 (default 30)."""
    raw = environ.get(RETENTION_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_RETENTION_DAYS
    try:
        days = int(raw)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise ConfigError(
            f"{RETENTION_VARIABLE} must be a whole number of days from 1 to "
            f"{MAX_RETENTION_DAYS}, got {raw!r}"
        )
    return days


def delete_older_than(conn: Connection, cutoff: datetime, batch_size: int = BATCH_SIZE) -> int:
    """Delete the rows created before ``cutoff``, ``batch_size`` per transaction; return the
    number deleted. Raises :class:`CleanupError` after rolling back the failing batch."""
    total = 0
    while True:
        try:
            cursor = conn.cursor()
            cursor.execute(DELETE_BATCH_SQL, (cutoff, batch_size))
            rows = cursor.fetchall()
            cursor.close()
            conn.commit()
        except Exception as exc:
            with contextlib.suppress(Exception):  # keep the original error if this fails too
                conn.rollback()
            raise CleanupError(f"deleting from {TABLE} failed: {_first_line(exc)}") from exc
        count = rows[0][0] if rows and rows[0] else None
        if not isinstance(count, int):
            raise CleanupError(f"deleting from {TABLE}: unexpected result {rows!r}"[:200])
        total += count
        if count < batch_size:
            return total


def _connect(settings: DbSettings) -> Connection:
    return connect(settings, application_name="sample-api-cleanup")


def run(
    environ: Mapping[str, str] | None = None,
    connector: Callable[[DbSettings], Connection] = _connect,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    batch_size: int = BATCH_SIZE,
) -> int:
    """The ``cleanup`` command: 0 on success, 2 if misconfigured (nothing attempted), 1 if
    the database failed; errors are one line on stderr."""
    env = os.environ if environ is None else environ
    try:
        days = retention_from_env(env)
        settings = settings_from_env(env)
    except ConfigError as exc:
        print(f"cleanup: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    cutoff = now() - timedelta(days=days)
    try:
        conn = connector(settings)
        try:
            deleted = delete_older_than(conn, cutoff, batch_size)
        finally:
            with contextlib.suppress(Exception):
                conn.close()
    except MigrateError as exc:
        print(f"cleanup: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"deleted {deleted} row(s) from {TABLE} created before "
        f"{cutoff.isoformat(timespec='seconds')} (retention {days} day(s))",
        flush=True,
    )
    return 0
