"""Monitoring stack: thin wiring from config to `PlatformMonitoring` (the environment's region).

It reads every service (its ECS service, log group, serving target groups and, for a worker,
its queue, with the oldest-message threshold from config), every job (its task definition
family, state machine and schedule dead-letter queue) and the load balancer from Compute,
the database (the instance and its replicas, or the cluster, and the proxy) from Database,
and the distribution id, web ACL metric name and edge alarms from Edge (us-east-1, whose
alarm state changes reach this stack's topic through EventBridge). Compute never depends on
Monitoring: the job-failure rules live here, on the events ECS and Step Functions publish
anyway. The canary calls the default web service's health path unless
`observability.canary.path` names another. The environment's monthly budget
(`cost.budget_usd`, on its `Environment` tag) pages the same topic, and the stack's metadata
carries the budget and usage assumptions `make cost` prices with.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from config.cost import COST_METADATA_TYPE, cost_metadata
from config.models import EnvironmentConfig
from l3_constructs.budget import BudgetProps, PlatformBudget
from l3_constructs.database import PlatformDatabase
from l3_constructs.monitoring_props import MonitoredDatabase
from l3_constructs.network import PlatformNetwork
from l3_constructs.observability import (
    MonitoredJob,
    MonitoredQueue,
    MonitoredService,
    MonitoringProps,
    PlatformMonitoring,
)
from stacks.base import PlatformStack
from stacks.compute_stack import ComputeStack
from stacks.database_stack import DatabaseStack
from stacks.edge_stack import EdgeStack


class MonitoringStack(PlatformStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        network: PlatformNetwork,
        compute: ComputeStack,
        database: DatabaseStack,
        edge: EdgeStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, config=config, **kwargs)
        o = config.observability
        t = o.thresholds
        canary_path = o.canary.path or config.services[config.default_service].health_check.path
        self.monitoring = PlatformMonitoring(
            self,
            "Monitoring",
            props=MonitoringProps(
                alarm_emails=o.alarm_emails,
                slack_workspace_id=o.slack.workspace_id if o.slack else None,
                slack_channel_id=o.slack.channel_id if o.slack else None,
                ecs_cpu_percent=t.ecs_cpu_percent,
                ecs_memory_percent=t.ecs_memory_percent,
                alb_5xx_per_5_minutes=t.alb_5xx_per_5_minutes,
                p95_response_time_seconds=t.response_time_p95_ms / 1000,
                unhealthy_targets=t.unhealthy_targets,
                rds_cpu_percent=t.rds_cpu_percent,
                rds_connections_percent=t.rds_connections_percent,
                rds_max_connections=t.rds_max_connections,
                rds_free_storage_gib=t.rds_free_storage_gb,
                rds_replica_lag_seconds=t.rds_replica_lag_seconds,
                rds_capacity_percent=t.rds_capacity_percent,
                error_log_pattern=o.error_log_pattern,
                error_logs_per_5_minutes=t.error_logs_per_5_minutes,
                dashboard=o.dashboard,
                canary_enabled=o.canary.enabled,
                canary_url=f"{edge.edge.url}{canary_path}",
                canary_interval_minutes=o.canary.interval_minutes,
                canary_retention_days=o.log_retention_days,
            ),
            services=[
                MonitoredService(
                    name=name,
                    service=service.service,
                    log_group=service.log_group,
                    target_groups=tuple(service.serving_target_groups()),
                    queue=MonitoredQueue(
                        queue=compute.queues[name].queue,
                        dead_letter_queue=compute.queues[name].dead_letter_queue,
                        oldest_message_alarm_seconds=(
                            config.services[name].queue.oldest_message_alarm_seconds
                        ),
                    )
                    if name in compute.queues
                    else None,
                )
                for name, service in compute.services.items()
            ],
            jobs=[
                MonitoredJob(
                    name=name,
                    family=job.task_definition.family,
                    state_machine=job.state_machine,
                    dead_letter_queue=job.dead_letter_queue,
                )
                for name, job in compute.jobs.items()
            ],
            load_balancer=compute.load_balancer.load_balancer,
            database=_monitored(config, database.database),
            distribution_id=edge.edge.distribution.distribution_id,
            web_acl_metric_name=edge.edge.web_acl_metric_name,
            edge_alarm_arns=edge.alarms.alarm_arns,
            # `data_protection.shared_key`: the Network stack's key, else one of its own.
            key=network.shared_key,
        )
        # The month's spend on everything tagged with this environment pages the same topic.
        self.budget = PlatformBudget(
            self,
            "Budget",
            props=BudgetProps(
                name=f"{config.stage_name}-monthly-cost",
                amount_usd=config.cost.budget_usd,
                tag_key="Environment",
                tag_value=config.tags.environment,
            ),
            topic=self.monitoring.topic,
            key=self.monitoring.key,
        )
        # What `make cost` needs besides the templates (cost_estimate/, README "Cost").
        self.node.add_metadata(
            COST_METADATA_TYPE,
            cost_metadata(
                config.cost, region=config.region, environment_tag=config.tags.environment
            ),
        )


def _monitored(config: EnvironmentConfig, database: PlatformDatabase) -> MonitoredDatabase:
    db = config.database
    return MonitoredDatabase(
        engine=db.engine,
        instance_class=db.instance_type,
        instance=database.instance,
        replicas=tuple(database.replicas),
        cluster_identifier=database.cluster.cluster_identifier if database.cluster else None,
        readers=db.readers,
        max_acu=db.serverless.max_acu if db.serverless_instances else None,
        proxy_name=database.proxy.proxy.db_proxy_name if database.proxy else None,
    )
