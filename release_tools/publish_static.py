"""Publish a build's static files (e.g. Next.js ``/_next/static``) to the static bucket.

Usage: python -m release_tools.publish_static --bucket B --prefix _next/static --directory DIR
                                        [--phase upload|retire|all] [--keep-since TIME]
                                        [--region R] [--max-age 31536000]

``--phase upload``: every regular file under ``--directory`` (recursively; symbolic links
are skipped and named) is uploaded to ``s3://B/<prefix>/<path relative to DIR>`` with a plain
PutObject: ``Cache-Control: public, max-age=<max-age>, immutable`` and a Content-Type from the
file name (``application/javascript`` for .js, ``text/css`` for .css, else the standard
table, else ``application/octet-stream``). Nothing is ever deleted, and nothing is marked.

``--phase retire``: nothing is uploaded; each object under ``<prefix>/`` that is not one of
DIR's files (the release's, as the upload phase named them) is marked superseded, so that
the bucket's lifecycle rule on the tag ``static-generation=superseded`` expires it some days
later, while tasks and open browser tabs of the previous release still find it. S3 ages an
object from its creation, so marking is a copy of the object onto itself: CopyObject with the
tag, the metadata ``superseded-at`` (an ISO 8601 UTC timestamp) and the Content-Type,
Cache-Control (and any Content-Encoding, -Disposition, -Language and user metadata) read by
HeadObject. It is done once: an object whose metadata already has ``superseded-at`` is left
alone, so its expiry is not pushed back. With ``--keep-since TIME`` (ISO 8601; the time the
release's upload phase began), objects last modified at or after TIME are left alone too:
they were uploaded since, by a later release that is not live yet.

``--phase all`` (the default): upload, then (only once every file is uploaded) retire.

A pipeline uploads before the release (so its tasks find their files from the first
request) and retires only once the release is live: marking earlier would doom the live
release's files if the new one then failed. A superseded file that a later release uploads
again is replaced by an untagged object, live again. The prefix must belong to one service:
each retire supersedes everything under it that DIR does not hold.

IAM (nothing else is called): upload, s3:PutObject on ``arn:aws:s3:::B/<prefix>/*``; retire,
s3:ListBucket on the bucket with a StringLike s3:prefix condition ``<prefix>/*``, and
s3:GetObject, s3:PutObject and s3:PutObjectTagging on ``arn:aws:s3:::B/<prefix>/*``; all,
both.

Exit codes: 0 published; 1 an upload or a marking failed (files already uploaded stay; if an
upload failed nothing was marked; a rerun is safe); 2 bad arguments (a missing or empty
directory, a prefix that is empty, starts or ends with '/', contains '//' or '..', a negative
max-age, a --keep-since that is no ISO 8601 time or is given to the upload phase), nothing
was called.
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG_ERROR = 2

#: What a call does: put the files, mark the others superseded, or both (in that order).
PHASES = ("upload", "retire", "all")

#: The tag the bucket's lifecycle rule filters on to expire superseded static files.
SUPERSEDED_TAG_KEY = "static-generation"
SUPERSEDED_TAG_VALUE = "superseded"
#: User metadata (``x-amz-meta-superseded-at``) set when an object is marked superseded.
SUPERSEDED_AT_METADATA_KEY = "superseded-at"
#: Cache-Control of every uploaded file; ``.format(max_age=seconds)``.
CACHE_CONTROL_TEMPLATE = "public, max-age={max_age}, immutable"
DEFAULT_MAX_AGE = 31_536_000  # one year
DEFAULT_CONTENT_TYPE = "application/octet-stream"

_SUPERSEDED_TAGGING = f"{SUPERSEDED_TAG_KEY}={SUPERSEDED_TAG_VALUE}"
# Built-in table only (MimeTypes() reads no /etc/mime.types): the same types on every host.
_MIME_TYPES = mimetypes.MimeTypes()
# Fixed whatever the Python version's table says (3.12 changed .js to text/javascript).
_CONTENT_TYPES = {
    ".js": "application/javascript",
    ".mjs": "application/javascript",
    ".css": "text/css",
    ".map": "application/json",
    ".json": "application/json",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".webp": "image/webp",
}
# HeadObject fields kept by the self-copy (MetadataDirective=REPLACE would drop them).
_KEPT_HEADERS = (
    "ContentType",
    "CacheControl",
    "ContentEncoding",
    "ContentDisposition",
    "ContentLanguage",
)


@dataclass(frozen=True)
class Marked:
    """What marking did: objects newly marked, those already superseded (skipped), and those
    modified since `--keep-since` (skipped)."""

    marked: int
    already_superseded: int
    kept_as_newer: int = 0


def _say(message: str) -> None:
    print(message, flush=True)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m release_tools.publish_static",
        description="Upload static files to S3 and mark the previous release's as superseded.",
    )
    parser.add_argument("--bucket", required=True, help="static bucket name")
    parser.add_argument(
        "--prefix", required=True, help="key prefix without leading or trailing '/'"
    )
    parser.add_argument(
        "--directory",
        required=True,
        help="the release's files: what to upload, and what retiring leaves live",
    )
    parser.add_argument(
        "--phase",
        choices=PHASES,
        default="all",
        help="upload the files, retire (mark superseded) the others, or both (default all)",
    )
    parser.add_argument(
        "--keep-since",
        metavar="TIME",
        help="retire/all: leave alone objects last modified at or after this ISO 8601 time "
        "(uploads of a later release, made since this release's upload began)",
    )
    parser.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)")
    parser.add_argument(
        "--max-age",
        type=int,
        default=DEFAULT_MAX_AGE,
        help=f"Cache-Control max-age in seconds (default {DEFAULT_MAX_AGE})",
    )
    return parser.parse_args(argv)


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if it names a key folder safely; raise ValueError otherwise."""
    if not prefix.strip():
        raise ValueError("--prefix is empty: it would cover the whole bucket")
    if prefix.startswith("/") or prefix.endswith("/"):
        raise ValueError(f"--prefix must not start or end with '/': {prefix!r}")
    if ".." in prefix or "//" in prefix:
        raise ValueError(f"--prefix must not contain '..' or '//': {prefix!r}")
    return prefix


