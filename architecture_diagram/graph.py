"""What a stage's templates say is connected to what: nodes (grouped by stack) and edges."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cost_estimate.assembly import Resource, Stage, ref_id, refs, strings, task_definitions_in

_URL_RE = re.compile(r"^https?://([a-z0-9][a-z0-9-]*):\d+")
_DATABASE_TYPES = ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::RDS::DBProxy")
_IGNORED_HEADERS = ("x-origin-verify",)


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    stack: str
    #: Mermaid shape: `box`, `round` (people), `db` (cylinder), `queue` (subroutine), `hex`.
    shape: str = "box"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    dotted: bool = False


@dataclass
class Graph:
    stage: str
    #: Stack -> its label (with the region where it is not the stage's).
    stacks: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def add(self, node: Node) -> str:
        self.nodes.setdefault(node.id, node)
        return node.id

    def link(self, source: str, target: str, label: str = "", *, dotted: bool = False) -> None:
        edge = Edge(source, target, label, dotted)
        if source in self.nodes and target in self.nodes and edge not in self.edges:
            self.edges.append(edge)


def node_id(res: Resource) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", f"{res.stack}_{res.logical_id}")


def name_of(res: Resource) -> str:
    """The construct's own name: `web` of `/Prod/Compute/web/Service/Service`."""
    parts = (res.path or "").strip("/").split("/")
    # `/<stage>/<stack>/<name>/...`: the name is the third part.
    return parts[2] if len(parts) > 3 else res.logical_id


def _one(values: list[str]) -> str:
    return ", ".join(values)


def build(stage: Stage) -> Graph:
    """The graph of one stage."""
    regions = [s.region for s in stage.stacks.values()]
    home = max(set(regions), key=regions.count) if regions else ""
    graph = Graph(stage=stage.name)
    for stack in stage.stacks.values():
        where = f" ({stack.region})" if stack.region != home else ""
        graph.stacks[stack.name] = f"{stack.name} stack{where}"
    viewer = graph.add(Node("viewer", "Viewers", "", "round"))
    services = _services(stage, graph)
    _load_balancers(stage, graph, services)
    _edge(stage, graph, viewer)
    _service_connect(stage, graph, services)
    _data_stores(stage, graph, services)
    _queues(stage, graph, services)
    _jobs(stage, graph)
    _operations(stage, graph)
    return graph


# --- workloads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    node: str
    task: Resource


def _task_definition(stage: Stage, res: Resource, value: Any) -> Resource | None:
    logical_id = ref_id(value)
    found = stage.resource(res.stack, logical_id) if logical_id else None
    return found if found is not None and found.type == "AWS::ECS::TaskDefinition" else None


def _services(stage: Stage, graph: Graph) -> dict[str, Workload]:
    """ECS services (and their task definitions), by the service's node id."""
    found: dict[str, Workload] = {}
    for res in stage.of_type("AWS::ECS::Service"):
        task = _task_definition(stage, res, res.properties.get("TaskDefinition"))
        if task is None:
            continue
        desired = res.properties.get("DesiredCount", 1)
        kind = "web service" if res.properties.get("LoadBalancers") else "service"
        tasks = "from 0 tasks" if str(desired) == "0" else f"{desired} tasks"
        label = f"{name_of(res)}<br/>ECS {kind}, {tasks}"
        found[graph.add(Node(node_id(res), label, res.stack))] = Workload(node_id(res), task)
    return found


def _env_values(task: Resource) -> Iterator[Any]:
    for container in task.properties.get("ContainerDefinitions") or []:
        for variable in container.get("Environment") or []:
            yield variable.get("Value")
        for secret in container.get("Secrets") or []:
            yield secret.get("ValueFrom")


# --- edge ----------------------------------------------------------------------------------------


