"""The Aurora kind of `PlatformDatabase`: an Aurora PostgreSQL or Aurora MySQL cluster (CDK's
`rds.DatabaseCluster`) with a writer and readers, Serverless v2 or provisioned, built with the
same key, security group, TLS-only parameters, IAM authentication, log exports, Performance
Insights, enhanced monitoring, backups, deletion protection and removal policy as the instance
kind.

Serverless v2 instances scale between `min_acu` and `max_acu`; at `min_acu` 0 an idle
instance pauses after `auto_pause_seconds` (the cluster's `SecondsUntilAutoPause`) and costs
nothing but storage until a connection resumes it. The writer sits in the first zone, the
readers in the others in turn; serverless readers scale with the writer (promotion tier 1),
so any of them can take over on failover at the writer's size.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct

from l3_constructs.compliance import acknowledge, skip_checkov, with_cost_note
from l3_constructs.database_props import (
    AURORA_LOG_EXPORTS,
    EXCLUDE_CHARACTERS,
    DatabaseProps,
    managed_policy_finding,
)
from l3_constructs.retention import retention_days


def build_cluster(
    scope: Construct,
    *,
    props: DatabaseProps,
    engine: rds.IClusterEngine,
    parameter_group: rds.IParameterGroup,
    key: kms.IKey,
    security_group: ec2.ISecurityGroup,
    vpc: ec2.IVpc,
    subnets: ec2.SubnetSelection,
) -> rds.DatabaseCluster:
    """The cluster `Cluster` in `scope`: writer `Writer`, readers `Reader1`..."""
    monitoring = props.monitoring_interval_seconds
    managed = props.managed_credentials
    capacity = props.serverless
    pause = capacity.auto_pause_seconds
    serverless = props.serverless_instances
    cluster = rds.DatabaseCluster(
        scope,
        "Cluster",
        engine=engine,
        writer=_instance(props, key, "Writer", 0),
        readers=[_instance(props, key, f"Reader{i}", i) for i in range(1, props.readers + 1)],
        serverless_v2_min_capacity=capacity.min_acu if serverless else None,
        serverless_v2_max_capacity=capacity.max_acu if serverless else None,
        serverless_v2_auto_pause_duration=Duration.seconds(pause)
        if serverless and pause is not None
        else None,
        vpc=vpc,
        vpc_subnets=subnets,
        security_groups=[security_group],
        port=props.port or None,
        default_database_name=props.database_name,
        credentials=rds.Credentials.from_username(props.username, encryption_key=key)
        if managed
        else rds.Credentials.from_generated_secret(
            props.username, encryption_key=key, exclude_characters=EXCLUDE_CHARACTERS
        ),
        manage_master_user_password=managed or None,
        parameter_group=parameter_group,
        storage_encrypted=True,
        storage_encryption_key=key,
        iam_authentication=True,
        deletion_protection=props.deletion_protection,
        removal_policy=RemovalPolicy[props.removal_policy.upper()],
        backup=rds.BackupProps(
            retention=Duration.days(props.backup_retention_days),
            preferred_window=props.backup_window,
        ),
        preferred_maintenance_window=props.maintenance_window,
        copy_tags_to_snapshot=True,
        monitoring_interval=Duration.seconds(monitoring) if monitoring else None,
        cloudwatch_logs_exports=AURORA_LOG_EXPORTS[props.engine],
        cloudwatch_logs_retention=retention_days(props.log_retention_days),
    )
    _acknowledge_findings(cluster, props)
    return cluster


def _instance(
    props: DatabaseProps, key: kms.IKey, instance_id: str, index: int
) -> rds.IClusterInstance:
    """The writer (index 0) or a reader, Serverless v2 or provisioned like the writer."""
    options: dict[str, Any] = {
        "publicly_accessible": False,
        "auto_minor_version_upgrade": True,
        "availability_zone": props.zone(index),
        "enable_performance_insights": props.performance_insights,
        "performance_insight_encryption_key": key if props.performance_insights else None,
    }
    if props.serverless_instances:
        if index:
            # Promotion tier 1: scales with the writer, so it can take over at its size.
            options["scale_with_writer"] = True
        return rds.ClusterInstance.serverless_v2(instance_id, **options)
    if index:
        options["promotion_tier"] = 1
    return rds.ClusterInstance.provisioned(
        instance_id, instance_type=ec2.InstanceType(props.instance_type), **options
    )


def _acknowledge_findings(cluster: rds.DatabaseCluster, props: DatabaseProps) -> None:
    if props.engine == "mysql":
        acknowledge(
            cluster,
            "AwsSolutions-RDS14",
            "Backtrack is a per-deployment cost the platform leaves off: point-in-time "
            f"recovery over {props.backup_retention_days} days (a restore to a new cluster) "
            "answers the same mistakes.",
        )
    instances = [
        cluster.node.find_child(name)
        for name in ("Writer", *(f"Reader{i}" for i in range(1, props.readers + 1)))
    ]
    for instance in instances:
        acknowledge(
            instance,
            "CloudFormation-Validate::W3010",
            "The zones are named in the props on purpose: the writer sits in the first, each "
            "reader in another, so a zone's loss leaves a reader to fail over to.",
        )
        acknowledge(
            instance,
            "NIST.800.53.R5-RDSInBackupPlan",
            f"An Aurora instance is backed up with its cluster: automated backups give a "
            f"{props.backup_retention_days}-day window of point-in-time recovery, and an AWS "
            "Backup plan, where the deployment wants one, selects the cluster by its ARN from "
            "a stack of its own (l3_constructs.database_backup).",
        )
        if not props.monitoring_interval_seconds:
            reason = with_cost_note(
                "Enhanced monitoring is turned off for this deployment in its props "
                "(monitoring_interval_seconds=0); Aurora still publishes its standard metrics.",
                props.monitoring_cost_note,
            )
            acknowledge(instance, "NIST.800.53.R5-RDSEnhancedMonitoringEnabled", reason)
            skip_checkov(instance, "CKV_AWS_118", reason)
    if not props.deletion_protection:
        acknowledge(
            cluster,
            ("AwsSolutions-RDS10", "NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled"),
            "Deletion protection is a per-deployment setting "
            "(DatabaseProps.deletion_protection); this deployment turns it off so its "
            "disposable cluster can be deleted with the stack.",
        )
    if props.monitoring_interval_seconds:
        acknowledge(
            cluster.node.find_child("MonitoringRole"),
            managed_policy_finding("AmazonRDSEnhancedMonitoringRole"),
            "AmazonRDSEnhancedMonitoringRole is the AWS-maintained policy RDS documents for "
            "this role; it only lets RDS write OS metrics to the RDSOSMetrics log group.",
        )
