"""Alarms that page, per environment: each threshold from config, one encrypted topic, every
service's own alarms (web services' on their target groups, workers' on their queues too),
each job's failed runs (EventBridge rules) and its schedule's dead-letter queue, the
dashboard with a row per service and per job, the canary, and the edge alarms relayed from
us-east-1.

Services are read from each stage's config (`synth.configs[stage].services`, by kind), never
named here: the shipped stages run `web`, `api`, the worker `worker` and the job `cleanup`,
the session's Dev stage may run more.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk.assertions import Match

from config.models import EnvironmentConfig
from config.service_parts import TRAFFIC_SHIFTING
from config.services import QUEUE_VARIABLE, Service
from cost_estimate.schedules import runs_per_month
from l3_constructs.limits import CANARY_CRON_MINUTES, CLOUDFRONT_REGION
from l3_constructs.observability import canary_alarm_runs, canary_schedule
from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import is_key_arn, key_of, only, props, ref_id, resources

STAGES = (*SHIPPED_STAGES, NEW_STAGE)
ALARM = "AWS::CloudWatch::Alarm"
#: What a service's alarms watch: the metric -> the alarm's construct id (in its logical id).
ECS_METRICS = {"CPUUtilization": "EcsCpu", "MemoryUtilization": "EcsMemory"}
TARGET_METRICS = {
    "HTTPCode_Target_5XX_Count": "Target5xx",
    "TargetResponseTime": "ResponseTimeP95",
    "UnHealthyHostCount": "UnhealthyTargets",
}
#: A worker's queue alarms: the dead-letter queue's visible messages, the queue's oldest age.
QUEUE_METRICS = {
    "ApproximateNumberOfMessagesVisible": "DeadLetterMessages",
    "ApproximateAgeOfOldestMessage": "OldestMessageAge",
}
#: What a job's failed-run rules match: Step Functions statuses that end a run unsuccessfully.
FAILED_STATUSES = {"FAILED", "TIMED_OUT", "ABORTED"}
#: The environment-wide alarms (construct ids directly under the monitoring construct).
ENVIRONMENT_ALARMS = ("Alb5xx", "RdsCpu", "RdsConnections", "RdsFreeStorage", "Canary")


def _environment_alarm_names(config: EnvironmentConfig) -> set[str]:
    """ENVIRONMENT_ALARMS and the database options' (tests/test_database_monitoring.py):
    here a proxy's (Dev)."""
    names = set(ENVIRONMENT_ALARMS) | ({"RdsProxyAvailability"} if config.database.proxy else set())
    if config.database.serverless_instances:
        # Serverless v2 (Test since issue 15): capacity in use, not free storage (Aurora's
        # storage grows by itself).
        names = (names - {"RdsFreeStorage"}) | {"RdsCapacity"}
    return names


def _t(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "Monitoring")


def _services(synth: Synth, stage: str) -> dict[str, Service]:
    """The ECS services (web, backend, worker) of `stage`, in config order."""
    return {n: s for n, s in synth.configs[stage].services.items() if s.kind != "job"}


def _of_kind(synth: Synth, stage: str, kind: str) -> dict[str, Service]:
    return {n: s for n, s in synth.configs[stage].services.items() if s.kind == kind}


def _topic(synth: Synth, stage: str) -> dict[str, str]:
    topic_id, _ = only(_t(synth, stage), "AWS::SNS::Topic")
    return {"Ref": topic_id}


@dataclass(frozen=True)
class _ComputeService:
    """A service's resources in the Compute template: the ECS service whose `app`
    container's port mapping carries the service's name."""

    service_id: str
    log_group_id: str
    #: Primary first, then (blue/green) the alternate.
    target_group_ids: tuple[str, ...]


@dataclass(frozen=True)
class _WorkerQueue:
    """A worker's queues in the Compute template."""

    queue_id: str
    dead_letter_queue_id: str


def _worker_queue(synth: Synth, stage: str, name: str) -> _WorkerQueue:
    """The queue of worker `name` (its construct id, `<name>Queue`, starts the logical id)
    and the dead-letter queue its redrive policy names."""
    compute = synth.template(stage, "Compute")
    (queue_id,) = [
        k
        for k, q in resources(compute, "AWS::SQS::Queue").items()
        if k.startswith(f"{name.replace('-', '')}Queue") and "RedrivePolicy" in props(q)
    ]
    redrive = props(compute["Resources"][queue_id])["RedrivePolicy"]
    return _WorkerQueue(queue_id, ref_id(redrive["deadLetterTargetArn"]))


def _compute_service(synth: Synth, stage: str, name: str) -> _ComputeService:
    """Found by the `app` container's port mapping, named after the service (web, backend),
    or for a worker by its `QUEUE_URL`, the worker's queue."""
    compute = synth.template(stage, "Compute")
    worker = synth.configs[stage].services[name].kind == "worker"
    queue = {"Ref": _worker_queue(synth, stage, name).queue_id} if worker else None
    for service_id, service in resources(compute, "AWS::ECS::Service").items():
        p = props(service)
        task = compute["Resources"][ref_id(p["TaskDefinition"])]
        (app,) = [c for c in props(task)["ContainerDefinitions"] if c["Name"] == "app"]
        environment = {e["Name"]: e["Value"] for e in app.get("Environment", [])}
        if worker:
            if environment.get(QUEUE_VARIABLE) != queue:
                continue
        elif [m.get("Name") for m in app.get("PortMappings", [])] != [name]:
            continue
        groups: list[str] = []
        for attachment in p.get("LoadBalancers", []):
            groups.append(ref_id(attachment["TargetGroupArn"]))
            advanced = attachment.get("AdvancedConfiguration", {})
            if "AlternateTargetGroupArn" in advanced:
                groups.append(ref_id(advanced["AlternateTargetGroupArn"]))
        log_group = app["LogConfiguration"]["Options"]["awslogs-group"]
        return _ComputeService(service_id, ref_id(log_group), tuple(groups))
    raise AssertionError(f"{stage}/Compute has no ECS service {name!r}")


