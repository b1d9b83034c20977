"""The ``worker`` command: fake SQS clients for the loop, moto's SQS for the queue semantics.

AWS is never called: moto intercepts every request, and the fakes make none.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from moto import mock_aws
from sample_api import worker
from sample_api.worker import (
    BadMessageError,
    SqsClient,
    StopFlag,
    handle,
    make_client,
    process_messages,
    run_loop,
    stop_on_signals,
)

REGION = "ap-northeast-1"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/123456789012/worker"
ENV = {"QUEUE_URL": QUEUE_URL, "AWS_REGION": REGION}


def _body(kind: str = "welcome-email", to: object = "ann@example.com") -> str:
    return json.dumps({"kind": kind, "to": to})


def _message(n: int, body: str) -> dict[str, Any]:
    return {
        "MessageId": f"m{n}",
        "ReceiptHandle": f"rh{n}",
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": "1"},
    }


class FakeSqs:
    """Returns the queued batches one ReceiveMessage at a time; when they run out, sets
    ``stop`` (as a SIGTERM would) and returns an empty batch. Records every call."""

    def __init__(self, stop: StopFlag, batches: list[list[dict[str, Any]] | Exception]) -> None:
        self.stop = stop
        self.batches = batches
        self.receives: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.fail_delete: set[str] = set()

    def receive_message(self, **kwargs: Any) -> Mapping[str, Any]:
        self.receives.append(kwargs)
        if not self.batches:
            self.stop.set("SIGTERM")
            return {}
        batch = self.batches.pop(0)
        if isinstance(batch, Exception):
            raise batch
        return {"Messages": batch}

    def delete_message(self, **kwargs: Any) -> object:
        assert kwargs["QueueUrl"] == QUEUE_URL
        if kwargs["ReceiptHandle"] in self.fail_delete:
            raise RuntimeError("AccessDenied\nmore detail")
        self.deleted.append(kwargs["ReceiptHandle"])
        return {}


def test_fake_matches_protocol() -> None:
    client: SqsClient = FakeSqs(StopFlag(), [])  # checked by mypy
    assert client is not None


# --- The work -----------------------------------------------------------------------------


def test_welcome_email_logs_one_line() -> None:
    logged: list[str] = []
    handle(_body(to="ann@example.com"), logged.append)
    assert logged == ["sent welcome-email to ann@example.com"]


def test_extra_fields_are_ignored() -> None:
    logged: list[str] = []
    handle(
        json.dumps({"kind": "welcome-email", "to": "b@example.org", "lang": "ja"}), logged.append
    )
    assert logged == ["sent welcome-email to b@example.org"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "body is not JSON"),
        ("", "body is not JSON"),
        ("[1, 2]", "body is not a JSON object"),
        ('"welcome-email"', "body is not a JSON object"),
        (json.dumps({"to": "ann@example.com"}), "unknown kind None"),
        (_body(kind="password-reset"), "unknown kind 'password-reset'"),
        (json.dumps({"kind": 7, "to": "ann@example.com"}), "unknown kind 7"),
        (json.dumps({"kind": "welcome-email"}), "needs 'to'"),
        (_body(to=""), "needs 'to'"),
        (_body(to=["ann@example.com"]), "needs 'to'"),
        (_body(to="no-at-sign"), "needs 'to'"),
        (_body(to="ann@example.com\nforged log line"), "needs 'to'"),
        (_body(to="ann@exa\x00mple.com"), "needs 'to'"),
    ],
)
def test_unusable_messages_are_rejected(body: str, reason: str) -> None:
    logged: list[str] = []
    with pytest.raises(BadMessageError, match=reason.replace("(", r"\(")):
        handle(body, logged.append)
    assert logged == []


# --- Processing a batch and the loop (fake client) ----------------------------------------


def test_handled_messages_are_deleted_bad_ones_left() -> None:
    stop = StopFlag()
    client = FakeSqs(stop, [])
    logged: list[str] = []
    messages = [
        _message(1, _body(to="ann@example.com")),
        _message(2, "not json"),
        _message(3, _body(kind="unknown")),
        _message(4, _body(to="bob@example.com")),
    ]

    assert process_messages(client, QUEUE_URL, messages, logged.append) == 2

    assert client.deleted == ["rh1", "rh4"]
    assert logged[0] == "sent welcome-email to ann@example.com"
    assert logged[1].startswith("rejected message m2 (receive 1): body is not JSON; not deleted")
    assert logged[2].startswith("rejected message m3 (receive 1): unknown kind 'unknown';")
    assert logged[3] == "sent welcome-email to bob@example.com"
    assert all("\n" not in line for line in logged)


def test_a_failing_handler_leaves_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(_payload: Mapping[str, object], _log: Any) -> None:
        raise ConnectionError("smtp down\ntraceback-ish detail")

    monkeypatch.setitem(worker.HANDLERS, "welcome-email", boom)
    client = FakeSqs(StopFlag(), [])
    logged: list[str] = []

    assert process_messages(client, QUEUE_URL, [_message(1, _body())], logged.append) == 0
    assert client.deleted == []
    assert logged == [
        "failed message m1 (receive 1): smtp down; not deleted, it will be received again"
    ]


def test_a_failed_delete_is_logged_and_the_batch_goes_on() -> None:
    client = FakeSqs(StopFlag(), [])
    client.fail_delete.add("rh1")
    logged: list[str] = []
    messages = [_message(1, _body(to="a@example.com")), _message(2, _body(to="b@example.com"))]

    assert process_messages(client, QUEUE_URL, messages, logged.append) == 1
    assert client.deleted == ["rh2"]
    assert "could not delete message m1: AccessDenied; it will be received again" in logged


def test_loop_long_polls_and_stops_when_the_flag_is_set() -> None:
    stop = StopFlag()
    client = FakeSqs(stop, [[_message(1, _body())], [], [_message(2, _body(to="c@example.com"))]])
    logged: list[str] = []

    assert run_loop(client, QUEUE_URL, stop, logged.append) == 0

    assert client.receives[0] == {
        "QueueUrl": QUEUE_URL,
        "MaxNumberOfMessages": 10,
        "WaitTimeSeconds": 20,
        "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
    }
    assert len(client.receives) == 4  # three batches, then the receive that "got" SIGTERM
    assert client.deleted == ["rh1", "rh2"]
    assert stop.reason == "SIGTERM"


def test_loop_finishes_the_messages_in_hand_after_a_stop() -> None:
    stop = StopFlag()

    class StopDuringPoll(FakeSqs):
        def receive_message(self, **kwargs: Any) -> Mapping[str, Any]:
            response = super().receive_message(**kwargs)
            self.stop.set("SIGTERM")  # arrives while the long poll is in flight
            return response

    messages = [_message(n, _body(to=f"u{n}@example.com")) for n in range(1, 4)]
    client = StopDuringPoll(stop, [messages])

    assert run_loop(client, QUEUE_URL, stop, lambda _: None) == 0
    assert len(client.receives) == 1  # nothing more is received after the stop
    assert client.deleted == ["rh1", "rh2", "rh3"]


def test_loop_does_not_receive_once_stopped() -> None:
    stop = StopFlag()
    stop.set("SIGTERM")
    client = FakeSqs(stop, [[_message(1, _body())]])
    assert run_loop(client, QUEUE_URL, stop, lambda _: None) == 0
    assert client.receives == []


def test_receive_errors_are_retried_then_the_worker_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stop = StopFlag()
    error = RuntimeError("An error occurred (AccessDenied)\ndetails")
    client = FakeSqs(stop, [error, error, error])
    logged: list[str] = []

    assert run_loop(client, QUEUE_URL, stop, logged.append, retry_delays=(0, 0)) == 1

    assert len(client.receives) == 3
    assert logged == [
        "receive failed (An error occurred (AccessDenied)); retrying in 0 s",
        "receive failed (An error occurred (AccessDenied)); retrying in 0 s",
    ]
    assert capsys.readouterr().err == (
        "worker: error: cannot receive from the queue: An error occurred (AccessDenied)\n"
    )


def test_a_successful_receive_resets_the_retries() -> None:
    stop = StopFlag()
    error = RuntimeError("throttled")
    client = FakeSqs(stop, [error, [], error, [_message(1, _body())], error])

    assert run_loop(client, QUEUE_URL, stop, lambda _: None, retry_delays=(0,)) == 0
    assert client.deleted == ["rh1"]


def test_stop_flag_wait_returns_early_once_set() -> None:
    stop = StopFlag()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            stop.set("SIGTERM")

    assert stop.wait(60, sleep) is True
    assert len(sleeps) == 3
    assert all(s <= 0.1 for s in sleeps)
    assert StopFlag().wait(0) is False


def test_stop_flag_keeps_the_first_reason() -> None:
    stop = StopFlag()
    stop.set("SIGTERM")
    stop.set("SIGINT")
    assert stop.reason == "SIGTERM"


# --- Signals ------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_handler_sets_the_stop_flag(sig: signal.Signals) -> None:
    before = signal.getsignal(sig)
    stop = StopFlag()
    with stop_on_signals(stop):
        assert not stop.is_set()
        signal.raise_signal(sig)
        assert stop.is_set()
        assert stop.reason == sig.name
    assert signal.getsignal(sig) is before


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_run_exits_0_on_sigterm_after_finishing_the_batch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SIGTERM arrives during the long poll; the received batch is still handled."""
    before = signal.getsignal(signal.SIGTERM)
    stop = StopFlag()
    batch = [_message(1, _body(to="ann@example.com")), _message(2, "{oops")]

    class SigtermDuringPoll(FakeSqs):
        def receive_message(self, **kwargs: Any) -> Mapping[str, Any]:
            signal.raise_signal(signal.SIGTERM)  # the handler run() installed catches it
            return super().receive_message(**kwargs)

    client = SigtermDuringPoll(stop, [batch])
    regions: list[str] = []

    def factory(region: str) -> SqsClient:
        regions.append(region)
        return client

    assert worker.run(ENV, factory, stop) == 0

    assert regions == [REGION]
    assert len(client.receives) == 1
    assert client.deleted == ["rh1"]
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"sample-api worker receiving from {QUEUE_URL}"
    assert "sent welcome-email to ann@example.com" in out
    assert out[-1] == "stopped (SIGTERM)"
    assert signal.getsignal(signal.SIGTERM) is before


