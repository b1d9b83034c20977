"""The ``worker`` command: long-poll the service's SQS queue and handle each message.

The platform runs this as an ECS service whose queue is ``$QUEUE_URL``; the queue's redrive
policy moves a message to the dead-letter queue after ``max_receive_count`` receives.

* A handled message is deleted right away (one ``DeleteMessage`` per message), so a task that
  stops mid-batch does not repeat the work it has finished.
* A message that cannot be handled (not JSON, not an object, unknown ``kind``, invalid fields,
  or the work failed) is logged and **not** deleted: it becomes visible again after the
  queue's visibility timeout, and the redrive policy dead-letters it after the last receive.
* SQS delivers at least once (a failed delete, or a stop between the work and the delete,
  means the message comes again), so handlers must be idempotent.
* SIGTERM (ECS's stop) or SIGINT sets a :class:`StopFlag`: the worker receives nothing more,
  finishes the messages already in hand and exits 0. A long poll in flight completes first
  (at most ``WaitTimeSeconds``, 20 s), well inside the task's ``stop_timeout_seconds``; the
  queue's visibility timeout is at least that, so anything unfinished at a SIGKILL simply
  becomes visible again.

boto3 is imported only by :func:`make_client`; the logic works on any object matching
:class:`SqsClient`, so ``serve`` and most tests never import it.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any, Protocol

from sample_api import SERVICE_NAME

QUEUE_VARIABLE = "QUEUE_URL"
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
WAIT_TIME_SECONDS = 20  # long polling: an idle worker makes three requests a minute
MAX_MESSAGES = 10  # the most one ReceiveMessage returns
# Waits between failed ReceiveMessage calls; one more failure after the last ends the worker
# (exit 1) and ECS starts a new task.
RETRY_DELAYS_SECONDS: tuple[float, ...] = (1, 2, 4, 8, 16)
EXIT_FAILED = 1
EXIT_CONFIG = 2

Log = Callable[[str], None]


class SqsClient(Protocol):
    """The part of a boto3 SQS client that the worker uses."""

    def receive_message(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def delete_message(self, **kwargs: Any) -> object: ...


class WorkerError(Exception):
    """An expected failure, reported as one line without a traceback."""


class ConfigError(WorkerError):
    """Missing or invalid environment."""


class BadMessageError(Exception):
    """A message this worker cannot handle; it is left on the queue for the dead-letter queue."""


@dataclass(frozen=True)
class WorkerSettings:
    queue_url: str
    region: str


class StopFlag:
    """Set from a signal handler: only a plain attribute write, safe at any point.

    (A ``threading.Event`` is not: ``Event.set()`` in a handler that interrupts the main
    thread inside ``Event.wait()`` deadlocks on the event's own lock.)
    """

    def __init__(self) -> None:
        self.reason: str | None = None

    def set(self, reason: str = "stop") -> None:
        if self.reason is None:
            self.reason = reason

    def is_set(self) -> bool:
        return self.reason is not None

    def wait(self, seconds: float, sleep: Callable[[float], None] = time.sleep) -> bool:
        """Sleep up to ``seconds``, returning early (True) once the flag is set."""
        deadline = time.monotonic() + seconds
        while not self.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sleep(min(remaining, 0.1))
        return self.is_set()


def settings_from_env(environ: Mapping[str, str]) -> WorkerSettings:
    """Read QUEUE_URL and the region (AWS_REGION, else AWS_DEFAULT_REGION; ECS sets both)."""
    queue_url = environ.get(QUEUE_VARIABLE, "").strip()
    if not queue_url:
        raise ConfigError(f"{QUEUE_VARIABLE} is not set (the URL of the queue to work on)")
    region = next((environ[v].strip() for v in REGION_VARIABLES if environ.get(v, "").strip()), "")
    if not region:
        raise ConfigError(f"{' or '.join(REGION_VARIABLES)} is not set")
    return WorkerSettings(queue_url=queue_url, region=region)


def make_client(region: str) -> SqsClient:
    """A boto3 SQS client for ``region`` (credentials from the task role)."""
    try:
        boto3 = importlib.import_module("boto3")
    except ImportError:
        raise WorkerError("boto3 is not installed (pip install -r requirements.txt)") from None
    client: SqsClient = boto3.client("sqs", region_name=region)
    return client


# --- The sample's work ------------------------------------------------------------------

# One line per address in the log: no whitespace or control characters, one "@".
_ADDRESS_RE = re.compile(r"[^@\s]+@[^@\s]+")


def _welcome_email(payload: Mapping[str, object], log: Log) -> None:
    to = payload.get("to")
    if not isinstance(to, str) or not _ADDRESS_RE.fullmatch(to) or not to.isprintable():
        raise BadMessageError("welcome-email needs 'to', an e-mail address")
    log(f"sent welcome-email to {to}")  # the sample's stand-in for sending it


HANDLERS: dict[str, Callable[[Mapping[str, object], Log], None]] = {
    "welcome-email": _welcome_email,
}


def handle(body: str, log: Log = print) -> None:
    """Do the work for one message body ``{"kind": ..., ...}``; BadMessageError if unusable."""
    try:
        payload = json.loads(body)
    except ValueError:
        raise BadMessageError("body is not JSON") from None
    if not isinstance(payload, dict):
        raise BadMessageError("body is not a JSON object")
    kind = payload.get("kind")
    handler = HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        raise BadMessageError(f"unknown kind {kind!r}"[:200])
    handler(payload, log)


# --- The loop -----------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def process_messages(
    client: SqsClient, queue_url: str, messages: Sequence[Mapping[str, Any]], log: Log = print
) -> int:
    """Handle and delete each message; leave the ones that fail. Return how many were deleted."""
    deleted = 0
    for message in messages:
        message_id = message.get("MessageId", "?")
        receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
        try:
            handle(str(message.get("Body", "")), log)
        except BadMessageError as exc:
            log(
                f"rejected message {message_id} (receive {receives}): {exc}; not deleted, "
                "the dead-letter queue gets it after the last receive"
            )
            continue
        except Exception as exc:
            log(
                f"failed message {message_id} (receive {receives}): {_first_line(exc)}; "
                "not deleted, it will be received again"
            )
            continue
        try:
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception as exc:
            log(
                f"could not delete message {message_id}: {_first_line(exc)}; "
                "it will be received again"
            )
            continue
        deleted += 1
    return deleted


def run_loop(
    client: SqsClient,
    queue_url: str,
    stop: StopFlag,
    log: Log = print,
    retry_delays: Sequence[float] = RETRY_DELAYS_SECONDS,
) -> int:
    """Receive and process batches until ``stop`` is set (0), or ReceiveMessage keeps
    failing (1)."""
    failures = 0
    while not stop.is_set():
        try:
            response = client.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=MAX_MESSAGES,
                WaitTimeSeconds=WAIT_TIME_SECONDS,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
        except Exception as exc:
            if failures >= len(retry_delays):
                print(
                    f"worker: error: cannot receive from the queue: {_first_line(exc)}",
                    file=sys.stderr,
                    flush=True,
                )
                return EXIT_FAILED
            delay = retry_delays[failures]
            failures += 1
            log(f"receive failed ({_first_line(exc)}); retrying in {delay:g} s")
            stop.wait(delay)
            continue
        failures = 0
        # Messages in hand are finished even if a stop arrived during the long poll.
        process_messages(client, queue_url, response.get("Messages", []), log)
    return 0


@contextmanager
def stop_on_signals(stop: StopFlag) -> Iterator[None]:
    """Set ``stop`` on SIGTERM/SIGINT while inside the block; restore the handlers after."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        # No I/O here: print() is not safe to re-enter from a signal handler.
        stop.set(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _log(line: str) -> None:
    print(line, flush=True)


def run(
    environ: Mapping[str, str] | None = None,
    client_factory: Callable[[str], SqsClient] = make_client,
    stop: StopFlag | None = None,
    log: Log = _log,
) -> int:
    """The ``worker`` command: 0 after a SIGTERM/SIGINT, 2 if misconfigured, 1 on failure."""
    env = os.environ if environ is None else environ
    try:
        settings = settings_from_env(env)
    except ConfigError as exc:
        print(f"worker: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        client = client_factory(settings.region)
    except WorkerError as exc:
        print(f"worker: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    stop = StopFlag() if stop is None else stop
    with stop_on_signals(stop):
        log(f"{SERVICE_NAME} worker receiving from {settings.queue_url}")
        code = run_loop(client, settings.queue_url, stop, log)
    if code == 0:
        log(f"stopped ({stop.reason or 'stop'})")
    return code