def _from_compute(synth: Synth, stage: str, value: Any) -> Any:
    """What a `Fn::GetStackOutput` of the Compute stack reads there."""
    reference = value["Fn::GetStackOutput"]
    assert reference["StackName"] == f"{stage}-Compute"
    assert reference["Region"] == synth.configs[stage].region
    return synth.template(stage, "Compute")["Outputs"][reference["OutputName"]]["Value"]


def _imported(synth: Synth, stage: str, value: Any) -> dict[str, Any]:
    """The `Fn::GetStackOutput` with which Monitoring reads `value` of the Compute stack (the
    one output carrying it that Monitoring reads at all)."""
    outputs = synth.template(stage, "Compute")["Outputs"]
    read = json.dumps(_t(synth, stage))
    (name,) = [k for k, o in outputs.items() if o["Value"] == value and f'"{k}"' in read]
    return {
        "Fn::GetStackOutput": {
            "StackName": f"{stage}-Compute",
            "Region": synth.configs[stage].region,
            "OutputName": name,
        }
    }


@dataclass(frozen=True)
class _ComputeJob:
    """A job's resources in the Compute template (logical ids start with its name)."""

    family: str
    state_machine_id: str
    #: The schedule's dead-letter queue.
    dead_letter_queue_id: str


def _compute_job(synth: Synth, stage: str, name: str) -> _ComputeJob:
    compute = synth.template(stage, "Compute")
    prefix = name.replace("-", "")

    def own(type_name: str) -> dict[str, Any]:
        ((_, resource),) = [
            (k, r) for k, r in resources(compute, type_name).items() if k.startswith(prefix)
        ]
        return resource

    ((state_machine_id, _),) = [
        (k, r)
        for k, r in resources(compute, "AWS::StepFunctions::StateMachine").items()
        if k.startswith(prefix)
    ]
    family = props(own("AWS::ECS::TaskDefinition"))["Family"]
    # The family the stack output tells an operator is the one the task definition has.
    assert compute["Outputs"][f"{prefix}JobTaskDefinitionFamily"]["Value"] == family
    dead_letters = props(own("AWS::Scheduler::Schedule"))["Target"]["DeadLetterConfig"]["Arn"]
    return _ComputeJob(family, state_machine_id, ref_id(dead_letters))


def _load_balancer_id(synth: Synth, stage: str) -> str:
    lb_id, _ = only(synth.template(stage, "Compute"), "AWS::ElasticLoadBalancingV2::LoadBalancer")
    return lb_id


def _service_alarms(
    synth: Synth, stage: str, name: str, what: str = "Service"
) -> dict[str, dict[str, Any]]:
    """Logical id -> properties of the alarms whose description names service (or job)
    `name`."""
    found = synth.assertions(stage, "Monitoring").find_resources(
        ALARM,
        {"Properties": {"AlarmDescription": Match.string_like_regexp(f"^{what} {name}: ")}},
    )
    return {logical_id: dict(alarm["Properties"]) for logical_id, alarm in found.items()}


def _job_rules(synth: Synth, stage: str, name: str) -> dict[str, dict[str, Any]]:
    """Construct id (`TaskFailed`, ...) -> properties of the rules of job `name` (in
    `Monitoring/Jobs/<name>`)."""
    prefix = f"MonitoringJobs{name.replace('-', '')}"
    found = {}
    for logical_id, rule in resources(_t(synth, stage), "AWS::Events::Rule").items():
        if logical_id.startswith(prefix):
            stem = logical_id.removeprefix(prefix)
            found[stem[: stem.index("Rule")]] = props(rule)
    return found


def _input(rule: dict[str, Any]) -> tuple[dict[str, str], str]:
    """The one target's input transformer: (variable -> JSON path, template)."""
    (target,) = rule["Targets"]
    transformer = target["InputTransformer"]
    return transformer["InputPathsMap"], transformer["InputTemplate"]


