"""The ``cleanup`` command, against a fake ``example`` table (no database, no psycopg)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from sample_api import cleanup
from sample_api.cleanup import DELETE_BATCH_SQL, delete_older_than, retention_from_env
from sample_api.migrate import DEFAULT_MIGRATIONS_DIR, Connection, DbSettings

NOW = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
ENV = {
    "DB_HOST": "db.internal",
    "DB_NAME": "app",
    "DB_USERNAME": "app_user",
    "DB_PASSWORD": "s3cret",
}


def _days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


class FakeTable:
    """The committed rows of ``example`` ({id: created_at}) and what the fake was asked."""

    def __init__(self, ages_in_days: Sequence[float] = (), fail: str | None = None) -> None:
        self.rows = {n: _days_ago(age) for n, age in enumerate(ages_in_days, start=1)}
        self.fail = fail
        self.fail_after_batches = 0
        self.batches: list[tuple[object, ...]] = []
        self.commits = 0
        self.rollbacks = 0
        self.closed = False


class FakeCursor:
    def __init__(self, conn: FakeConnection) -> None:
        self._conn = conn
        self._rows: list[tuple[int]] = []

    def execute(self, query: str, params: Sequence[object] | None = None) -> object:
        table = self._conn.table
        assert query == DELETE_BATCH_SQL
        assert params is not None
        cutoff, limit = params
        assert isinstance(cutoff, datetime)
        assert isinstance(limit, int)
        if table.fail is not None and len(table.batches) >= table.fail_after_batches:
            raise RuntimeError(table.fail)
        table.batches.append(tuple(params))
        pending = self._conn.pending
        doomed = [n for n, created in table.rows.items() if created < cutoff and n not in pending][
            :limit
        ]
        pending.update(doomed)
        self._rows = [(len(doomed),)]
        return self

    def fetchall(self) -> Sequence[Sequence[object]]:
        return self._rows

    def close(self) -> None:
        pass


class FakeConnection:
    """Deletes become visible on commit and vanish on rollback."""

    def __init__(self, table: FakeTable) -> None:
        self.table = table
        self.pending: set[int] = set()

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def commit(self) -> None:
        for n in self.pending:
            del self.table.rows[n]
        self.pending.clear()
        self.table.commits += 1

    def rollback(self) -> None:
        self.pending.clear()
        self.table.rollbacks += 1

    def close(self) -> None:
        self.table.closed = True


def _run(table: FakeTable, env: dict[str, str] | None = None, batch_size: int = 1000) -> int:
    return cleanup.run(
        ENV if env is None else env, lambda _: FakeConnection(table), lambda: NOW, batch_size
    )


def test_fake_connection_matches_protocol() -> None:
    conn: Connection = FakeConnection(FakeTable())  # checked by mypy
    assert conn is not None


def test_deletes_only_rows_older_than_the_retention_from_env(
    capsys: pytest.CaptureFixture[str],
) -> None:
    table = FakeTable([0, 1, 6.9, 7.1, 40, 400])

    assert _run(table, {**ENV, "CLEANUP_RETENTION_DAYS": "7"}) == 0

    assert sorted(table.rows) == [1, 2, 3]  # 0, 1 and 6.9 days old stay
    assert table.batches == [(NOW - timedelta(days=7), 1000)]
    assert table.closed
    assert capsys.readouterr().out == (
        "deleted 3 row(s) from example created before 2026-02-22T03:00:00+00:00 "
        "(retention 7 day(s))\n"
    )


def test_default_retention_is_30_days(capsys: pytest.CaptureFixture[str]) -> None:
    table = FakeTable([29, 31])
    assert _run(table) == 0
    assert list(table.rows) == [1]
    assert "deleted 1 row(s)" in capsys.readouterr().out
    assert table.batches[0][0] == NOW - timedelta(days=30)


def test_second_run_deletes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    table = FakeTable([1, 31, 32, 90])
    assert _run(table) == 0
    assert _run(table) == 0
    assert list(table.rows) == [1]
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("deleted 3 row(s)")
    assert out[1].startswith("deleted 0 row(s)")


def test_deletes_in_batches_each_committed() -> None:
    table = FakeTable([40] * 5 + [1])
    deleted = delete_older_than(FakeConnection(table), _days_ago(30), batch_size=2)
    assert deleted == 5
    assert len(table.batches) == 3  # 2 + 2 + 1 (short batch: done)
    assert table.commits == 3
    assert list(table.rows) == [6]


def test_exact_multiple_of_the_batch_size_ends_with_an_empty_batch() -> None:
    table = FakeTable([40] * 4)
    assert delete_older_than(FakeConnection(table), _days_ago(30), batch_size=2) == 4
    assert len(table.batches) == 3
    assert table.rows == {}


def test_nothing_to_delete() -> None:
    table = FakeTable([1, 2])
    assert delete_older_than(FakeConnection(table), _days_ago(30)) == 0
    assert len(table.rows) == 2


def test_database_error_exits_1_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    table = FakeTable([40, 41, 42], fail='relation "example" does not exist\nLINE 1: ...')

    assert _run(table) == 1

    captured = capsys.readouterr()
    assert captured.err == (
        'cleanup: error: deleting from example failed: relation "example" does not exist\n'
    )
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert table.rollbacks == 1
    assert table.closed
    assert len(table.rows) == 3


def test_error_in_a_later_batch_keeps_the_committed_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    table = FakeTable([40] * 5, fail="canceling statement due to lock timeout")
    table.fail_after_batches = 1

    assert _run(table, batch_size=2) == 1
    assert len(table.rows) == 3  # the first batch stays deleted; the next run does the rest
    assert capsys.readouterr().err.endswith("lock timeout\n")
    table.fail = None
    assert _run(table, batch_size=2) == 0
    assert table.rows == {}


def test_connection_failure_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class FakePsycopgError(Exception):
        pass

    def fake_connect(**_: object) -> FakeConnection:
        raise FakePsycopgError("connection timeout expired\nMultiple connection attempts failed")

    module = ModuleType("psycopg")
    module.Error = FakePsycopgError  # type: ignore[attr-defined]
    module.connect = fake_connect  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "psycopg", module)

    assert cleanup.run(ENV) == 1
    assert capsys.readouterr().err == (
        "cleanup: error: cannot connect to db.internal:5432/app: connection timeout expired\n"
    )


def test_connects_like_migrate_with_its_own_application_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_connect(**kwargs: Any) -> FakeConnection:
        calls.append(kwargs)
        return FakeConnection(FakeTable())

    module = ModuleType("psycopg")
    module.Error = RuntimeError  # type: ignore[attr-defined]
    module.connect = fake_connect  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "psycopg", module)

    assert cleanup.run({**ENV, "DB_PORT": "5433"}) == 0
    assert len(calls) == 1
    assert calls[0]["sslmode"] == "require"
    assert calls[0]["application_name"] == "sample-api-cleanup"
    assert (calls[0]["host"], calls[0]["port"], calls[0]["dbname"]) == ("db.internal", 5433, "app")
    assert (calls[0]["user"], calls[0]["password"]) == ("app_user", "s3cret")


def test_psycopg_not_installed_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    assert cleanup.run(ENV) == 1
    assert capsys.readouterr().err.startswith("cleanup: error: psycopg is not installed")


@pytest.mark.parametrize(("raw", "days"), [("1", 1), (" 90 ", 90), ("", 30), ("36500", 36500)])
def test_retention_parsing(raw: str, days: int) -> None:
    assert retention_from_env({"CLEANUP_RETENTION_DAYS": raw}) == days
    assert retention_from_env({}) == 30


@pytest.mark.parametrize("raw", ["0", "-3", "1.5", "thirty", "36501"])
def test_bad_retention_exits_2_without_connecting(
    raw: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def connector(_: DbSettings) -> Connection:
        raise AssertionError("must not connect when misconfigured")

    assert cleanup.run({**ENV, "CLEANUP_RETENTION_DAYS": raw}, connector) == 2
    err = capsys.readouterr().err
    assert err == (
        "cleanup: error: CLEANUP_RETENTION_DAYS must be a whole number of days from 1 to "
        f"36500, got {raw!r}\n"
    )


def test_missing_db_env_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DB_PASSWORD")

    def connector(_: DbSettings) -> Connection:
        raise AssertionError("must not connect without settings")

    assert cleanup.run(connector=connector) == 2
    assert capsys.readouterr().err == (
        "cleanup: error: missing environment variable(s): DB_PASSWORD\n"
    )


def test_the_table_and_column_come_from_the_shipped_migrations() -> None:
    """The statement's table and column exist, and created_at is indexed for it."""
    create = (DEFAULT_MIGRATIONS_DIR / "0001_create_example.sql").read_text()
    assert "CREATE TABLE IF NOT EXISTS example" in create
    assert "created_at timestamptz NOT NULL DEFAULT now()" in create
    index = (DEFAULT_MIGRATIONS_DIR / "0002_index_example_created_at.sql").read_text()
    assert "CREATE INDEX IF NOT EXISTS example_created_at_idx ON example (created_at)" in index
    assert "DELETE FROM example WHERE id IN (" in DELETE_BATCH_SQL
    assert "created_at < %s LIMIT %s" in DELETE_BATCH_SQL