def content_type(name: str) -> str:
    """The Content-Type for a file called ``name``."""
    suffix = Path(name).suffix.lower()
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    guessed, encoding = _MIME_TYPES.guess_type(name, strict=False)
    if encoding is not None:  # app.js.gz is gzip data, not JavaScript (no Content-Encoding)
        return "application/gzip" if encoding == "gzip" else DEFAULT_CONTENT_TYPE
    return guessed or DEFAULT_CONTENT_TYPE


def _walk(directory: Path, skipped: list[Path]) -> Iterator[Path]:
    for path in sorted(directory.iterdir()):
        if path.is_symlink():
            skipped.append(path)
        elif path.is_dir():
            yield from _walk(path, skipped)
        elif path.is_file():
            yield path


def files_to_publish(directory: Path) -> tuple[dict[str, Path], list[Path]]:
    """({relative POSIX path: file}, symlinks skipped); raise ValueError if there is no file."""
    if not directory.is_dir():
        raise ValueError(f"--directory {str(directory)!r} is not a directory")
    skipped: list[Path] = []
    files = {path.relative_to(directory).as_posix(): path for path in _walk(directory, skipped)}
    if not files:
        raise ValueError(f"--directory {str(directory)!r} has no files to publish")
    return files, skipped


def upload_files(
    s3: Any, bucket: str, prefix: str, files: Mapping[str, Path], max_age: int
) -> Iterator[str]:
    """PutObject every file under ``prefix/``; yield each key once written."""
    cache_control = CACHE_CONTROL_TEMPLATE.format(max_age=max_age)
    for relative, path in files.items():
        key = f"{prefix}/{relative}"
        with path.open("rb") as body:
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                CacheControl=cache_control,
                ContentType=content_type(path.name),
            )
        yield key