def _metric_stats(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads (one, or the inputs of its math expression), each as a
    `MetricStat`."""
    if "Metrics" in alarm:
        return [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
    metric = {k: alarm[k] for k in ("Namespace", "MetricName", "Dimensions") if k in alarm}
    return [{"Metric": metric, "Period": alarm["Period"], "Stat": alarm.get("Statistic")}]


def _dimensions(stat: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in stat["Metric"].get("Dimensions", [])}


def _environment_alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Construct id (e.g. `RdsCpu`) -> properties of the alarms directly under `Monitoring`."""
    found = {}
    for logical_id, alarm in resources(template, ALARM).items():
        if logical_id.startswith(("MonitoringServices", "MonitoringJobs")):
            continue
        name = logical_id.removeprefix("Monitoring")
        found[name[: name.index("Alarm")]] = props(alarm)
    return found


# --- Thresholds ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_environment_wide_alarms_have_their_configured_thresholds(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    t = config.observability.thresholds
    alarms = _environment_alarms(_t(synth, stage))
    db = config.database
    max_connections = db.default_max_connections()
    expected = {
        "Alb5xx": (t.alb_5xx_per_5_minutes, "GreaterThanThreshold"),
        "RdsCpu": (t.rds_cpu_percent, "GreaterThanThreshold"),
        "RdsConnections": (
            max_connections * t.rds_connections_percent // 100,
            "GreaterThanThreshold",
        ),
        "RdsFreeStorage": (t.rds_free_storage_gb * 2**30, "LessThanThreshold"),
        "Canary": (100, "LessThanThreshold"),
    }
    if db.serverless_instances:
        del expected["RdsFreeStorage"]
    assert set(alarms) == _environment_alarm_names(config)
    for name, (threshold, operator) in expected.items():
        assert alarms[name]["Threshold"] == threshold, name
        assert alarms[name]["ComparisonOperator"] == operator, name
    # The load balancer's 5xx stays load-balancer wide: its targets' and its own.
    lb_full_name = {"Fn::GetAtt": [_load_balancer_id(synth, stage), "LoadBalancerFullName"]}
    stats = _metric_stats(alarms["Alb5xx"])
    assert {s["Metric"]["MetricName"] for s in stats} == {
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_5XX_Count",
    }
    for stat in stats:
        dimensions = _dimensions(stat)
        assert set(dimensions) == {"LoadBalancer"}
        assert _from_compute(synth, stage, dimensions["LoadBalancer"]) == lb_full_name


@pytest.mark.parametrize("stage", STAGES)
def test_every_service_has_its_alarms_with_the_configured_thresholds(
    synth: Synth, stage: str
) -> None:
    config = synth.configs[stage]
    t = config.observability.thresholds
    thresholds = {
        "CPUUtilization": t.ecs_cpu_percent,
        "MemoryUtilization": t.ecs_memory_percent,
        "HTTPCode_Target_5XX_Count": t.alb_5xx_per_5_minutes,
        "TargetResponseTime": t.response_time_p95_ms / 1000,
        "UnHealthyHostCount": t.unhealthy_targets,
    }
    total = len(_environment_alarm_names(config))
    for name, service in _services(synth, stage).items():
        error_metric = f"ErrorLogEvents-{name}"
        expected = {**ECS_METRICS, error_metric: "ErrorLogs"}
        if service.kind == "web":
            expected |= TARGET_METRICS
        if service.kind == "worker":
            expected |= QUEUE_METRICS
        alarms = _service_alarms(synth, stage, name)
        watched = {}
        for logical_id, alarm in alarms.items():
            (metric,) = {s["Metric"]["MetricName"] for s in _metric_stats(alarm)}
            watched[metric] = alarm
            # The construct id carries the service's name (adding one renames no other).
            assert logical_id.startswith(f"MonitoringServices{name.replace('-', '')}"), logical_id
            assert expected[metric] in logical_id, logical_id
            assert alarm["ComparisonOperator"] == "GreaterThanThreshold", logical_id
        assert set(watched) == set(expected), name
        for metric, threshold in thresholds.items():
            if metric in watched:
                assert watched[metric]["Threshold"] == threshold, (name, metric)
        assert watched[error_metric]["Threshold"] == t.error_logs_per_5_minutes
        if service.kind == "worker":
            assert watched["ApproximateNumberOfMessagesVisible"]["Threshold"] == 0
            assert (
                watched["ApproximateAgeOfOldestMessage"]["Threshold"]
                == service.queue.oldest_message_alarm_seconds
            )
        total += len(expected)
    for name in _of_kind(synth, stage, "job"):
        (alarm,) = _service_alarms(synth, stage, name, "Job").values()
        assert alarm["Threshold"] == 0
        total += 1
    # Nothing else pages: the environment's alarms, each service's and each job's.
    synth.assertions(stage, "Monitoring").resource_count_is(ALARM, total)


def test_shipped_thresholds_are_the_design_values(synth: Synth) -> None:
    alarms = _environment_alarms(_t(synth, "Prod"))
    assert alarms["Alb5xx"]["Threshold"] == 10
    periods = {s["Period"] for s in _metric_stats(alarms["Alb5xx"])}
    assert periods == {300}  # targets' and the load balancer's own 5xx, per 5 minutes
    assert alarms["RdsFreeStorage"]["Threshold"] == 5 * 2**30
    # Prod's t4g.micro PostgreSQL: max_connections 112, alarm above 80 % of it.
    assert alarms["RdsConnections"]["Threshold"] == 89
    for name, service in _services(synth, "Prod").items():
        watched = {
            s["Metric"]["MetricName"]: (alarm, s)
            for alarm in _service_alarms(synth, "Prod", name).values()
            for s in _metric_stats(alarm)
        }
        cpu, _ = watched["CPUUtilization"]
        assert (cpu["Threshold"], cpu["EvaluationPeriods"]) == (80, 3)
        if service.kind == "worker":
            # The shipped worker: any dead letter, or a message waiting 15 minutes.
            age, stat = watched["ApproximateAgeOfOldestMessage"]
            assert (stat["Stat"], stat["Period"], age["Threshold"]) == ("Maximum", 60, 900)
            dead, stat = watched["ApproximateNumberOfMessagesVisible"]
            assert (stat["Stat"], stat["Period"], dead["Threshold"]) == ("Maximum", 300, 0)
        if service.kind != "web":
            continue
        p95, stat = watched["TargetResponseTime"]
        assert (stat["Stat"], stat["Period"], p95["Threshold"]) == ("p95", 300, 1)
        five_xx, stat = watched["HTTPCode_Target_5XX_Count"]
        assert (stat["Stat"], stat["Period"], five_xx["Threshold"]) == ("Sum", 300, 10)


# --- What each service's alarms watch -----------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_ecs_alarms_watch_their_own_service(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    t = config.observability.thresholds
    monitoring = synth.assertions(stage, "Monitoring")
    cluster_id, _ = only(synth.template(stage, "Compute"), "AWS::ECS::Cluster")
    cluster = _imported(synth, stage, {"Ref": cluster_id})
    for name, s in _services(synth, stage).items():
        service = _imported(
            synth, stage, {"Fn::GetAtt": [_compute_service(synth, stage, name).service_id, "Name"]}
        )
        # A worker idles at 0 tasks (no data): not breaching, so no OK at every start.
        missing = "notBreaching" if s.kind == "worker" else "missing"
        for metric, threshold in (
            ("CPUUtilization", t.ecs_cpu_percent),
            ("MemoryUtilization", t.ecs_memory_percent),
        ):
            monitoring.has_resource_properties(
                ALARM,
                {
                    "AlarmDescription": Match.string_like_regexp(f"^Service {name}: ECS "),
                    "Threshold": threshold,
                    "EvaluationPeriods": 3,
                    "TreatMissingData": missing,
                    "Metrics": [
                        {
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": "AWS/ECS",
                                    "MetricName": metric,
                                    "Dimensions": [
                                        {"Name": "ClusterName", "Value": cluster},
                                        {"Name": "ServiceName", "Value": service},
                                    ],
                                },
                                "Period": 60,
                                "Stat": "Average",
                            }
                        }
                    ],
                },
            )


