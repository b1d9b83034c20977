"""Tests for ``python -m release_tools.publish_static`` against moto's in-memory S3."""

from __future__ import annotations

import functools
import inspect
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.stub import Stubber  # type: ignore[import-untyped]
from moto import mock_aws

from release_tools import publish_static
from tests.pipeline.conftest import REGION

BUCKET = "prod-static-123456789012"
PREFIX = "_next/static"
CACHE_CONTROL = "public, max-age=31536000, immutable"
RELEASED_AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
LATER = datetime(2024, 5, 8, 9, 30, 0, tzinfo=UTC)
SUPERSEDED_TAGS = [{"Key": "static-generation", "Value": "superseded"}]


@dataclass
class S3:
    """A moto S3 client with the bucket created, and every API call it makes (name, params)."""

    client: Any
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def put(self, key: str, body: bytes = b"old", **kwargs: Any) -> None:
        """Put an object without recording the call (the test's own set-up)."""
        calls = list(self.calls)
        self.client.put_object(Bucket=BUCKET, Key=key, Body=body, **kwargs)
        self.calls[:] = calls

    def head(self, key: str) -> dict[str, Any]:
        calls = list(self.calls)
        head: dict[str, Any] = self.client.head_object(Bucket=BUCKET, Key=key)
        self.calls[:] = calls
        return head

    def tags(self, key: str) -> list[dict[str, str]]:
        calls = list(self.calls)
        tags: list[dict[str, str]] = self.client.get_object_tagging(Bucket=BUCKET, Key=key)[
            "TagSet"
        ]
        self.calls[:] = calls
        return tags

    def body(self, key: str) -> bytes:
        calls = list(self.calls)
        body: bytes = self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        self.calls[:] = calls
        return body

    def keys(self) -> list[str]:
        calls = list(self.calls)
        listed = self.client.list_objects_v2(Bucket=BUCKET)
        self.calls[:] = calls
        return sorted(item["Key"] for item in listed.get("Contents", []))


@functools.cache
def _session() -> Any:
    """One boto3 session for every test: `mock_aws` gives `boto3.client` a new default session
    each time, which parses S3's model and the endpoint rules again (0.1-0.3 s a test)."""
    return boto3.session.Session()


@pytest.fixture
def s3() -> Iterator[S3]:
    with mock_aws():
        client = _session().client("s3", region_name=REGION)
        client.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        recorded = S3(client)

        def record(model: Any, params: dict[str, Any], **_: Any) -> None:
            recorded.calls.append((model.name, dict(params)))

        client.meta.events.register("before-parameter-build.s3.*", record)
        yield recorded


def build(root: Path, files: dict[str, bytes | str]) -> Path:
    """A build directory holding ``files`` ({relative path: content})."""
    root.mkdir(parents=True, exist_ok=True)
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def run(s3: S3, directory: Path, *args: str, now: datetime = RELEASED_AT) -> int:
    return publish_static.main(
        ["--bucket", BUCKET, "--prefix", PREFIX, "--directory", str(directory), *args],
        s3=s3.client,
        now=lambda: now,
    )