def _edge(stage: Stage, graph: Graph, viewer: str) -> None:
    for cdn in stage.of_type("AWS::CloudFront::Distribution"):
        config = cdn.properties.get("DistributionConfig") or {}
        aliases = [a for a in config.get("Aliases") or [] if isinstance(a, str)]
        cdn_id = graph.add(Node(node_id(cdn), f"CloudFront<br/>{_one(aliases)}", cdn.stack))
        graph.link(viewer, cdn_id, "HTTPS")
        acl = stage.resource(cdn.stack, ref_id(config.get("WebACLId")) or "")
        if acl is not None:
            rules = len(acl.properties.get("Rules") or [])
            acl_id = graph.add(
                Node(node_id(acl), f"WAF web ACL<br/>{rules} rules", acl.stack, "hex")
            )
            graph.link(acl_id, cdn_id, "filters", dotted=True)
        origins = {o.get("Id"): o for o in config.get("Origins") or []}
        routes: dict[str | None, list[str]] = {}
        default = (config.get("DefaultCacheBehavior") or {}).get("TargetOriginId")
        for behavior in config.get("CacheBehaviors") or []:
            routes.setdefault(behavior.get("TargetOriginId"), []).append(behavior["PathPattern"])
        routes.setdefault(default, []).append("default")
        for origin_id, paths in routes.items():
            target = _origin_node(stage, graph, origins.get(origin_id) or {}, cdn)
            if target:
                graph.link(cdn_id, target, _one(paths))


def _origin_node(stage: Stage, graph: Graph, origin: Mapping[str, Any], cdn: Resource) -> str:
    domain = origin.get("DomainName")
    bucket = stage.resource(cdn.stack, ref_id(domain) or "")
    if bucket is not None and bucket.type == "AWS::S3::Bucket":
        return graph.add(Node(node_id(bucket), "S3 static files", bucket.stack, "db"))
    if isinstance(domain, str):
        for record in stage.of_type("AWS::Route53::RecordSet"):
            if str(record.properties.get("Name", "")).rstrip(".") != domain:
                continue
            target = next(
                (
                    stage.resource(record.stack, i)
                    for i in refs(record.properties.get("AliasTarget"))
                ),
                None,
            )
            if target is not None:
                return node_id(target)
        return graph.add(Node(f"origin_{re.sub(r'[^a-z0-9]', '_', domain)}", domain, ""))
    return ""


# --- load balancers and routes -------------------------------------------------------------------


def _load_balancers(stage: Stage, graph: Graph, services: dict[str, Workload]) -> None:
    by_target_group = {
        ref_id(lb.get("TargetGroupArn")): node_id(svc)
        for svc in stage.of_type("AWS::ECS::Service")
        for lb in svc.properties.get("LoadBalancers") or []
    }
    for lb in stage.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer"):
        scheme = lb.properties.get("Scheme", "internet-facing")
        graph.add(Node(node_id(lb), f"Application Load Balancer<br/>{scheme}", lb.stack))
    for rule in stage.of_type("AWS::ElasticLoadBalancingV2::ListenerRule"):
        listener = stage.resource(rule.stack, ref_id(rule.properties.get("ListenerArn")) or "")
        lb_id = ref_id(listener.properties.get("LoadBalancerArn")) if listener else None
        balancer = stage.resource(rule.stack, lb_id or "")
        if balancer is None:
            continue
        for action in rule.properties.get("Actions") or []:
            groups = [action.get("TargetGroupArn")] + [
                g.get("TargetGroupArn")
                for g in (action.get("ForwardConfig") or {}).get("TargetGroups") or []
            ]
            for group in groups:
                target = by_target_group.get(ref_id(group))
                if target in services:
                    graph.link(node_id(balancer), target, _conditions(rule))


def _conditions(rule: Resource) -> str:
    shown: list[str] = []
    for condition in rule.properties.get("Conditions") or []:
        field_ = condition.get("Field")
        if field_ == "path-pattern":
            shown += (condition.get("PathPatternConfig") or {}).get("Values") or []
        elif field_ == "host-header":
            shown += (condition.get("HostHeaderConfig") or {}).get("Values") or []
        elif field_ == "http-header":
            config = condition.get("HttpHeaderConfig") or {}
            if str(config.get("HttpHeaderName", "")).lower() in _IGNORED_HEADERS:
                continue
            shown += [f"host {v}" for v in config.get("Values") or [] if isinstance(v, str)]
    return _one([str(s) for s in shown])


# --- services calling services, data, queues, jobs ----------------------------------------------


def _service_connect(stage: Stage, graph: Graph, services: dict[str, Workload]) -> None:
    aliases: dict[str, str] = {}
    for svc in stage.of_type("AWS::ECS::Service"):
        config = svc.properties.get("ServiceConnectConfiguration") or {}
        for server in config.get("Services") or []:
            for alias in server.get("ClientAliases") or []:
                aliases[str(alias.get("DnsName"))] = node_id(svc)
    for node, workload in services.items():
        for value in _env_values(workload.task):
            match = _URL_RE.match(value) if isinstance(value, str) else None
            if match and match.group(1) in aliases:
                graph.link(node, aliases[match.group(1)], "Service Connect")


