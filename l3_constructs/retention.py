"""CloudWatch Logs retention as a number of days -> `logs.RetentionDays` (jsii enum by name)."""

from __future__ import annotations

from aws_cdk import aws_logs as logs

from l3_constructs.limits import LOG_RETENTION_DAYS

#: The members in the order of LOG_RETENTION_DAYS (zip(strict=True) checks the count).
_BY_DAYS: dict[int, logs.RetentionDays] = dict(
    zip(
        LOG_RETENTION_DAYS,
        (
            logs.RetentionDays.ONE_DAY,
            logs.RetentionDays.THREE_DAYS,
            logs.RetentionDays.FIVE_DAYS,
            logs.RetentionDays.ONE_WEEK,
            logs.RetentionDays.TWO_WEEKS,
            logs.RetentionDays.ONE_MONTH,
            logs.RetentionDays.TWO_MONTHS,
            logs.RetentionDays.THREE_MONTHS,
            logs.RetentionDays.FOUR_MONTHS,
            logs.RetentionDays.FIVE_MONTHS,
            logs.RetentionDays.SIX_MONTHS,
            logs.RetentionDays.ONE_YEAR,
            logs.RetentionDays.THIRTEEN_MONTHS,
            logs.RetentionDays.EIGHTEEN_MONTHS,
            logs.RetentionDays.TWO_YEARS,
            logs.RetentionDays.THREE_YEARS,
            logs.RetentionDays.FIVE_YEARS,
            logs.RetentionDays.SIX_YEARS,
            logs.RetentionDays.SEVEN_YEARS,
            logs.RetentionDays.EIGHT_YEARS,
            logs.RetentionDays.NINE_YEARS,
            logs.RetentionDays.TEN_YEARS,
        ),
        strict=True,
    )
)


def retention_days(days: int) -> logs.RetentionDays:
    """The `RetentionDays` member for `days`; ValueError for a period CloudWatch lacks."""
    try:
        return _BY_DAYS[days]
    except KeyError:
        raise ValueError(f"{days} days is not a CloudWatch Logs retention period") from None