def test_uploads_files_with_cache_header_and_content_types(
    s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = build(
        tmp_path / "static",
        {
            "chunks/main-4f2a.js": "console.log(1)",
            "css/app-9c1d.css": "body{}",
            "media/font-77aa.woff2": b"\x00woff2",
            "media/logo-1b2c.png": b"\x89PNG",
            "media/icon-3e4f.svg": "<svg/>",
            "chunks/main-4f2a.js.map": "{}",
            "BUILD_ID": "abc123",
        },
    )

    assert run(s3, directory) == 0

    expected = {
        "BUILD_ID": "application/octet-stream",
        "chunks/main-4f2a.js": "application/javascript",
        "chunks/main-4f2a.js.map": "application/json",
        "css/app-9c1d.css": "text/css",
        "media/font-77aa.woff2": "font/woff2",
        "media/icon-3e4f.svg": "image/svg+xml",
        "media/logo-1b2c.png": "image/png",
    }
    assert s3.keys() == sorted(f"{PREFIX}/{relative}" for relative in expected)
    for relative, content_type in expected.items():
        head = s3.head(f"{PREFIX}/{relative}")
        assert head["CacheControl"] == CACHE_CONTROL
        assert head["ContentType"] == content_type
        assert head["Metadata"] == {}
        assert s3.tags(f"{PREFIX}/{relative}") == []
    assert s3.body(f"{PREFIX}/chunks/main-4f2a.js") == b"console.log(1)"
    assert s3.names() == ["PutObject"] * 7 + ["ListObjectsV2"]
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines() == [
        f"7 files uploaded to s3://{BUCKET}/{PREFIX}/",
        f"0 objects marked superseded under s3://{BUCKET}/{PREFIX}/ (0 already superseded)",
    ]


def test_nested_directories_keep_their_relative_paths(s3: S3, tmp_path: Path) -> None:
    directory = build(
        tmp_path / "static",
        {
            "abc123/_buildManifest.js": "m",
            "chunks/pages/blog/[slug]-5d6e.js": "p",
            "a/b/c/d/deep.txt": "deep",
        },
    )

    assert run(s3, directory) == 0

    assert s3.keys() == [
        f"{PREFIX}/a/b/c/d/deep.txt",
        f"{PREFIX}/abc123/_buildManifest.js",
        f"{PREFIX}/chunks/pages/blog/[slug]-5d6e.js",
    ]
    assert s3.head(f"{PREFIX}/a/b/c/d/deep.txt")["ContentType"] == "text/plain"
    assert s3.body(f"{PREFIX}/chunks/pages/blog/[slug]-5d6e.js") == b"p"


def test_max_age_sets_the_cache_header(s3: S3, tmp_path: Path) -> None:
    directory = build(tmp_path / "static", {"a.js": "a"})

    assert run(s3, directory, "--max-age", "600") == 0

    assert s3.head(f"{PREFIX}/a.js")["CacheControl"] == "public, max-age=600, immutable"


def test_previous_release_is_superseded_not_deleted(
    s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = f"{PREFIX}/chunks/main-0000.js"
    s3.put(
        old,
        b"old release",
        ContentType="application/javascript",
        CacheControl=CACHE_CONTROL,
        ContentEncoding="identity",
    )
    directory = build(tmp_path / "static", {"chunks/main-1111.js": "new release"})

    assert run(s3, directory) == 0

    assert s3.keys() == [old, f"{PREFIX}/chunks/main-1111.js"]
    head = s3.head(old)
    assert head["Metadata"] == {"superseded-at": "2024-05-01T12:00:00+00:00"}
    assert head["ContentType"] == "application/javascript"
    assert head["CacheControl"] == CACHE_CONTROL
    assert head["ContentEncoding"] == "identity"
    assert s3.tags(old) == SUPERSEDED_TAGS
    assert s3.body(old) == b"old release"
    assert s3.tags(f"{PREFIX}/chunks/main-1111.js") == []
    copies = [params for name, params in s3.calls if name == "CopyObject"]
    assert copies == [
        {
            "Bucket": BUCKET,
            "Key": old,
            "CopySource": {"Bucket": BUCKET, "Key": old},
            "MetadataDirective": "REPLACE",
            "Metadata": {"superseded-at": "2024-05-01T12:00:00+00:00"},
            "TaggingDirective": "REPLACE",
            "Tagging": "static-generation=superseded",
            "ContentType": "application/javascript",
            "CacheControl": CACHE_CONTROL,
            "ContentEncoding": "identity",
        }
    ]
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"1 objects marked superseded under s3://{BUCKET}/{PREFIX}/ (0 already superseded)"
    )


def test_already_superseded_objects_are_not_copied_again(
    s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(s3, build(tmp_path / "r1", {"one.js": "1"})) == 0
    assert run(s3, build(tmp_path / "r2", {"two.js": "2"})) == 0  # supersedes one.js
    capsys.readouterr()
    s3.calls.clear()

    assert run(s3, build(tmp_path / "r3", {"three.js": "3"}), now=LATER) == 0

    copied = [params["Key"] for name, params in s3.calls if name == "CopyObject"]
    assert copied == [f"{PREFIX}/two.js"]
    assert s3.head(f"{PREFIX}/one.js")["Metadata"] == {
        "superseded-at": "2024-05-01T12:00:00+00:00"  # the first marking's time is kept
    }
    assert s3.head(f"{PREFIX}/two.js")["Metadata"] == {"superseded-at": "2024-05-08T09:30:00+00:00"}
    assert s3.tags(f"{PREFIX}/one.js") == SUPERSEDED_TAGS
    assert s3.tags(f"{PREFIX}/two.js") == SUPERSEDED_TAGS
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"1 objects marked superseded under s3://{BUCKET}/{PREFIX}/ (1 already superseded)"
    )


def test_objects_outside_the_prefix_are_untouched(s3: S3, tmp_path: Path) -> None:
    outside = [
        "index.html",
        "_next/static-other/x.js",  # shares the characters of the prefix, not the folder
        "_next/image/y.png",
        f"other/{PREFIX}/z.js",
    ]
    for key in outside:
        s3.put(key, ContentType="text/plain")
    before = {key: s3.head(key)["LastModified"] for key in outside}

    assert run(s3, build(tmp_path / "static", {"a.js": "a"})) == 0

    for key in outside:
        head = s3.head(key)
        assert head["Metadata"] == {}
        assert head["LastModified"] == before[key]
        assert s3.tags(key) == []
    assert [params["Prefix"] for name, params in s3.calls if name == "ListObjectsV2"] == [
        f"{PREFIX}/"
    ]


def test_reuploading_a_superseded_file_makes_it_live(s3: S3, tmp_path: Path) -> None:
    assert run(s3, build(tmp_path / "r1", {"shared.js": "s", "old.js": "o"})) == 0
    assert run(s3, build(tmp_path / "r2", {"new.js": "n"})) == 0
    assert s3.tags(f"{PREFIX}/shared.js") == SUPERSEDED_TAGS

    assert run(s3, build(tmp_path / "r3", {"shared.js": "s", "new.js": "n"}), now=LATER) == 0

    live = s3.head(f"{PREFIX}/shared.js")
    assert live["Metadata"] == {}
    assert live["CacheControl"] == CACHE_CONTROL
    assert s3.tags(f"{PREFIX}/shared.js") == []
    assert s3.tags(f"{PREFIX}/new.js") == []
    assert s3.tags(f"{PREFIX}/old.js") == SUPERSEDED_TAGS
    assert s3.keys() == [f"{PREFIX}/new.js", f"{PREFIX}/old.js", f"{PREFIX}/shared.js"]


def test_listing_is_paginated() -> None:
    client = boto3.client("s3", region_name=REGION)
    with Stubber(client) as stub:  # 1,000 keys a page in S3; two small pages here
        for keys, request_token, next_token in [
            (["a.js", "b.js"], None, "token-1"),
            (["c.js"], "token-1", None),
        ]:
            stub.add_response(
                "list_objects_v2",
                {
                    "IsTruncated": next_token is not None,
                    "Contents": [{"Key": f"{PREFIX}/{key}"} for key in keys],
                    **({"NextContinuationToken": next_token} if next_token else {}),
                },
                {
                    "Bucket": BUCKET,
                    "Prefix": f"{PREFIX}/",
                    **({"ContinuationToken": request_token} if request_token else {}),
                },
            )

        keys = publish_static.list_keys(client, BUCKET, PREFIX)

        stub.assert_no_pending_responses()
    assert keys == [f"{PREFIX}/a.js", f"{PREFIX}/b.js", f"{PREFIX}/c.js"]


def test_calls_only_what_its_iam_policy_allows(s3: S3, tmp_path: Path) -> None:
    s3.put(f"{PREFIX}/old.js")
    s3.put(f"{PREFIX}/gone.js", Metadata={"superseded-at": "2024-01-01T00:00:00+00:00"})

    assert run(s3, build(tmp_path / "static", {"a.js": "a"})) == 0

    # PutObject -> s3:PutObject; ListObjectsV2 -> s3:ListBucket (s3:prefix "_next/static/");
    # HeadObject -> s3:GetObject; CopyObject -> s3:GetObject + s3:PutObject +
    # s3:PutObjectTagging: all on keys under the prefix.
    assert set(s3.names()) == {"PutObject", "ListObjectsV2", "HeadObject", "CopyObject"}
    for name, params in s3.calls:
        assert params["Bucket"] == BUCKET
        if name == "ListObjectsV2":
            assert params["Prefix"] == f"{PREFIX}/"
        else:
            assert params["Key"].startswith(f"{PREFIX}/")
        if name == "CopyObject":
            assert params["CopySource"] == {"Bucket": BUCKET, "Key": params["Key"]}


# --- Phases: upload before the release, retire once it is live ------------------------------


@pytest.fixture
def s3_clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The time moto's S3 stamps objects with (LastModified): ``clock[0]``, set by the test."""
    clock = [datetime(2024, 5, 1, 11, 0, 0)]  # naive UTC, as moto keeps it
    monkeypatch.setattr("moto.s3.models.utcnow", lambda: clock[0])
    return clock


def test_upload_phase_puts_the_files_and_marks_nothing(
    s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.put(f"{PREFIX}/live-0000.js")  # the live release's file
    directory = build(tmp_path / "static", {"main-1111.js": "new", "css/app-2222.css": "c"})

    assert run(s3, directory, "--phase", "upload") == 0

    assert s3.names() == ["PutObject", "PutObject"]  # no listing, no copy, no delete
    assert s3.keys() == [
        f"{PREFIX}/css/app-2222.css",
        f"{PREFIX}/live-0000.js",
        f"{PREFIX}/main-1111.js",
    ]
    assert s3.head(f"{PREFIX}/main-1111.js")["CacheControl"] == CACHE_CONTROL
    assert s3.head(f"{PREFIX}/live-0000.js")["Metadata"] == {}
    assert s3.tags(f"{PREFIX}/live-0000.js") == []
    assert capsys.readouterr().out.splitlines() == [f"2 files uploaded to s3://{BUCKET}/{PREFIX}/"]


def test_retire_phase_marks_what_the_release_lacks_and_uploads_nothing(
    s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    release: dict[str, bytes | str] = {"main-1111.js": "new", "css/app-2222.css": "c"}
    assert run(s3, build(tmp_path / "old", {"main-0000.js": "old"}), "--phase", "upload") == 0
    assert run(s3, build(tmp_path / "new", release), "--phase", "upload") == 0
    capsys.readouterr()
    s3.calls.clear()

    assert run(s3, build(tmp_path / "artifact", release), "--phase", "retire") == 0

    assert "PutObject" not in s3.names()
    assert [params["Key"] for name, params in s3.calls if name == "CopyObject"] == [
        f"{PREFIX}/main-0000.js"
    ]
    assert s3.tags(f"{PREFIX}/main-0000.js") == SUPERSEDED_TAGS
    assert s3.head(f"{PREFIX}/main-0000.js")["Metadata"] == {
        "superseded-at": "2024-05-01T12:00:00+00:00"
    }
    assert s3.tags(f"{PREFIX}/main-1111.js") == []
    assert s3.tags(f"{PREFIX}/css/app-2222.css") == []
    assert capsys.readouterr().out.splitlines() == [
        f"1 objects marked superseded under s3://{BUCKET}/{PREFIX}/ (0 already superseded)"
    ]


def test_upload_then_retire_ends_where_all_does(s3: S3, tmp_path: Path) -> None:
    s3.put(f"{PREFIX}/old.js", ContentType="application/javascript")
    directory = build(tmp_path / "static", {"new.js": "n"})

    assert run(s3, directory, "--phase", "upload") == 0
    assert run(s3, directory, "--phase", "retire") == 0
    keys = s3.keys()
    split = {key: (s3.head(key)["Metadata"], s3.tags(key)) for key in keys}

    assert run(s3, directory) == 0  # --phase all: nothing left to do
    assert s3.keys() == keys
    assert {key: (s3.head(key)["Metadata"], s3.tags(key)) for key in keys} == split
    assert split == {
        f"{PREFIX}/new.js": ({}, []),
        f"{PREFIX}/old.js": ({"superseded-at": "2024-05-01T12:00:00+00:00"}, SUPERSEDED_TAGS),
    }


def test_retire_leaves_a_later_releases_uploads_alone(
    s3: S3, s3_clock: list[datetime], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Release A waits for its Retire while B, started later, already uploaded its files: A
    must not mark B's files, which go live with B."""
    s3_clock[0] = datetime(2024, 5, 1, 10, 0, 0)
    assert run(s3, build(tmp_path / "r0", {"r0.js": "0"}), "--phase", "upload") == 0
    a_started = "2024-05-01T11:00:00Z"
    s3_clock[0] = datetime(2024, 5, 1, 11, 0, 5)
    assert run(s3, build(tmp_path / "a", {"a.js": "a"}), "--phase", "upload") == 0
    s3_clock[0] = datetime(2024, 5, 1, 11, 20, 0)
    assert run(s3, build(tmp_path / "b", {"b.js": "b"}), "--phase", "upload") == 0
    capsys.readouterr()

    retire = ("--phase", "retire", "--keep-since", a_started)
    assert run(s3, build(tmp_path / "a-artifact", {"a.js": "a"}), *retire) == 0

    assert s3.tags(f"{PREFIX}/r0.js") == SUPERSEDED_TAGS  # the release before A
    assert s3.tags(f"{PREFIX}/a.js") == []
    assert s3.tags(f"{PREFIX}/b.js") == []  # uploaded since A's upload began
    assert capsys.readouterr().out.splitlines() == [
        f"1 objects marked superseded under s3://{BUCKET}/{PREFIX}/ (0 already superseded, "
        "1 modified since 2024-05-01T11:00:00+00:00 kept)"
    ]


def test_keep_since_marks_what_was_modified_before_it(
    s3: S3, s3_clock: list[datetime], tmp_path: Path
) -> None:
    s3_clock[0] = datetime(2024, 5, 1, 10, 59, 59)
    s3.put(f"{PREFIX}/before.js")
    s3_clock[0] = datetime(2024, 5, 1, 11, 0, 0)
    s3.put(f"{PREFIX}/at.js")
    directory = build(tmp_path / "static", {"live.js": "l"})

    # An offset is honoured: 13:00+02:00 is 11:00 UTC.
    assert run(s3, directory, "--phase", "retire", "--keep-since", "2024-05-01T13:00:00+02:00") == 0

    assert s3.tags(f"{PREFIX}/before.js") == SUPERSEDED_TAGS
    assert s3.tags(f"{PREFIX}/at.js") == []


def test_retire_calls_only_what_its_iam_policy_allows(s3: S3, tmp_path: Path) -> None:
    s3.put(f"{PREFIX}/old.js")
    s3.put(f"{PREFIX}/gone.js", Metadata={"superseded-at": "2024-01-01T00:00:00+00:00"})
    s3.put(f"{PREFIX}/a.js")

    assert run(s3, build(tmp_path / "static", {"a.js": "a"}), "--phase", "retire") == 0

    # ListObjectsV2 -> s3:ListBucket (s3:prefix "_next/static/"); HeadObject -> s3:GetObject;
    # CopyObject -> s3:GetObject + s3:PutObject + s3:PutObjectTagging: under the prefix.
    assert set(s3.names()) == {"ListObjectsV2", "HeadObject", "CopyObject"}
    for name, params in s3.calls:
        assert params["Bucket"] == BUCKET
        if name == "ListObjectsV2":
            assert params["Prefix"] == f"{PREFIX}/"
        else:
            assert params["Key"].startswith(f"{PREFIX}/")


def test_retire_error_exits_1(s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = build(tmp_path / "static", {"a.js": "a"})

    code = publish_static.main(
        [
            *("--bucket", "no-such-bucket", "--prefix", PREFIX),
            *("--directory", str(directory), "--phase", "retire"),
        ],
        s3=s3.client,
        now=lambda: RELEASED_AT,
    )

    assert code == 1
    assert s3.names() == ["ListObjectsV2"]
    err = capsys.readouterr().err
    assert err.startswith(
        "publish to s3://no-such-bucket/_next/static/ failed marking superseded objects (a "
        "rerun finishes the marking): "
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--phase", "upload", "--keep-since", "2024-05-01T11:00:00Z"),
            "--keep-since is for the retire (or all) phase",
        ),
        (
            ("--phase", "retire", "--keep-since", "yesterday"),
            "--keep-since is not an ISO 8601 time: 'yesterday'",
        ),
    ],
)
def test_bad_keep_since_exits_2_without_calls(
    s3: S3,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    assert run(s3, build(tmp_path / "static", {"a.js": "a"}), *args) == 2
    assert s3.calls == []
    assert capsys.readouterr().err == f"publish not started: {message}\n"


def test_unknown_phase_is_refused(s3: S3, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        run(s3, build(tmp_path / "static", {"a.js": "a"}), "--phase", "delete")
    assert exited.value.code == 2
    assert s3.calls == []


def test_module_never_deletes() -> None:
    source = inspect.getsource(publish_static)
    assert "delete_object" not in source.lower()
    assert "deleteobject" not in source.lower()


def test_symlinks_are_skipped(s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the bucket")
    directory = build(tmp_path / "static", {"a.js": "a"})
    (directory / "link.txt").symlink_to(secret)

    assert run(s3, directory) == 0

    assert s3.keys() == [f"{PREFIX}/a.js"]
    assert f"skipped symbolic link {directory / 'link.txt'}" in capsys.readouterr().out


def test_upload_error_exits_1_and_marks_nothing(
    s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.put(f"{PREFIX}/old.js")
    directory = build(tmp_path / "static", {"a.js": "a"})

    code = publish_static.main(
        ["--bucket", "no-such-bucket", "--prefix", PREFIX, "--directory", str(directory)],
        s3=s3.client,
        now=lambda: RELEASED_AT,
    )

    assert code == 1
    assert s3.names() == ["PutObject"]
    assert s3.tags(f"{PREFIX}/old.js") == []
    err = capsys.readouterr().err
    assert err.startswith(
        "publish to s3://no-such-bucket/_next/static/ failed after 0 of 1 files uploaded, "
        "nothing marked superseded: "
    )
    assert "NoSuchBucket" in err


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("/_next/static", "--prefix must not start or end with '/': '/_next/static'"),
        ("_next/static/", "--prefix must not start or end with '/': '_next/static/'"),
        ("_next/../static", "--prefix must not contain '..' or '//': '_next/../static'"),
        ("..", "--prefix must not contain '..' or '//': '..'"),
        ("_next//static", "--prefix must not contain '..' or '//': '_next//static'"),
        ("", "--prefix is empty: it would cover the whole bucket"),
    ],
)
def test_bad_prefix_exits_2_without_calls(
    s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str], prefix: str, message: str
) -> None:
    directory = build(tmp_path / "static", {"a.js": "a"})

    code = publish_static.main(
        ["--bucket", BUCKET, "--prefix", prefix, "--directory", str(directory)], s3=s3.client
    )

    assert code == 2
    assert s3.calls == []
    assert capsys.readouterr().err == f"publish not started: {message}\n"


@pytest.mark.parametrize("layout", ["missing", "empty", "only-empty-folders", "a-file"])
def test_missing_or_empty_directory_exits_2_without_calls(
    s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str], layout: str
) -> None:
    s3.put(f"{PREFIX}/live.js")
    directory = tmp_path / "static"
    if layout == "empty":
        directory.mkdir()
    elif layout == "only-empty-folders":
        (directory / "chunks" / "pages").mkdir(parents=True)
    elif layout == "a-file":
        directory.write_text("not a directory")

    assert run(s3, directory) == 2

    assert s3.calls == []
    assert s3.tags(f"{PREFIX}/live.js") == []
    err = capsys.readouterr().err
    assert err.startswith(f"publish not started: --directory {str(directory)!r} ")
    assert err.count("\n") == 1


def test_negative_max_age_exits_2(
    s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(s3, build(tmp_path / "static", {"a.js": "a"}), "--max-age", "-1") == 2
    assert s3.calls == []
    assert capsys.readouterr().err == "publish not started: --max-age must be >= 0\n"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("main.js", "application/javascript"),
        ("MAIN.JS", "application/javascript"),
        ("app.css", "text/css"),
        ("data.json", "application/json"),
        ("font.woff", "font/woff"),
        ("photo.webp", "image/webp"),
        ("page.html", "text/html"),
        ("main.js.gz", "application/gzip"),
        ("archive.tar.bz2", "application/octet-stream"),
        ("BUILD_ID", "application/octet-stream"),
        ("weird.unknownext", "application/octet-stream"),
    ],
)
def test_content_type(name: str, expected: str) -> None:
    assert publish_static.content_type(name) == expected


def test_exported_constants() -> None:
    assert publish_static.SUPERSEDED_TAG_KEY == "static-generation"
    assert publish_static.SUPERSEDED_TAG_VALUE == "superseded"
    assert publish_static.CACHE_CONTROL_TEMPLATE.format(max_age=60) == (
        "public, max-age=60, immutable"
    )


def test_constants_import_without_boto3() -> None:
    """The CDK app (no boto3 in requirements.txt) imports the constants for its lifecycle rule."""
    code = (
        "import sys; from release_tools.publish_static import SUPERSEDED_TAG_KEY; "
        "print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "[]\n"