def _data_stores(stage: Stage, graph: Graph, services: dict[str, Workload]) -> None:
    """A workload reads a database or bucket of another stack through a cross-stack value."""
    stores: dict[tuple[str, str], Resource] = {}
    for res in stage.of_type(*_DATABASE_TYPES, "AWS::S3::Bucket"):
        stack = stage.stacks[res.stack]
        if res.type == "AWS::RDS::DBInstance" and res.properties.get("DBClusterIdentifier"):
            continue  # the cluster stands for its instances
        stores[(stack.stack_name, res.logical_id)] = res
    workloads = list(services.values()) + [Workload("", t) for t in _job_tasks(stage)]
    for workload in workloads:
        for value in _env_values(workload.task):
            for stack_name, output in _cross_stack(value):
                for (name, logical_id), store in stores.items():
                    if name == stack_name and logical_id in output:
                        store_id = graph.add(
                            Node(node_id(store), _store_label(store), store.stack, "db")
                        )
                        source = workload.node or _job_node(stage, graph, workload.task)
                        graph.link(source, store_id, "reads/writes")


def _cross_stack(value: Any) -> Iterator[tuple[str, str]]:
    """(stack name, output or export name) of each cross-stack reference in `value`."""
    if isinstance(value, Mapping):
        output = value.get("Fn::GetStackOutput")
        if isinstance(output, Mapping):
            yield str(output.get("StackName")), str(output.get("OutputName"))
        imported = value.get("Fn::ImportValue")
        if isinstance(imported, str):
            stack, _, name = imported.partition(":")
            yield stack, name
        for inner in value.values():
            yield from _cross_stack(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _cross_stack(inner)


def _store_label(res: Resource) -> str:
    p = res.properties
    if res.type == "AWS::RDS::DBInstance":
        az = "Multi-AZ" if str(p.get("MultiAZ")).lower() == "true" else "Single-AZ"
        return f"RDS {p.get('Engine', '')}<br/>{p.get('DBInstanceClass', '')}, {az}"
    if res.type == "AWS::RDS::DBCluster":
        scaling = p.get("ServerlessV2ScalingConfiguration") or {}
        acu = (
            f"<br/>{scaling.get('MinCapacity')}-{scaling.get('MaxCapacity')} ACU" if scaling else ""
        )
        return f"Aurora {p.get('Engine', '')}{acu}"
    if res.type == "AWS::RDS::DBProxy":
        return "RDS Proxy"
    return "S3 app files"


def _queues(stage: Stage, graph: Graph, services: dict[str, Workload]) -> None:
    queues = {q.logical_id: q for q in stage.of_type("AWS::SQS::Queue")}
    dead_letter = {
        i
        for q in queues.values()
        for i in refs(q.properties.get("RedrivePolicy"))
    }  # fmt: skip
    for node, workload in services.items():
        role = ref_id(workload.task.properties.get("TaskRoleArn"))
        for policy in stage.of_type("AWS::IAM::Policy"):
            if policy.stack != workload.task.stack or role not in set(
                refs(policy.properties.get("Roles"))
            ):
                continue
            for statement in (policy.properties.get("PolicyDocument") or {}).get("Statement") or []:
                actions = statement.get("Action")
                actions = {actions} if isinstance(actions, str) else set(actions or [])
                for logical_id in refs(statement.get("Resource")):
                    queue = queues.get(logical_id)
                    if queue is None or logical_id in dead_letter or queue.stack != policy.stack:
                        continue
                    queue_id = graph.add(
                        Node(
                            node_id(queue), f"SQS queue<br/>{name_of(queue)}", queue.stack, "queue"
                        )
                    )
                    if "sqs:ReceiveMessage" in actions:
                        graph.link(queue_id, node, "receives")
                    elif "sqs:SendMessage" in actions:
                        graph.link(node, queue_id, "sends")


def _job_tasks(stage: Stage) -> list[Resource]:
    tasks = []
    for schedule in stage.of_type("AWS::Scheduler::Schedule"):
        task = _scheduled_task(stage, schedule)
        if task is not None:
            tasks.append(task)
    for migration in stage.resources():
        if migration.type.startswith("Custom::"):
            task = _task_definition(stage, migration, migration.properties.get("TaskDefinition"))
            if task is not None:
                tasks.append(task)
    return tasks


def _scheduled_task(stage: Stage, schedule: Resource) -> Resource | None:
    target = schedule.properties.get("Target") or {}
    machine = stage.resource(schedule.stack, ref_id(target.get("Arn")) or "")
    if machine is None:
        return None
    found = task_definitions_in(stage, schedule.stack, machine.properties.get("DefinitionString"))
    return found[0] if found else None


def _job_node(stage: Stage, graph: Graph, task: Resource) -> str:
    for schedule in stage.of_type("AWS::Scheduler::Schedule"):
        if _scheduled_task(stage, schedule) == task:
            when = schedule.properties.get("ScheduleExpression", "")
            return graph.add(Node(node_id(task), f"{name_of(task)}<br/>job, {when}", task.stack))
    return graph.add(
        Node(node_id(task), f"{name_of(task).lower()}<br/>one-shot task, each release", task.stack)
    )


def _jobs(stage: Stage, graph: Graph) -> None:
    for schedule in stage.of_type("AWS::Scheduler::Schedule"):
        task = _scheduled_task(stage, schedule)
        if task is not None:
            job = _job_node(stage, graph, task)
            timer = graph.add(
                Node(node_id(schedule), "EventBridge Scheduler", schedule.stack, "hex")
            )
            graph.link(timer, job, "starts (Step Functions)")


def _endpoint_name(service: str) -> str:
    """`ecr.api` of `com.amazonaws.ap-northeast-1.ecr.api`."""
    parts = service.split(".")
    return ".".join(parts[3:]) if service.startswith("com.amazonaws.") else service


def _operations(stage: Stage, graph: Graph) -> None:
    """Monitoring, pipeline, network and security at a glance: one node each."""
    topics = stage.of_type("AWS::SNS::Topic")
    alarms = len(stage.of_type("AWS::CloudWatch::Alarm"))
    for topic in topics:
        if topic.stack == "Monitoring":
            graph.add(Node(node_id(topic), f"Alarm topic<br/>{alarms} alarms", topic.stack, "hex"))
            for budget in stage.of_type("AWS::Budgets::Budget"):
                limit = (budget.properties.get("Budget") or {}).get("BudgetLimit") or {}
                budget_id = graph.add(
                    Node(
                        node_id(budget),
                        f"Budget<br/>${limit.get('Amount')}/month",
                        budget.stack,
                        "hex",
                    )
                )
                graph.link(budget_id, node_id(topic), "80 % forecast, 100 % actual")
    for canary in stage.of_type("AWS::Synthetics::Canary"):
        every = (canary.properties.get("Schedule") or {}).get("Expression", "")
        canary_id = graph.add(Node(node_id(canary), f"Canary<br/>{every}", canary.stack))
        for cdn in stage.of_type("AWS::CloudFront::Distribution"):
            graph.link(canary_id, node_id(cdn), "health path", dotted=True)
    for pipeline in stage.of_type("AWS::CodePipeline::Pipeline"):
        builds = len(
            [p for p in stage.of_type("AWS::CodeBuild::Project") if p.stack == pipeline.stack]
        )
        graph.add(
            Node(node_id(pipeline), f"CodePipeline<br/>{builds} CodeBuild projects", pipeline.stack)
        )
    for vpc in stage.of_type("AWS::EC2::VPC"):
        nats = len(stage.of_type("AWS::EC2::NatGateway"))
        endpoints = [
            _endpoint_name("".join(strings(e.properties.get("ServiceName"))))
            for e in stage.of_type("AWS::EC2::VPCEndpoint")
            if e.properties.get("VpcEndpointType") == "Interface"
        ]
        label = f"VPC {vpc.properties.get('CidrBlock', '')}<br/>{nats} NAT gateways"
        if endpoints:
            label += f", endpoints: {_one(sorted(endpoints))}"
        graph.add(Node(node_id(vpc), label, vpc.stack))
    names = {
        "AWS::GuardDuty::Detector": "GuardDuty",
        "AWS::Config::ConfigurationRecorder": "Config",
        "AWS::CloudTrail::Trail": "CloudTrail",
    }
    guards = [t for t in names if stage.of_type(t)]
    if guards:
        first = stage.of_type(guards[0])[0]
        graph.add(Node("security_baseline", _one([names[g] for g in guards]), first.stack, "hex"))
