"""AWS facts the constructs build on, in one place and free of CDK imports.

`config/models.py` validates against these same lists, so a value the config accepts is one
the constructs can build, and a bad one is reported early with its file and field, before
the CDK loads.
"""

from __future__ import annotations

import math
import re
from typing import Literal

Engine = Literal["postgres", "mysql"]

#: Major version -> the full version a new instance is created on: the newest minor this CDK
#: release names. A bare major is no creatable version (CloudFormation's schema rejects "8.0",
#: cfn-lint flags "16"). Auto minor version upgrade moves instances on from here, so raise
#: these only to versions at or above what deployed instances run: RDS refuses a downgrade.
ENGINE_FULL_VERSIONS: dict[Engine, dict[str, str]] = {
    "postgres": {"14": "14.22", "15": "15.17", "16": "16.13", "17": "17.9"},
    "mysql": {"8.0": "8.0.46", "8.4": "8.4.10"},
}

#: The same for the `aurora` kind (`engine` is the Aurora edition's compatibility): the
#: newest Aurora PostgreSQL minor of each major, and Aurora MySQL 3 (MySQL 8.0-compatible;
#: this CDK release names no 8.4-compatible Aurora MySQL). Every one of them can scale
#: Serverless v2 to 0 ACUs (Aurora PostgreSQL 13.15+, 14.12+, 15.7+, 16.3+; Aurora MySQL
#: 3.08+).
AURORA_FULL_VERSIONS: dict[Engine, dict[str, str]] = {
    "postgres": {"14": "14.22", "15": "15.17", "16": "16.13", "17": "17.9"},
    "mysql": {"8.0": "8.0.mysql_aurora.3.12.0"},
}

DatabaseKind = Literal["instance", "aurora"]

#: Major versions RDS Proxy takes, per kind and engine (AWS "Supported Regions and DB
#: engines for Amazon RDS Proxy": RDS for PostgreSQL 11+, RDS for MySQL 5.7 / 8.0 / 8.4,
#: Aurora PostgreSQL 11.9+, Aurora MySQL 2.07+ and 3). A version added to the lists above
#: before the proxy supports it stays out of here, and config refuses `proxy` with it.
PROXY_ENGINE_VERSIONS: dict[tuple[DatabaseKind, Engine], tuple[str, ...]] = {
    ("instance", "postgres"): ("14", "15", "16", "17"),
    ("instance", "mysql"): ("8.0", "8.4"),
    ("aurora", "postgres"): ("14", "15", "16", "17"),
    ("aurora", "mysql"): ("8.0",),
}

#: `instance_type` of an Aurora Serverless v2 writer and readers.
SERVERLESS = "serverless"
#: Memory of one Aurora capacity unit (ACU), GiB.
GIB_PER_ACU = 2
#: Serverless v2 capacity bounds (ACUs, in steps of 0.5): 0 only with auto-pause.
MIN_ACU, MAX_ACU = 0.0, 256.0
#: Seconds an instance at 0 ACUs may stay idle before it pauses (Aurora's bounds).
AUTO_PAUSE_SECONDS = (300, 86_400)

#: Instance families Aurora runs provisioned instances on (any size of these), and the
#: burstable ones it takes in two sizes only.
AURORA_INSTANCE_FAMILIES = ("r5", "r6g", "r6i", "r7g", "r7i", "r8g", "x2g")
AURORA_BURSTABLE_CLASSES = ("t3.medium", "t3.large", "t4g.medium", "t4g.large")


def is_aurora_instance_class(instance_class: str) -> bool:
    """Whether Aurora runs a provisioned instance of `instance_class` (without `db.`)."""
    family = instance_class.split(".", 1)[0]
    return instance_class in AURORA_BURSTABLE_CLASSES or family in AURORA_INSTANCE_FAMILIES


#: Instance classes on which RDS for MySQL has no Performance Insights.
MYSQL_NO_PERFORMANCE_INSIGHTS = (
    "t2.micro",
    "t2.small",
    "t3.micro",
    "t3.small",
    "t4g.micro",
    "t4g.small",
)

#: Retention periods CloudWatch Logs accepts (days).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    2557, 2922, 3288, 3653,
)  # fmt: skip