@pytest.mark.parametrize("stage", STAGES)
def test_web_alarms_watch_exactly_their_target_groups(synth: Synth, stage: str) -> None:
    lb_full_name = {"Fn::GetAtt": [_load_balancer_id(synth, stage), "LoadBalancerFullName"]}
    for name, service in _services(synth, stage).items():
        groups = _compute_service(synth, stage, name).target_group_ids
        if service.kind != "web":
            continue
        # blue_green, canary and linear shift traffic between two target groups.
        shifting = service.deployment.strategy in TRAFFIC_SHIFTING
        assert len(groups) == (2 if shifting else 1), name
        for alarm in _service_alarms(synth, stage, name).values():
            stats = _metric_stats(alarm)
            if stats[0]["Metric"]["Namespace"] != "AWS/ApplicationELB":
                continue
            read = []
            for stat in stats:
                dimensions = _dimensions(stat)
                assert _from_compute(synth, stage, dimensions["LoadBalancer"]) == lb_full_name
                read.append(ref_id(_from_compute(synth, stage, dimensions["TargetGroup"])))
            # Both groups of a traffic-shifting pair, summed (or their maximum for the p95).
            assert sorted(read) == sorted(groups), (name, alarm["AlarmDescription"])
            if shifting:
                expression = alarm["Metrics"][0]["Expression"]
                assert ("MAX([" in expression) == (
                    stats[0]["Metric"]["MetricName"] == "TargetResponseTime"
                )


@pytest.mark.parametrize("stage", STAGES)
def test_backends_get_no_target_group_alarms(synth: Synth, stage: str) -> None:
    web = list(_of_kind(synth, stage, "web"))
    on_target_groups = {}
    for logical_id, alarm in resources(_t(synth, stage), ALARM).items():
        stats = _metric_stats(props(alarm))
        if any(
            "TargetGroup" in _dimensions(s) and s["Metric"]["Namespace"] == "AWS/ApplicationELB"
            for s in stats
        ):
            on_target_groups[logical_id] = props(alarm)["AlarmDescription"]
    # Three per web service (5xx, p95, unhealthy), none for a backend (it has no group).
    assert len(on_target_groups) == 3 * len(web)
    for name, service in _services(synth, stage).items():
        if service.kind == "web":
            continue
        assert _compute_service(synth, stage, name).target_group_ids == ()
        assert not any(d.startswith(f"Service {name}:") for d in on_target_groups.values())
        kinds = {
            s["Metric"]["Namespace"]
            for alarm in _service_alarms(synth, stage, name).values()
            for s in _metric_stats(alarm)
        }
        assert "AWS/ApplicationELB" not in kinds


@pytest.mark.parametrize("stage", STAGES)
def test_error_logs_are_counted_on_each_services_log_group(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    filters = {
        props(f)["MetricTransformations"][0]["MetricName"]: props(f)
        for f in resources(template, "AWS::Logs::MetricFilter").values()
    }
    # Every ECS service's log group (web, backend, worker); a job's failures page as events.
    services = _services(synth, stage)
    assert set(filters) == {f"ErrorLogEvents-{name}" for name in services}
    for name in services:
        p = filters[f"ErrorLogEvents-{name}"]
        assert p["FilterPattern"] == config.observability.error_log_pattern
        log_group = _compute_service(synth, stage, name).log_group_id
        assert _from_compute(synth, stage, p["LogGroupName"]) == {"Ref": log_group}
        (transformation,) = p["MetricTransformations"]
        # The service's ErrorLogs alarm reads exactly that metric.
        synth.assertions(stage, "Monitoring").has_resource_properties(
            ALARM,
            {
                "AlarmDescription": Match.string_like_regexp(f"^Service {name}: .* error log"),
                "Threshold": config.observability.thresholds.error_logs_per_5_minutes,
                "Metrics": [
                    Match.object_like(
                        {
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": transformation["MetricNamespace"],
                                    "MetricName": transformation["MetricName"],
                                },
                                "Period": 300,
                                "Stat": "Sum",
                            }
                        }
                    )
                ],
            },
        )


