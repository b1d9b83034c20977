"""The edge's alarms, in us-east-1: CloudFront and CLOUDFRONT-scope WAF publish their metrics
only there, and a CloudWatch alarm can notify only an SNS topic in its own region.

`EdgeAlarms` raises the CloudFront 5xx-rate and WAF blocked-requests alarms, without alarm
actions, and sends their state changes (EventBridge "CloudWatch Alarm State Change" events,
unchanged) to the default event bus of the environment's region, where
`l3_constructs.observability.PlatformMonitoring`'s relay rule publishes them to the alarm
topic (see that module's docstring).

Knows nothing of environments: every choice arrives in `EdgeAlarmsProps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from constructs import Construct

from l3_constructs.alarms import GT, five_minutes
from l3_constructs.compliance import acknowledge
from l3_constructs.limits import CLOUDFRONT_REGION

#: The EventBridge detail type of every alarm's state changes (in the alarm's region).
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"


@dataclass(frozen=True)
class EdgeAlarmsProps:
    #: The environment's region: where `PlatformMonitoring` and its topic are.
    monitoring_region: str
    #: CloudFront 5xx error rate (%, average over 5 minutes).
    cloudfront_5xx_rate_percent: float = 5
    #: Fewer viewer requests than this in 5 minutes never raise the 5xx-rate alarm (a single
    #: failed canary request would be a 100 % rate; the canary alarm reports those).
    cloudfront_min_requests: int = 20
    #: WAF blocked requests (all rules) per 5 minutes.
    waf_blocked_per_5_minutes: int = 1000


#: The edge alarms' ids in `EdgeAlarms.alarms`.
CLOUDFRONT_5XX_RATE = "CloudFront5xxRate"
WAF_BLOCKED_REQUESTS = "WafBlockedRequests"


class EdgeAlarms(Construct):
    """The edge's alarms, in us-east-1 (where CloudFront and CLOUDFRONT-scope WAF metrics
    are), relayed to the environment region's alarm topic (see the module docstring).

    Exposes `alarms` (`CLOUDFRONT_5XX_RATE`, `WAF_BLOCKED_REQUESTS` -> alarm), `alarm_arns`
    (theirs, readable from the environment's region: `PlatformMonitoring`'s
    `edge_alarm_arns`) and `forward_rule` (None when the environment is in us-east-1 itself).
    `web_acl_metric_name` is the web ACL's VisibilityConfig MetricName (WAF's `WebACL`
    dimension), not its name.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: EdgeAlarmsProps,
        distribution_id: str,
        web_acl_metric_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        if props.cloudfront_5xx_rate_percent <= 0 or props.waf_blocked_per_5_minutes <= 0:
            raise ValueError("edge alarm thresholds must be positive")
        stack = Stack.of(self)
        if stack.region != CLOUDFRONT_REGION:
            raise ValueError(f"EdgeAlarms needs a stack in {CLOUDFRONT_REGION}, not {stack.region}")
        cloudfront = {"DistributionId": distribution_id, "Region": "Global"}

        def metric(namespace: str, name: str, dims: Mapping[str, str], stat: str) -> Any:
            return cloudwatch.Metric(
                namespace=namespace,
                metric_name=name,
                dimensions_map=dims,
                statistic=stat,
                period=five_minutes(),
            )

        rate = props.cloudfront_5xx_rate_percent
        five_xx = cloudwatch.MathExpression(
            expression=f"IF(requests >= {props.cloudfront_min_requests}, rate, 0)",
            using_metrics={
                "rate": metric("AWS/CloudFront", "5xxErrorRate", cloudfront, "Average"),
                "requests": metric("AWS/CloudFront", "Requests", cloudfront, "Sum"),
            },
            label="5xx error rate (%)",
            period=five_minutes(),
        )
        blocked = props.waf_blocked_per_5_minutes
        waf = metric(
            "AWS/WAFV2",
            "BlockedRequests",
            {"WebACL": web_acl_metric_name, "Rule": "ALL"},
            "Sum",
        )
        missing = cloudwatch.TreatMissingData.NOT_BREACHING
        self.alarms: dict[str, cloudwatch.Alarm] = {
            CLOUDFRONT_5XX_RATE: cloudwatch.Alarm(
                self,
                "CloudFront5xxRateAlarm",
                metric=five_xx,
                threshold=rate,
                comparison_operator=GT,
                evaluation_periods=1,
                treat_missing_data=missing,
                alarm_description=f"CloudFront 5xx error rate above {rate:g} % over 5 minutes "
                f"(with at least {props.cloudfront_min_requests} requests)",
            ),
            WAF_BLOCKED_REQUESTS: cloudwatch.Alarm(
                self,
                "WafBlockedRequestsAlarm",
                metric=waf,
                threshold=blocked,
                comparison_operator=GT,
                evaluation_periods=1,
                treat_missing_data=missing,
                alarm_description=f"More than {blocked} requests blocked by WAF in 5 minutes",
            ),
        }
        # The CfnAlarms' Arn attributes: the L2's `alarm_arn` cannot be read from another
        # region (CDK's CannotUseCrossEnvironment for unnamed resources).
        self.alarm_arns = [
            cast("cloudwatch.CfnAlarm", alarm.node.default_child).attr_arn
            for alarm in self.alarms.values()
        ]
        self.forward_rule: events.Rule | None = None
        if props.monitoring_region != stack.region:
            bus_arn = stack.format_arn(
                service="events",
                region=props.monitoring_region,
                resource="event-bus",
                resource_name="default",
            )
            self.forward_rule = events.Rule(
                self,
                "ForwardRule",
                description=f"Forward the edge alarms' state changes to {props.monitoring_region}",
                event_pattern=events.EventPattern(
                    source=["aws.cloudwatch"],
                    detail_type=[ALARM_STATE_CHANGE],
                    resources=self.alarm_arns,
                ),
                targets=[
                    events_targets.EventBus(
                        events.EventBus.from_event_bus_arn(self, "MonitoringBus", bus_arn)
                    )
                ],
            )
        for alarm in self.alarms.values():
            acknowledge(
                alarm,
                "NIST.800.53.R5-CloudWatchAlarmAction",
                "An alarm cannot notify an SNS topic in another region: its state changes go "
                "through EventBridge (forward_rule) to the environment region's alarm topic.",
            )
        if self.forward_rule is not None:
            acknowledge(
                self.forward_rule,
                "NIST.800.53.R5-IAMNoInlinePolicy",
                "CDK's event-bus target role: its inline policy is events:PutEvents on the "
                "environment region's default bus alone, for this rule alone.",
            )
