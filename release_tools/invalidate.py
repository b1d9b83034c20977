"""Invalidate paths in a CloudFront distribution and wait until the invalidation completes.

Usage: python -m release_tools.invalidate --distribution-id ID --path / [--path /x ...]
                                    [--reference REF] [--region R] [--timeout 900] [--poll 20]

The caller reference (which makes a retried request idempotent) is ``--reference``, else the
``CODEBUILD_BUILD_ID`` environment variable, else a time-based value.

Exit codes: 0 invalidation completed; 1 it could not be created, or did not complete in
time (it carries on in CloudFront); 2 bad arguments (no paths, a path not starting with '/').
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG_ERROR = 2


class InvalidationError(Exception):
    """The invalidation could not be created or did not complete in time."""


def _say(message: str) -> None:
    print(message, flush=True)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m release_tools.invalidate",
        description="Create a CloudFront invalidation and wait for it to complete.",
    )
    parser.add_argument("--distribution-id", required=True, help="CloudFront distribution ID")
    parser.add_argument(
        "--path",
        action="append",
        default=[],
        dest="paths",
        metavar="PATH",
        help="path to invalidate, starting with '/' (repeatable; '*' allowed at the end)",
    )
    parser.add_argument("--reference", help="caller reference (default: CODEBUILD_BUILD_ID)")
    parser.add_argument("--region", help="AWS region for the client (CloudFront is global)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds (default 900)")
    parser.add_argument("--poll", type=float, default=20.0, help="seconds between checks")
    return parser.parse_args(argv)


def caller_reference(reference: str | None, environ: Mapping[str, str]) -> str:
    """``reference``, else ``CODEBUILD_BUILD_ID``, else a value unique to this moment."""
    if reference:
        return reference
    build_id = environ.get("CODEBUILD_BUILD_ID", "").strip()
    if build_id:
        return build_id
    return f"invalidate-{time.time_ns()}"


def validate_paths(paths: list[str]) -> list[str]:
    """The paths without duplicates (order kept); raise ValueError if none or one is invalid."""
    if not paths:
        raise ValueError("no paths to invalidate: pass at least one --path")
    bad = [path for path in paths if not path.startswith("/")]
    if bad:
        raise ValueError(f"paths must start with '/': {', '.join(map(repr, bad))}")
    return list(dict.fromkeys(paths))


def wait_for_invalidation(
    cloudfront: Any,
    distribution_id: str,
    invalidation_id: str,
    timeout_seconds: float,
    poll_seconds: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Poll until the invalidation's Status is Completed; raise InvalidationError on timeout."""
    deadline = clock() + timeout_seconds
    while True:
        response = cloudfront.get_invalidation(DistributionId=distribution_id, Id=invalidation_id)
        status = response["Invalidation"]["Status"]
        if status == "Completed":
            return
        remaining = deadline - clock()
        if remaining <= 0:
            seconds = int(timeout_seconds) if timeout_seconds.is_integer() else timeout_seconds
            raise InvalidationError(
                f"invalidation {invalidation_id} of distribution {distribution_id} is still "
                f"{status} after {seconds} s; it carries on in CloudFront"
            )
        _say(f"invalidation {invalidation_id}: {status}")
        sleep(min(poll_seconds, remaining))


def main(
    argv: list[str] | None = None,
    *,
    cloudfront: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    environ: Mapping[str, str] = os.environ,
) -> int:
    """Create the invalidation and wait for it; return the process exit code."""
    args = _parse_args(argv)
    try:
        paths = validate_paths(args.paths)
        if args.timeout < 0 or args.poll <= 0:
            raise ValueError("--timeout must be >= 0 and --poll > 0")
    except ValueError as exc:
        print(f"invalidation not started: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    reference = caller_reference(args.reference, environ)

    try:
        if cloudfront is None:
            cloudfront = boto3.client("cloudfront", region_name=args.region)
        response = cloudfront.create_invalidation(
            DistributionId=args.distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": len(paths), "Items": paths},
                "CallerReference": reference,
            },
        )
        invalidation_id: str = response["Invalidation"]["Id"]
        _say(
            f"invalidation {invalidation_id} of distribution {args.distribution_id} created "
            f"for {', '.join(paths)} (reference {reference})"
        )
        wait_for_invalidation(
            cloudfront,
            args.distribution_id,
            invalidation_id,
            args.timeout,
            args.poll,
            sleep=sleep,
            clock=clock,
        )
    except (InvalidationError, ClientError, BotoCoreError) as exc:
        print(f"invalidation failed: {exc}", file=sys.stderr)
        return EXIT_FAILED

    _say(f"invalidation {invalidation_id} completed")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