# --- Workers and jobs ---------------------------------------------------------------------


def _sqs_metric(synth: Synth, stage: str, queue_id: str, metric: str, period: int) -> Any:
    """An alarm's `Metrics` reading `metric` of the Compute stack's queue `queue_id`."""
    queue_name = _imported(synth, stage, {"Fn::GetAtt": [queue_id, "QueueName"]})
    return [
        Match.object_like(
            {
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SQS",
                        "MetricName": metric,
                        "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
                    },
                    "Period": period,
                    "Stat": "Maximum",
                }
            }
        )
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_worker_alarms_watch_its_own_queues(synth: Synth, stage: str) -> None:
    monitoring = synth.assertions(stage, "Monitoring")
    topic = [_topic(synth, stage)]
    workers = _of_kind(synth, stage, "worker")
    assert workers or stage == NEW_STAGE
    for name, service in workers.items():
        queues = _worker_queue(synth, stage, name)
        # Any message in the dead-letter queue (its most in 5 minutes above 0).
        monitoring.has_resource_properties(
            ALARM,
            {
                "AlarmDescription": Match.string_like_regexp(f"^Service {name}: .*dead-letter"),
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": 0,
                "EvaluationPeriods": 1,
                "TreatMissingData": "notBreaching",
                "Metrics": _sqs_metric(
                    synth,
                    stage,
                    queues.dead_letter_queue_id,
                    "ApproximateNumberOfMessagesVisible",
                    300,
                ),
                "AlarmActions": topic,
                "OKActions": topic,
            },
        )
        # The oldest message of the queue itself, over the configured age.
        monitoring.has_resource_properties(
            ALARM,
            {
                "AlarmDescription": Match.string_like_regexp(f"^Service {name}: .*oldest"),
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": service.queue.oldest_message_alarm_seconds,
                "EvaluationPeriods": 1,
                "TreatMissingData": "notBreaching",
                "Metrics": _sqs_metric(
                    synth, stage, queues.queue_id, "ApproximateAgeOfOldestMessage", 60
                ),
                "AlarmActions": topic,
                "OKActions": topic,
            },
        )
    # No queue alarms for any other kind.
    for name, service in _services(synth, stage).items():
        namespaces = {
            s["Metric"]["Namespace"]
            for alarm in _service_alarms(synth, stage, name).values()
            for s in _metric_stats(alarm)
        }
        assert ("AWS/SQS" in namespaces) == (service.kind == "worker"), name


@pytest.mark.parametrize("stage", STAGES)
def test_job_alarm_watches_its_schedules_dead_letter_queue(synth: Synth, stage: str) -> None:
    topic = [_topic(synth, stage)]
    jobs = _of_kind(synth, stage, "job")
    assert jobs or stage == NEW_STAGE
    for name in jobs:
        job = _compute_job(synth, stage, name)
        (alarm,) = _service_alarms(synth, stage, name, "Job").values()
        assert "never started" in alarm["AlarmDescription"]
        synth.assertions(stage, "Monitoring").has_resource_properties(
            ALARM,
            {
                "AlarmDescription": alarm["AlarmDescription"],
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": 0,
                "EvaluationPeriods": 1,
                "TreatMissingData": "notBreaching",
                "Metrics": _sqs_metric(
                    synth,
                    stage,
                    job.dead_letter_queue_id,
                    "ApproximateNumberOfMessagesVisible",
                    300,
                ),
                "AlarmActions": topic,
                "OKActions": topic,
            },
        )


