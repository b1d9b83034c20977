"""The CDK-free AWS facts config and constructs share."""

from __future__ import annotations

import pytest

from l3_constructs.limits import cloudfront_path_matches


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/_next/static/*", "/_next/static/chunks/app.js", True),
        ("/_next/static/*", "/_next/static/", True),
        ("/_next/static/*", "/_next/data/x.json", False),
        ("/errors/50?.html", "/errors/503.html", True),
        ("/errors/50?.html", "/errors/5033.html", False),
        # Brackets are literal in CloudFront patterns (fnmatch would read a character class).
        ("/static/[ab].css", "/static/a.css", False),
        ("/static/[ab].css", "/static/[ab].css", True),
        ("/a.b", "/aXb", False),
    ],
)
def test_cloudfront_path_matches(pattern: str, path: str, matches: bool) -> None:
    assert cloudfront_path_matches(pattern, path) is matches
