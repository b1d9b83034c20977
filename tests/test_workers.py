"""Workers (issue: background work): each worker's queue and dead-letter queue, who may send
and receive, the backlog-per-task scaling (and the start from zero), the graceful stop."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.services import QUEUE_VARIABLE, queue_variable
from tests.conftest import NEW_STAGE, SHIPPED_STAGES, Synth
from tests.helpers import is_key_arn, key_of, props, ref_id, resources

STAGES = (*SHIPPED_STAGES, NEW_STAGE)
WORKERS = [pytest.param(stage, "worker", id=f"{stage}-worker") for stage in STAGES]


def _t(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "Compute")


def _of(template: dict[str, Any], prefix: str, type_name: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in resources(template, type_name).items() if k.startswith(prefix)}


def _queues(template: dict[str, Any], name: str) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    """(queue id, queue, dead-letter queue id, dead-letter queue) of worker `name`."""
    queues = _of(template, f"{name}Queue", "AWS::SQS::Queue")
    ((dlq_id, dlq),) = [(k, q) for k, q in queues.items() if "DeadLetter" in k]
    ((queue_id, queue),) = [(k, q) for k, q in queues.items() if "DeadLetter" not in k]
    return queue_id, queue, dlq_id, dlq


def _container(template: dict[str, Any], name: str) -> dict[str, Any]:
    ((_, task),) = _of(template, f"{name}TaskDefinition", "AWS::ECS::TaskDefinition").items()
    (container, *_) = props(task)["ContainerDefinitions"]
    return dict(container)


def _statements(template: dict[str, Any], role_ref: Any) -> list[dict[str, Any]]:
    role_id = ref_id(role_ref)
    return [
        s
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in props(p)["Roles"]
        for s in props(p)["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_every_stage_has_the_shipped_worker(synth: Synth) -> None:
    for stage in STAGES:
        assert synth.configs[stage].services["worker"].kind == "worker"


@pytest.mark.parametrize(("stage", "name"), WORKERS)
def test_queue_and_dead_letter_queue(synth: Synth, stage: str, name: str) -> None:
    q = synth.configs[stage].services[name].queue
    template = _t(synth, stage)
    queue_id, queue, dlq_id, dlq = _queues(template, name)
    p = props(queue)
    assert p["VisibilityTimeout"] == q.visibility_timeout_seconds
    assert p["MessageRetentionPeriod"] == q.retention_days * 86_400
    assert p["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": q.max_receive_count,
    }
    assert props(dlq)["MessageRetentionPeriod"] == q.dead_letter_retention_days * 86_400
    for one in (queue, dlq):
        # The cluster's customer-managed key (the Network stack's when shared).
        assert is_key_arn(props(one)["KmsMasterKeyId"], key_of(synth, stage, "Compute")[1])
    # SSL-only: each queue's policy denies requests without TLS.
    policies = resources(template, "AWS::SQS::QueuePolicy")
    for queue_ref in (queue_id, dlq_id):
        (policy,) = [p for p in policies.values() if {"Ref": queue_ref} in props(p)["Queues"]]
        (deny,) = props(policy)["PolicyDocument"]["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize(("stage", "name"), WORKERS)
def test_worker_gets_its_queue_and_may_only_consume_it(synth: Synth, stage: str, name: str) -> None:
    s = synth.configs[stage].services[name]
    template = _t(synth, stage)
    queue_id, _, _, _ = _queues(template, name)
    container = _container(template, name)
    environment = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
    assert environment[QUEUE_VARIABLE] == {"Ref": queue_id}
    # No port: a worker serves no requests (and gets no PORT, no port mapping).
    assert "PortMappings" not in container or container["PortMappings"] == []
    assert "PORT" not in environment
    assert container["StopTimeout"] == s.stop_timeout_seconds
    ((_, task),) = _of(template, f"{name}TaskDefinition", "AWS::ECS::TaskDefinition").items()
    sqs = [st for st in _statements(template, props(task)["TaskRoleArn"]) if "sqs:" in str(st)]
    (consume,) = sqs
    assert sorted(_actions(consume)) == [
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
    ]
    assert consume["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}


@pytest.mark.parametrize("stage", STAGES)
def test_publishers_may_only_send_to_the_queues_they_list(synth: Synth, stage: str) -> None:
    config = synth.configs[stage]
    template = _t(synth, stage)
    queue_arns = {
        name: {"Fn::GetAtt": [_queues(template, name)[0], "Arn"]}
        for name, s in config.services.items()
        if s.kind == "worker"
    }
    for name, s in config.services.items():
        if s.kind == "worker":
            continue
        ((_, task),) = _of(template, f"{name}TaskDefinition", "AWS::ECS::TaskDefinition").items()
        sends = [
            st["Resource"]
            for st in _statements(template, props(task)["TaskRoleArn"])
            if "sqs:SendMessage" in _actions(st)
        ]
        assert sends == [queue_arns[w] for w in s.publishes_to], name
        environment = {
            e["Name"]: e["Value"] for e in _container(template, name).get("Environment", [])
        }
        for worker in s.publishes_to:
            queue_id = queue_arns[worker]["Fn::GetAtt"][0]
            assert environment[queue_variable(worker)] == {"Ref": queue_id}
        # Nobody else receives from a worker's queue.
        receives = [
            st
            for st in _statements(template, props(task)["TaskRoleArn"])
            if "sqs:ReceiveMessage" in _actions(st)
        ]
        assert receives == []


def test_the_api_publishes_to_the_worker(synth: Synth) -> None:
    for stage in SHIPPED_STAGES:
        assert synth.configs[stage].services["api"].publishes_to == ("worker",)


@pytest.mark.parametrize(("stage", "name"), WORKERS)
def test_backlog_per_task_scaling_and_the_start_from_zero(
    synth: Synth, stage: str, name: str
) -> None:
    s = synth.configs[stage].services[name]
    template = _t(synth, stage)
    ((_, target),) = _of(
        template, f"{name}Service", "AWS::ApplicationAutoScaling::ScalableTarget"
    ).items()
    assert (props(target)["MinCapacity"], props(target)["MaxCapacity"]) == (
        s.capacity.min,
        s.capacity.max,
    )
    policies = _of(template, f"{name}Service", "AWS::ApplicationAutoScaling::ScalingPolicy")
    if synth.configs[stage].compute.container_insights == "disabled":
        _assert_backlog_steps(template, policies, s)
        return
    by_type = {props(p)["PolicyType"]: props(p) for p in policies.values()}
    # Target tracking on a metric-math backlog per task; no CPU or memory policy.
    tracking = by_type["TargetTrackingScaling"]["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == s.queue.backlog_per_task
    assert "PredefinedMetricSpecification" not in tracking
    metrics = tracking["CustomizedMetricSpecification"]["Metrics"]
    expressions = [m["Expression"] for m in metrics if "Expression" in m]
    assert expressions == ["IF(tasks > 0, visible / tasks, visible)"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in metrics if "MetricStat" in m}
    assert names == {"ApproximateNumberOfMessagesVisible", "RunningTaskCount"}
    queue_id, _, _, _ = _queues(template, name)
    assert {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}} in [
        d for m in metrics if "MetricStat" in m for d in m["MetricStat"]["Metric"]["Dimensions"]
    ]
    step = [p for p in policies.values() if props(p)["PolicyType"] == "StepScaling"]
    if s.capacity.min > 0:
        assert step == []
        return
    # From zero: one step policy adds a task when messages wait and none runs.
    (start,) = step
    adjustments = props(start)["StepScalingPolicyConfiguration"]["StepAdjustments"]
    assert {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1} in adjustments
    alarms = [
        a
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if "IF(tasks > 0, 0, visible)" in json.dumps(props(a))
    ]
    assert alarms
    assert all(props(a)["Threshold"] == 1 for a in alarms if ">=" not in json.dumps(a))


@pytest.mark.parametrize(("stage", "name"), WORKERS)
def test_worker_has_no_route_and_no_service_connect_name(
    synth: Synth, stage: str, name: str
) -> None:
    template = _t(synth, stage)
    ((_, service),) = _of(template, f"{name}Service", "AWS::ECS::Service").items()
    assert not props(service).get("LoadBalancers")
    assert "ServiceConnectConfiguration" not in props(service)
    assert _of(template, name, "AWS::ElasticLoadBalancingV2::ListenerRule") == {}


def _assert_backlog_steps(template: Any, policies: dict[str, Any], s: Any) -> None:
    """Without Container Insights (no running-task metric): step scaling sets the task count
    from the backlog alone: min while the queue is empty, one task per backlog_per_task
    visible messages (rounded up), at most max."""
    configs = [props(p)["StepScalingPolicyConfiguration"] for p in policies.values()]
    assert {props(p)["PolicyType"] for p in policies.values()} == {"StepScaling"}
    assert {c["AdjustmentType"] for c in configs} == {"ExactCapacity"}
    counts = sorted(a["ScalingAdjustment"] for c in configs for a in c["StepAdjustments"])
    assert counts == [s.capacity.min, *range(max(s.capacity.min, 1), s.capacity.max + 1)]
    upper = next(
        c for c in configs if any("MetricIntervalLowerBound" in a for a in c["StepAdjustments"])
    )
    bounds = sorted(a.get("MetricIntervalLowerBound", 0) for a in upper["StepAdjustments"])
    per_task = s.queue.backlog_per_task
    # Alarm at 1 visible message; each further task after another backlog_per_task.
    assert bounds == [i * per_task for i in range(len(bounds))]
    assert "RunningTaskCount" not in json.dumps(template)