@pytest.mark.parametrize("stage", STAGES)
def test_a_jobs_failed_runs_reach_the_topic(synth: Synth, stage: str) -> None:
    topic = _topic(synth, stage)
    jobs = _of_kind(synth, stage, "job")
    assert jobs or stage == NEW_STAGE
    for name in jobs:
        job = _compute_job(synth, stage, name)
        rules = _job_rules(synth, stage, name)
        assert set(rules) == {"TaskFailed", "TaskNotStarted", "ExecutionFailed"}, name
        stopped = {"lastStatus": ["STOPPED"], "group": [f"family:{job.family}"]}
        task_state_change = {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"]}
        # A task of the job's family stopped with a non-zero exit code ...
        assert rules["TaskFailed"]["EventPattern"] == {
            **task_state_change,
            "detail": {**stopped, "containers": {"exitCode": [{"anything-but": 0}]}},
        }
        # ... or did not start at all (it has no exit code then) ...
        assert rules["TaskNotStarted"]["EventPattern"] == {
            **task_state_change,
            "detail": {**stopped, "stopCode": ["TaskFailedToStart"]},
        }
        # ... or its state machine's execution failed, timed out (the overdue run stopped)
        # or was aborted.
        pattern = rules["ExecutionFailed"]["EventPattern"]
        assert pattern["source"] == ["aws.states"]
        assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
        assert set(pattern["detail"]) == {"status", "stateMachineArn"}
        assert set(pattern["detail"]["status"]) == FAILED_STATUSES
        (machine,) = pattern["detail"]["stateMachineArn"]
        assert _from_compute(synth, stage, machine) == {"Ref": job.state_machine_id}
        # Each publishes to the topic a message naming the job and what happened.
        said = {
            "TaskFailed": ("$.detail.containers[0].exitCode", "$.detail.stoppedReason"),
            "TaskNotStarted": ("$.detail.stoppedReason", "$.detail.stopCode"),
            "ExecutionFailed": ("$.detail.status", "$.detail.name"),
        }
        for rule_name, rule in rules.items():
            assert rule["State"] == "ENABLED"
            assert [t["Arn"] for t in rule["Targets"]] == [topic], rule_name
            paths, template = _input(rule)
            assert f"Job {name}" in template, rule_name
            for path in said[rule_name]:
                (variable,) = [v for v, p in paths.items() if p == path]
                assert f"<{variable}>" in template, (rule_name, path)
        assert "exit code" in _input(rules["TaskFailed"])[1]


@pytest.mark.parametrize("stage", STAGES)
def test_every_rule_may_publish_to_the_encrypted_topic(synth: Synth, stage: str) -> None:
    """One statement lets EventBridge publish for exactly this stack's rules (the edge relay
    and every job's), and the key lets it encrypt through SNS only."""
    config = synth.configs[stage]
    template = _t(synth, stage)
    rules = resources(template, "AWS::Events::Rule")
    assert len(rules) == 1 + 3 * len(_of_kind(synth, stage, "job"))
    (policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
    (publish,) = [
        s
        for s in props(policy)["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert publish["Effect"] == "Allow"
    assert publish["Action"] == "sns:Publish"
    assert publish["Resource"] == _topic(synth, stage)
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": config.account}
    arns = publish["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sorted(ref_id(a) for a in arns) == sorted(rules)
    key_template, key_id = key_of(synth, stage, "Monitoring")
    key = key_template["Resources"][key_id]
    (encrypt,) = [
        s
        for s in props(key)["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert sorted(encrypt["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert encrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": f"sns.{config.region}.amazonaws.com"}
    }


# --- Topic ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_all_alarms_notify_one_encrypted_topic(synth: Synth, stage: str) -> None:
    template = _t(synth, stage)
    topic_id, topic = only(template, "AWS::SNS::Topic")
    # Its own key, or the Network stack's (`data_protection.shared_key`).
    key_template, key_id = key_of(synth, stage, "Monitoring")
    assert props(key_template["Resources"][key_id])["EnableKeyRotation"] is True
    assert is_key_arn(props(topic)["KmsMasterKeyId"], key_id)
    for logical_id, alarm in resources(template, ALARM).items():
        assert props(alarm)["AlarmActions"] == [{"Ref": topic_id}], logical_id
        assert props(alarm).get("OKActions") in (None, [{"Ref": topic_id}]), logical_id
    emails = {
        props(s)["Endpoint"]
        for s in resources(template, "AWS::SNS::Subscription").values()
        if props(s)["Protocol"] == "email"
    }
    assert emails == set(synth.configs[stage].observability.alarm_emails)
    (policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
    statements = props(policy)["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s) for s in statements)


# --- Canary ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_canary_calls_the_health_path_through_cloudfront(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    _, canary = only(template, "AWS::Synthetics::Canary")
    p = props(canary)
    interval = config.observability.canary.interval_minutes
    # Up to an hour a rate; beyond, a UTC cron every `interval / 60` hours (Test: 3).
    expression = (
        f"rate({interval} minutes)"
        if interval <= 60
        else "cron(0 0 * * ? *)"
        if interval == 1440
        else f"cron(0 0/{interval // 60} * * ? *)"
    )
    assert p["Schedule"]["Expression"] == expression
    assert p["StartCanaryAfterCreation"] is True
    # Unless config names a path, the default web service's health check.
    path = (
        config.observability.canary.path
        or config.services[config.default_service].health_check.path
    )
    url = f"https://{config.edge.domain_names[0]}{path}"
    assert p["RunConfig"]["EnvironmentVariables"] == {"HEALTH_URL": url}
    assert "statusCode >= 200 && res.statusCode < 300" in p["Code"]["Script"]
    bucket = template["Resources"][ref_id(p["ArtifactS3Location"]["Fn::Join"][1][1])]
    encryption = props(bucket)["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert all(props(bucket)["PublicAccessBlockConfiguration"].values())


@pytest.mark.parametrize("stage", STAGES)
def test_canary_alarm_periods_cover_its_interval(synth: Synth, stage: str) -> None:
    """Missing data breaches, so each period holds one run: a canary every 3 hours does not
    alarm in the hours it does not run; 2 runs in a row, within CloudWatch's one day."""
    interval = synth.configs[stage].observability.canary.interval_minutes
    alarm = _environment_alarms(_t(synth, stage))["Canary"]
    assert alarm["Period"] == interval * 60
    assert alarm["EvaluationPeriods"] == 2
    assert alarm["Period"] * alarm["EvaluationPeriods"] <= 86_400
    assert alarm["TreatMissingData"] == "breaching"
    assert (alarm["MetricName"], alarm["Statistic"]) == ("SuccessPercent", "Average")
    assert "for 2 runs in a row" in alarm["AlarmDescription"]


def test_test_canary_runs_every_three_hours(synth: Synth) -> None:
    """Issue 15 (cost): Test's canary on a UTC cron every 3 hours, its alarm on 3-hour periods."""
    template = _t(synth, "Test")
    _, canary = only(template, "AWS::Synthetics::Canary")
    assert props(canary)["Schedule"]["Expression"] == "cron(0 0/3 * * ? *)"
    assert _environment_alarms(template)["Canary"]["Period"] == 3 * 3600


@pytest.mark.parametrize("minutes", [1, 5, 30, 60, *CANARY_CRON_MINUTES])
def test_canary_schedule_and_alarm_for_every_allowed_interval(synth: Synth, minutes: int) -> None:
    """Every interval config accepts: a schedule firing every `minutes` (as the cost estimate
    counts it), and alarm periods x evaluation periods within a day."""
    del synth  # after the session's synth: see _synth_order in tests/conftest.py
    expression = canary_schedule(minutes).expression_string
    assert expression.startswith("rate(" if minutes <= 60 else "cron(")
    assert runs_per_month(expression) == pytest.approx(730 * 60 / minutes)
    runs = canary_alarm_runs(minutes)
    assert runs == (1 if minutes == 1440 else 2)
    assert minutes * 60 * runs <= 86_400


# --- Dashboard ------------------------------------------------------------------------------


def _dashboard(template: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The body as text (each reference rendered `${OutputName}` / `${LogicalId}`) and its
    widgets."""
    _, dashboard = only(template, "AWS::CloudWatch::Dashboard")
    body = props(dashboard)["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]

    def rendered(part: Any) -> str:
        if isinstance(part, str):
            return part
        if "Fn::GetStackOutput" in part:
            return f"${{{part['Fn::GetStackOutput']['OutputName']}}}"
        return f"${{{ref_id(part)}}}"

    text = "".join(rendered(p) for p in parts)
    widgets: list[dict[str, Any]] = json.loads(text)["widgets"]
    return text, widgets


def _rows(widgets: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Header markdown -> the widgets under it, up to the next header."""
    rows: dict[str, list[dict[str, Any]]] = {}
    current: list[dict[str, Any]] = []
    for widget in widgets:
        if widget["type"] == "text":
            current = rows.setdefault(widget["properties"]["markdown"], [])
        else:
            current.append(widget)
    return rows


def _graphed(row: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric name, dimensions) of every metric graphed in `row`."""
    found = []
    for widget in row:
        for line in widget["properties"].get("metrics", []):
            if isinstance(line[0], dict):  # a math expression
                continue
            fields = [f for f in line if not isinstance(f, dict)]
            namespace, metric, *dims = fields
            found.append((namespace, metric, dict(zip(dims[::2], dims[1::2], strict=True))))
    return found


def _service_of(header: str) -> str:
    match = re.match(r"### Service ([a-z0-9-]+) \(", header)
    assert match is not None, header
    return match[1]


def _output_name(synth: Synth, stage: str, value: Any) -> str:
    return f"${{{_imported(synth, stage, value)['Fn::GetStackOutput']['OutputName']}}}"


@pytest.mark.parametrize("stage", STAGES)
def test_dashboard_shows_edge_service_and_database(synth: Synth, stage: str) -> None:
    if not synth.configs[stage].observability.dashboard:
        pytest.skip(f"{stage} has no dashboard (observability.dashboard: false)")
    text, widgets = _dashboard(_t(synth, stage))
    for namespace in ("AWS/CloudFront", "AWS/WAFV2", "AWS/ApplicationELB", "AWS/ECS", "AWS/RDS"):
        assert namespace in text, namespace
    # Edge metrics live in us-east-1, whatever the environment's region.
    assert f'"region":"{CLOUDFRONT_REGION}"' in text
    # The status widget shows every alarm.
    (status,) = [w for w in widgets if w["type"] == "alarm"]
    assert len(status["properties"]["alarms"]) == len(resources(_t(synth, stage), ALARM))
    headers = list(_rows(widgets))
    assert headers[0].startswith("### Edge")
    assert headers[-1].startswith("### Database")


@pytest.mark.parametrize("stage", STAGES)
def test_dashboard_has_a_row_per_service(synth: Synth, stage: str) -> None:
    if not synth.configs[stage].observability.dashboard:
        pytest.skip(f"{stage} has no dashboard (observability.dashboard: false)")
    services = _services(synth, stage)
    rows = _rows(_dashboard(_t(synth, stage))[1])
    service_rows = [h for h in rows if h.startswith("### Service ")]
    assert [_service_of(h) for h in service_rows] == list(services)
    for header, (name, service) in zip(service_rows, services.items(), strict=True):
        assert f"({service.kind}" in header, header
        found = _compute_service(synth, stage, name)
        graphed = _graphed(rows[header])
        service_name = _output_name(synth, stage, {"Fn::GetAtt": [found.service_id, "Name"]})
        ecs = {m for ns, m, dims in graphed if ns == "AWS/ECS"}
        assert ecs == set(ECS_METRICS), name
        assert {dims["ServiceName"] for ns, _, dims in graphed if ns == "AWS/ECS"} == {service_name}
        assert [m for _, m, _ in graphed if m.startswith("ErrorLogEvents")] == [
            f"ErrorLogEvents-{name}"
        ]
        groups = {
            _output_name(synth, stage, {"Fn::GetAtt": [g, "TargetGroupFullName"]})
            for g in found.target_group_ids
        }
        elb = [(m, dims) for ns, m, dims in graphed if ns == "AWS/ApplicationELB"]
        sqs = {(m, dims["QueueName"]) for ns, m, dims in graphed if ns == "AWS/SQS"}
        if service.kind == "worker":
            queues = _worker_queue(synth, stage, name)

            def queue_name(queue_id: str) -> str:
                return _output_name(synth, stage, {"Fn::GetAtt": [queue_id, "QueueName"]})

            # Its backlog and oldest message, its dead letters, and its running tasks.
            assert sqs == {
                ("ApproximateNumberOfMessagesVisible", queue_name(queues.queue_id)),
                ("ApproximateAgeOfOldestMessage", queue_name(queues.queue_id)),
                ("ApproximateNumberOfMessagesVisible", queue_name(queues.dead_letter_queue_id)),
            }, name
            (running,) = [dims for ns, m, dims in graphed if m == "RunningTaskCount"]
            assert running["ServiceName"] == service_name
        else:
            assert sqs == set(), name
        if service.kind != "web":
            assert elb == [], name
            continue
        assert {dims["TargetGroup"] for _, dims in elb} == groups, name
        assert {m for m, _ in elb} >= {
            "TargetResponseTime",
            "RequestCount",
            "HTTPCode_Target_5XX_Count",
            "UnHealthyHostCount",
        }


@pytest.mark.parametrize("stage", STAGES)
def test_dashboard_has_a_row_per_job(synth: Synth, stage: str) -> None:
    if not synth.configs[stage].observability.dashboard:
        pytest.skip(f"{stage} has no dashboard (observability.dashboard: false)")
    jobs = _of_kind(synth, stage, "job")
    rows = _rows(_dashboard(_t(synth, stage))[1])
    job_rows = [h for h in rows if h.startswith("### Job ")]
    assert [h.split()[2] for h in job_rows] == list(jobs)
    for header, name in zip(job_rows, jobs, strict=True):
        job = _compute_job(synth, stage, name)
        graphed = _graphed(rows[header])
        machine = _output_name(synth, stage, {"Ref": job.state_machine_id})
        runs = {m: dims for ns, m, dims in graphed if ns == "AWS/States"}
        assert set(runs) >= {"ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"}
        assert {dims["StateMachineArn"] for dims in runs.values()} == {machine}
        dead_letters = _output_name(
            synth, stage, {"Fn::GetAtt": [job.dead_letter_queue_id, "QueueName"]}
        )
        assert [(m, dims) for ns, m, dims in graphed if ns == "AWS/SQS"] == [
            ("ApproximateNumberOfMessagesVisible", {"QueueName": dead_letters})
        ]
    # Jobs come after the services, before the database.
    headers = list(rows)
    if job_rows:
        assert headers.index(job_rows[0]) > max(
            i for i, h in enumerate(headers) if h.startswith("### Service ")
        )


# --- Edge relay, Slack ----------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_edge_alarms_are_relayed_to_the_environments_topic(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    t = config.observability.thresholds
    edge = synth.template(stage, "Edge")
    alarms = {k: props(a) for k, a in resources(edge, ALARM).items()}
    (rate,) = [a for k, a in alarms.items() if "CloudFront5xxRate" in k]
    (waf,) = [a for k, a in alarms.items() if "WafBlocked" in k]
    assert rate["Threshold"] == t.cloudfront_5xx_rate_percent
    assert waf["Threshold"] == t.waf_blocked_per_5_minutes
    assert {"Name": "WebACL", "Value": f"{stage}-Edge-WebAcl"} in waf["Dimensions"]
    # No SNS action across regions: an EventBridge rule forwards the state changes.
    assert all("AlarmActions" not in a for a in alarms.values())
    _, forward = only(edge, "AWS::Events::Rule")
    (target,) = props(forward)["Targets"]
    assert f":events:{config.region}:{config.account}:event-bus/default" in json.dumps(target)
    # In the environment's region, the relay rule matches exactly those alarms.
    monitoring = _t(synth, stage)
    (relay,) = [
        props(r)
        for r in resources(monitoring, "AWS::Events::Rule").values()
        if props(r)["EventPattern"]["source"] == ["aws.cloudwatch"]
    ]
    pattern = relay["EventPattern"]
    read = {r["Fn::GetStackOutput"]["OutputName"] for r in pattern["resources"]}
    assert {edge["Outputs"][o]["Value"]["Fn::GetAtt"][0] for o in read} == set(alarms)
    assert [t["Arn"] for t in relay["Targets"]] == [_topic(synth, stage)]


@pytest.mark.parametrize("stage", STAGES)
def test_slack_through_chatbot_where_config_asks(synth: Synth, stage: str) -> None:
    slack = synth.configs[stage].observability.slack
    template = _t(synth, stage)
    channels = resources(template, "AWS::Chatbot::SlackChannelConfiguration")
    if slack is None:
        assert channels == {}
        return
    assert stage == NEW_STAGE  # the session's Dev stage is the one that asks
    ((_, channel),) = channels.items()
    p = props(channel)
    assert (p["SlackWorkspaceId"], p["SlackChannelId"]) == (slack.workspace_id, slack.channel_id)
    topic_id, _ = only(template, "AWS::SNS::Topic")
    assert p["SnsTopicArns"] == [{"Ref": topic_id}]
    assert p.get("GuardrailPolicies")


def test_a_dashboard_only_where_config_asks_for_one(synth: Synth) -> None:
    for stage in STAGES:
        dashboards = resources(_t(synth, stage), "AWS::CloudWatch::Dashboard")
        assert len(dashboards) == int(synth.configs[stage].observability.dashboard), stage
    assert not synth.configs["Test"].observability.dashboard