# --- Configuration ------------------------------------------------------------------------


def _no_client(_region: str) -> SqsClient:
    raise AssertionError("must not create a client when misconfigured")


@pytest.mark.parametrize("queue_url", [None, "", "  "])
def test_missing_queue_url_exits_2_with_one_line(
    queue_url: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"AWS_REGION": REGION} if queue_url is None else {**ENV, "QUEUE_URL": queue_url}
    assert worker.run(env, _no_client) == 2
    captured = capsys.readouterr()
    assert captured.err == "worker: error: QUEUE_URL is not set (the URL of the queue to work on)\n"
    assert captured.out == ""


def test_missing_region_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert worker.run({"QUEUE_URL": QUEUE_URL}, _no_client) == 2
    assert capsys.readouterr().err == "worker: error: AWS_REGION or AWS_DEFAULT_REGION is not set\n"


def test_region_falls_back_to_aws_default_region() -> None:
    env = {"QUEUE_URL": QUEUE_URL, "AWS_DEFAULT_REGION": "eu-west-1"}
    assert worker.settings_from_env(env).region == "eu-west-1"
    both = {**env, "AWS_REGION": "us-east-2"}
    assert worker.settings_from_env(both).region == "us-east-2"


def test_missing_queue_url_from_the_process_env(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("QUEUE_URL", raising=False)
    monkeypatch.setenv("AWS_REGION", REGION)
    assert worker.run(client_factory=_no_client) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_boto3_not_installed_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # makes `import boto3` raise ImportError
    assert worker.run(ENV) == 1
    assert capsys.readouterr().err == (
        "worker: error: boto3 is not installed (pip install -r requirements.txt)\n"
    )


# --- Against moto's SQS -------------------------------------------------------------------


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """moto's SQS with dummy credentials and no shared config: nothing reaches AWS."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def _queues(sqs: Any) -> tuple[str, str]:
    """A queue whose redrive policy dead-letters after one receive, and its DLQ."""
    dlq_url: str = sqs.create_queue(QueueName="worker-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url: str = sqs.create_queue(
        QueueName="worker",
        Attributes={
            "VisibilityTimeout": "0",  # a message left by the worker is visible again at once
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}),
        },
    )["QueueUrl"]
    return queue_url, dlq_url


class StopAfterFirstReceive:
    """The real (moto) client; sets ``stop`` after the first ReceiveMessage, so the loop never
    long-polls an empty queue (moto would really wait the 20 s)."""

    def __init__(self, client: Any, stop: StopFlag) -> None:
        self.client = client
        self.stop = stop

    def receive_message(self, **kwargs: Any) -> Mapping[str, Any]:
        response: Mapping[str, Any] = self.client.receive_message(**kwargs)
        self.stop.set("SIGTERM")
        return response

    def delete_message(self, **kwargs: Any) -> object:
        return self.client.delete_message(**kwargs)


def test_moto_handled_messages_are_deleted_bad_ones_go_to_the_dlq(
    sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    queue_url, dlq_url = _queues(sqs)
    bodies = [_body(to="ann@example.com"), "not json", _body(kind="nope"), _body(to="b@x.io")]
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    stop = StopFlag()

    code = worker.run(
        {"QUEUE_URL": queue_url, "AWS_REGION": REGION},
        lambda region: StopAfterFirstReceive(make_client(region), stop),
        stop,
    )

    assert code == 0
    out = capsys.readouterr().out
    assert "sent welcome-email to ann@example.com" in out
    assert "sent welcome-email to b@x.io" in out
    assert out.count("rejected message") == 2
    # The two bad ones were not deleted; the next receive (after maxReceiveCount=1) moves
    # them to the dead-letter queue, and nothing else is left.
    assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages", []) == []
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    assert sorted(m["Body"] for m in dead["Messages"]) == sorted(bodies[1:3])


def test_moto_make_client_uses_the_region(sqs: Any) -> None:
    client: Any = make_client("eu-central-1")
    assert client.meta.region_name == "eu-central-1"
    assert client.meta.service_model.service_name == "sqs"