def parse_time(value: str) -> datetime:
    """An ISO 8601 time (``Z`` or an offset; none means UTC); raise ValueError otherwise."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"--keep-since is not an ISO 8601 time: {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def list_objects(s3: Any, bucket: str, prefix: str) -> list[tuple[str, datetime | None]]:
    """(key, last modified) of every object under ``prefix/`` (paginated)."""
    objects: list[tuple[str, datetime | None]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        objects.extend(
            (str(item["Key"]), item.get("LastModified")) for item in page.get("Contents") or []
        )
    return objects


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    """Every key under ``prefix/`` (paginated)."""
    return [key for key, _ in list_objects(s3, bucket, prefix)]


def mark_superseded(s3: Any, bucket: str, key: str, timestamp: str) -> bool:
    """Copy ``key`` onto itself, tagged superseded; False if it already was (nothing done)."""
    head = s3.head_object(Bucket=bucket, Key=key)
    metadata: dict[str, str] = dict(head.get("Metadata") or {})
    if SUPERSEDED_AT_METADATA_KEY in metadata:
        return False
    kept = {name: head[name] for name in _KEPT_HEADERS if head.get(name)}
    s3.copy_object(
        Bucket=bucket,
        Key=key,
        CopySource={"Bucket": bucket, "Key": key},
        MetadataDirective="REPLACE",
        Metadata={**metadata, SUPERSEDED_AT_METADATA_KEY: timestamp},
        TaggingDirective="REPLACE",
        Tagging=_SUPERSEDED_TAGGING,
        **kept,
    )
    return True


def supersede_others(
    s3: Any,
    bucket: str,
    prefix: str,
    released: set[str],
    timestamp: str,
    *,
    keep_since: datetime | None = None,
) -> Marked:
    """Mark every object under ``prefix/`` not in ``released`` as superseded (once), except
    those last modified at or after ``keep_since``."""
    marked = already = newer = 0
    for key, last_modified in list_objects(s3, bucket, prefix):
        if key in released:
            continue
        # An object of unknown age may be a later release's: kept too.
        if keep_since is not None and (last_modified is None or last_modified >= keep_since):
            newer += 1
        elif mark_superseded(s3, bucket, key, timestamp):
            marked += 1
        else:
            already += 1
    return Marked(marked, already, newer)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def main(
    argv: list[str] | None = None,
    *,
    s3: Any = None,
    now: Callable[[], datetime] = _utc_now,
) -> int:
    """Upload the files and/or mark the others superseded (``--phase``); return the exit
    code."""
    args = _parse_args(argv)
    try:
        prefix = validate_prefix(args.prefix)
        if args.max_age < 0:
            raise ValueError("--max-age must be >= 0")
        keep_since = None
        if args.keep_since is not None:
            if args.phase == "upload":
                raise ValueError("--keep-since is for the retire (or all) phase")
            keep_since = parse_time(args.keep_since)
        files, skipped = files_to_publish(Path(args.directory))
    except ValueError as exc:
        print(f"publish not started: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR

    # Imported here: the CDK app imports this module's constants and has no boto3.
    import boto3  # type: ignore[import-untyped]  # noqa: PLC0415
    from botocore.exceptions import (  # type: ignore[import-untyped]  # noqa: PLC0415
        BotoCoreError,
        ClientError,
    )

    if s3 is None:
        try:
            s3 = boto3.client("s3", region_name=args.region)
        except BotoCoreError as exc:
            print(f"publish not started: {exc}", file=sys.stderr)
            return EXIT_CONFIG_ERROR

    for path in skipped:
        _say(f"skipped symbolic link {path} (not a regular file)")
    destination = f"s3://{args.bucket}/{prefix}/"
    released = {f"{prefix}/{relative}" for relative in files}
    if args.phase != "retire":
        uploaded: set[str] = set()
        try:
            uploaded.update(upload_files(s3, args.bucket, prefix, files, args.max_age))
        except (ClientError, BotoCoreError, OSError) as exc:
            print(
                f"publish to {destination} failed after {len(uploaded)} of {len(files)} files "
                f"uploaded, nothing marked superseded: {exc}",
                file=sys.stderr,
            )
            return EXIT_FAILED
        _say(f"{len(uploaded)} files uploaded to {destination}")
        if args.phase == "upload":
            return EXIT_OK

    timestamp = now().astimezone(UTC).isoformat(timespec="seconds")
    try:
        marked = supersede_others(
            s3, args.bucket, prefix, released, timestamp, keep_since=keep_since
        )
    except (ClientError, BotoCoreError) as exc:
        done = "" if args.phase == "retire" else f"all {len(files)} files were uploaded; "
        print(
            f"publish to {destination} failed marking superseded objects ({done}a rerun "
            f"finishes the marking): {exc}",
            file=sys.stderr,
        )
        return EXIT_FAILED

    kept = (
        f", {marked.kept_as_newer} modified since {keep_since.isoformat()} kept"
        if keep_since is not None
        else ""
    )
    _say(
        f"{marked.marked} objects marked superseded under {destination} "
        f"({marked.already_superseded} already superseded{kept})"
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