#: Canary intervals (minutes): Synthetics `rate()` runs every 1 to 60 minutes; longer
#: intervals are a UTC `cron()` every N hours, N a whole number dividing 24 (so the runs
#: stay evenly spaced across midnight).
CANARY_RATE_MINUTES = (1, 60)
CANARY_CRON_MINUTES = (120, 180, 240, 360, 480, 720, 1440)


def canary_interval(minutes: int) -> int:
    """`minutes` if the canary can run at that interval; else a ValueError saying which."""
    low, high = CANARY_RATE_MINUTES
    if not (low <= minutes <= high or minutes in CANARY_CRON_MINUTES):
        allowed = ", ".join(str(x) for x in CANARY_CRON_MINUTES)
        raise ValueError(
            f"{minutes} is not a canary interval: {low} to {high} minutes, or whole hours "
            f"dividing a day ({allowed})"
        )
    return minutes


#: CloudFront takes certificates and CLOUDFRONT-scope web ACLs only from this region: the
#: Edge stack of every environment lives here.
CLOUDFRONT_REGION = "us-east-1"

#: Referrer-Policy values CloudFront response headers policies accept.
ReferrerPolicy = Literal[
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
]

#: Seconds in a (365-day) year: the longest TTL the shipped cache policies use.
ONE_YEAR_SECONDS = 31_536_000


def cloudfront_path_matches(pattern: str, path: str) -> bool:
    """Whether CloudFront's behaviour path `pattern` matches `path`: `*` is any run of
    characters, `?` exactly one, everything else (brackets too) is literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, path, flags=re.DOTALL) is not None


#: The release record's value until the pipeline first releases an image (never a valid
#: release tag: the pipeline's scripts refuse it).
UNRELEASED = "unreleased"


#: Memory (GiB) of common RDS instance classes (without `db.`): what the engines' default
#: max_connections formulas are computed from.
RDS_INSTANCE_MEMORY_GIB: dict[str, int] = {
    **{
        f"{family}.{size}": gib
        for family in ("t3", "t4g")
        for size, gib in (
            ("micro", 1),
            ("small", 2),
            ("medium", 4),
            ("large", 8),
            ("xlarge", 16),
            ("2xlarge", 32),
        )
    },
    **{
        f"{family}.{size}": gib
        for family in ("m5", "m6g", "m7g")
        for size, gib in (("large", 8), ("xlarge", 16), ("2xlarge", 32), ("4xlarge", 64))
    },
    **{
        f"{family}.{size}": gib
        for family in ("r5", "r6g", "r6i", "r7g", "r7i", "r8g")
        for size, gib in (("large", 16), ("xlarge", 32), ("2xlarge", 64), ("4xlarge", 128))
    },
}


def default_max_connections(
    engine: Engine, instance_class: str, *, aurora: bool = False, max_acu: float | None = None
) -> int:
    """The engine's default max_connections on `instance_class` (e.g. "t4g.medium", or
    "serverless" with its `max_acu`), from the class's nominal memory (an ACU is 2 GiB):
    PostgreSQL and Aurora PostgreSQL LEAST(DBInstanceClassMemory/9531392, 5000), RDS for
    MySQL DBInstanceClassMemory/12582880, Aurora MySQL
    GREATEST(log2(DBInstanceClassMemory/805306368)*45, log2(DBInstanceClassMemory/8187281408)*1000).
    RDS's DBInstanceClassMemory is a little less (what the OS and RDS processes keep), so the
    real limit is somewhat lower: set `observability.thresholds.rds_max_connections` where it
    matters, or where a parameter group sets max_connections."""
    name = instance_class.removeprefix("db.")
    if name == SERVERLESS:
        if max_acu is None:
            raise ValueError("a serverless instance's max_connections follows its max_acu")
        memory = int(max_acu * GIB_PER_ACU * 2**30)
    else:
        try:
            memory = RDS_INSTANCE_MEMORY_GIB[name] * 2**30
        except KeyError:
            raise ValueError(
                f"no memory size known for instance class {instance_class!r}: set "
                "rds_max_connections, or add the class to RDS_INSTANCE_MEMORY_GIB"
            ) from None
    if engine == "postgres":
        return min(memory // 9_531_392, 5000)
    if aurora:
        return int(
            max(math.log2(memory / 805_306_368) * 45, math.log2(memory / 8_187_281_408) * 1000)
        )
    return memory // 12_582_880
