"""PlatformDatabase: the environment's database in isolated subnets, encrypted with its own KMS
key, TLS-only, IAM authentication on, its master credentials in Secrets Manager.

Either one RDS instance (`kind: instance`, Multi-AZ by props, optional read replicas in the
other zones; built here) or an Aurora cluster (`kind: aurora`, Serverless v2 or provisioned
writer and readers; `l3_constructs.database_cluster`), optionally behind an RDS Proxy
(`l3_constructs.database_proxy`). The credentials are a generated secret rotated by AWS's
hosted rotation function, or RDS's own master-user secret (rotated by RDS).

Knows nothing of environments: every choice arrives in `DatabaseProps`.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IConstruct

from l3_constructs.compliance import acknowledge, skip_checkov, with_cost_note
from l3_constructs.database_cluster import build_cluster
from l3_constructs.database_props import (
    AURORA_PARAMETERS,
    DEFAULT_PORTS,
    EXCLUDE_CHARACTERS,
    LOG_EXPORTS,
    PARAMETERS,
    DatabaseProps,
    cluster_engine,
    instance_engine,
    managed_policy_finding,
    validate,
)
from l3_constructs.database_proxy import PlatformDatabaseProxy
from l3_constructs.retention import retention_days

#: Why an instance names its zone (cfn-lint W3010 would have it left to RDS).
_ZONES_NAMED = (
    "The zones are named in the props on purpose: the primary sits in the first, each read "
    "replica in another, so a zone's loss leaves a copy of the data elsewhere."
)
#: Construct id of CDK's per-stack log-retention function (aws_logs.LogRetention).
_LOG_RETENTION_ID = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"


class PlatformDatabase(Construct):
    """The database, reached only by the security groups given to `allow_connections_from`
    (through the proxy, where there is one) and `allow_writer_connections_from`.

    Exposes `key`, `secret`, `security_group`, `port`, `engine`, `kind`, `username`;
    `instance` and `replicas` (instance kind) or `cluster` (Aurora); `proxy` (or None);
    `host` (what services connect to: the proxy, else the writer), `writer_host` (the writer
    itself, for the migration), `reader_host` (the readers: the proxy's read-only endpoint,
    the cluster's reader endpoint or the first replica; `host` when there are none) and
    `iam_auth_required` (the proxy takes IAM authentication only).

    With `rotated_by_lambda` the secret is rotated by a Lambda function from the Serverless
    Application Repository, placed in `rotation_subnets` (default: the database's subnets).
    In isolated subnets it reaches Secrets Manager only through the VPC's `secretsmanager`
    interface endpoint, so the VPC must have one (with private DNS) or rotation fails.
    `managed_by_rds` needs neither function nor route: RDS rotates its own secret.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: DatabaseProps,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        rotation_subnets: ec2.SubnetSelection | None = None,
        key: kms.Key | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        validate(props)
        self.props = props
        self.kind: str = props.kind
        self.engine: str = props.engine
        self.username: str = props.username
        self.port: int = props.port or DEFAULT_PORTS[props.engine]
        destroy = props.removal_policy == "destroy"

        # `key`: the environment's shared key (`data_protection.shared_key`), else its own.
        self.key = key or kms.Key(
            self,
            "Key",
            description=f"Encrypts the database and its secret in {Stack.of(self).stack_name}",
            enable_key_rotation=True,
            # Snapshots and retained instances stay readable only while the key exists.
            removal_policy=RemovalPolicy.DESTROY if destroy else RemovalPolicy.RETAIN,
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Database: the engine port from allowed security groups only",
            allow_all_outbound=False,
        )
        # The instance's own `connections` carry its port as an attribute (a token) that
        # cdk-nag cannot read; these carry the literal port the instance is created with.
        self._connections = ec2.Connections(
            security_groups=[self.security_group], default_port=ec2.Port.tcp(self.port)
        )
        self.instance: rds.DatabaseInstance | None = None
        self.replicas: list[rds.DatabaseInstanceReadReplica] = []
        self.cluster: rds.DatabaseCluster | None = None
        rotation_application: secretsmanager.SecretRotationApplication
        if props.aurora:
            engine = cluster_engine(props)
            rotation_application = engine.single_user_rotation_application
            self.cluster = build_cluster(
                self,
                props=props,
                engine=engine,
                parameter_group=self._parameter_group(engine, AURORA_PARAMETERS[props.engine]),
                key=self.key,
                security_group=self.security_group,
                vpc=vpc,
                subnets=subnets,
            )
            database: rds.DatabaseInstance | rds.DatabaseCluster = self.cluster
            self.writer_host: str = self.cluster.cluster_endpoint.hostname
            readers = self.cluster.cluster_read_endpoint.hostname if props.readers else None
        else:
            instance_engine_ = instance_engine(props)
            rotation_application = instance_engine_.single_user_rotation_application
            parameter_group = self._parameter_group(instance_engine_, PARAMETERS[props.engine])
            self.instance = self._instance(props, instance_engine_, parameter_group, vpc, subnets)
            self.replicas = [
                self._replica(props, i, parameter_group, vpc, subnets)
                for i in range(1, props.read_replicas + 1)
            ]
            database = self.instance
            self.writer_host = self.instance.db_instance_endpoint_address
            readers = self.replicas[0].db_instance_endpoint_address if self.replicas else None
        if database.secret is None:  # generated or managed credentials always make one
            raise RuntimeError("the database has no secret")
        self.secret: secretsmanager.ISecret = database.secret
        if not props.managed_credentials:
            if not destroy:
                # The rotated password lives only in the secret: keep it with the final
                # snapshot.
                generated = cast("rds.DatabaseSecret", database.node.find_child("Secret"))
                generated.apply_removal_policy(RemovalPolicy.RETAIN)
            self._add_rotation(
                database, rotation_application, vpc, rotation_subnets or subnets, props
            )

        self.proxy = (
            PlatformDatabaseProxy(
                self,
                "Proxy",
                target=self._proxy_target(props),
                secret=self.secret,
                port=self.port,
                readers=props.aurora and props.readers > 0,
                vpc=vpc,
                subnets=subnets,
            )
            if props.proxy
            else None
        )
        if self.proxy and self.cluster:
            # The proxy registers the cluster once its instances are up.
            self.proxy.target_group.node.add_dependency(self.cluster)
        self.host: str = self.proxy.endpoint if self.proxy else self.writer_host
        if self.proxy and self.proxy.read_only_endpoint:
            readers = self.proxy.read_only_endpoint
        self.reader_host: str = readers or self.host
        self.iam_auth_required = self.proxy is not None
        #: The instance's or cluster's ARN (what an AWS Backup selection names).
        self.arn: str = (
            self.cluster.cluster_arn
            if self.cluster
            else cast("rds.DatabaseInstance", self.instance).instance_arn
        )
        self._acknowledge_findings(props, database)

    # --- parts ------------------------------------------------------------------------------

    def _parameter_group(
        self, engine: rds.IEngine, parameters: dict[str, str]
    ) -> rds.ParameterGroup:
        return rds.ParameterGroup(
            self,
            "ParameterGroup",
            engine=engine,
            description="Refuses connections without TLS",
            parameters=parameters,
        )

    def _proxy_target(self, props: DatabaseProps) -> rds.ProxyTarget:
        """The writer as the proxy's target, seen through `_connections`: the target admits
        the proxy on its port, and the instance's or cluster's own `connections` carry that
        port as an attribute (a token) cdk-nag cannot read."""
        security_groups = [self.security_group]
        if self.cluster:
            return rds.ProxyTarget.from_cluster(
                rds.DatabaseCluster.from_database_cluster_attributes(
                    self,
                    "ProxyTargetCluster",
                    cluster_identifier=self.cluster.cluster_identifier,
                    engine=cluster_engine(props),
                    port=self.port,
                    security_groups=security_groups,
                )
            )
        assert self.instance is not None
        return rds.ProxyTarget.from_instance(
            rds.DatabaseInstance.from_database_instance_attributes(
                self,
                "ProxyTargetInstance",
                instance_identifier=self.instance.instance_identifier,
                instance_endpoint_address=self.instance.db_instance_endpoint_address,
                engine=instance_engine(props),
                port=self.port,
                security_groups=security_groups,
            )
        )

    def _instance(
        self,
        props: DatabaseProps,
        engine: rds.IInstanceEngine,
        parameter_group: rds.ParameterGroup,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
    ) -> rds.DatabaseInstance:
        monitoring = props.monitoring_interval_seconds
        managed = props.managed_credentials
        return rds.DatabaseInstance(
            self,
            "Instance",
            engine=engine,
            instance_type=ec2.InstanceType(props.instance_type),
            vpc=vpc,
            vpc_subnets=subnets,
            # A single-AZ primary with replicas sits in the first zone, its replicas in the
            # others (a Multi-AZ primary cannot be pinned: RDS picks its two zones).
            availability_zone=props.zone(0) if props.read_replicas and not props.multi_az else None,
            security_groups=[self.security_group],
            port=self.port,
            publicly_accessible=False,
            database_name=props.database_name,
            credentials=rds.Credentials.from_username(props.username, encryption_key=self.key)
            if managed
            else rds.Credentials.from_generated_secret(
                props.username, encryption_key=self.key, exclude_characters=EXCLUDE_CHARACTERS
            ),
            manage_master_user_password=managed or None,
            parameter_group=parameter_group,
            storage_type=rds.StorageType.GP3,
            allocated_storage=props.allocated_storage_gb,
            max_allocated_storage=props.max_allocated_storage_gb,
            storage_encrypted=True,
            storage_encryption_key=self.key,
            multi_az=props.multi_az,
            backup_retention=Duration.days(props.backup_retention_days),
            preferred_backup_window=props.backup_window,
            preferred_maintenance_window=props.maintenance_window,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            iam_authentication=True,
            deletion_protection=props.deletion_protection,
            removal_policy=RemovalPolicy[props.removal_policy.upper()],
            enable_performance_insights=props.performance_insights,
            performance_insight_encryption_key=self.key if props.performance_insights else None,
            monitoring_interval=Duration.seconds(monitoring) if monitoring else None,
            cloudwatch_logs_exports=LOG_EXPORTS[props.engine],
            cloudwatch_logs_retention=retention_days(props.log_retention_days),
        )

    def _replica(
        self,
        props: DatabaseProps,
        index: int,
        parameter_group: rds.ParameterGroup,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
    ) -> rds.DatabaseInstanceReadReplica:
        """A read replica like the primary, in a zone after the first. It holds no data of
        its own: no deletion protection (lowering read_replicas deletes it) and no
        snapshot on delete; backups stay the primary's."""
        assert self.instance is not None
        monitoring = props.monitoring_interval_seconds
        replica = rds.DatabaseInstanceReadReplica(
            self,
            f"Replica{index}",
            source_database_instance=self.instance,
            instance_type=ec2.InstanceType(props.instance_type),
            vpc=vpc,
            vpc_subnets=subnets,
            availability_zone=props.zone(index),
            security_groups=[self.security_group],
            publicly_accessible=False,
            parameter_group=parameter_group,
            storage_type=rds.StorageType.GP3,
            max_allocated_storage=props.max_allocated_storage_gb,
            # Encrypted with its source's key: RDS takes no encryption settings for a
            # replica in the source's region.
            multi_az=False,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            iam_authentication=True,
            deletion_protection=False,
            removal_policy=RemovalPolicy.DESTROY,
            enable_performance_insights=props.performance_insights,
            performance_insight_encryption_key=self.key if props.performance_insights else None,
            monitoring_interval=Duration.seconds(monitoring) if monitoring else None,
            cloudwatch_logs_exports=LOG_EXPORTS[props.engine],
            cloudwatch_logs_retention=retention_days(props.log_retention_days),
        )
        reason = (
            "A read replica holds no data of its own (the primary's copy): lowering "
            "read_replicas must delete it, so it has no deletion protection; the primary "
            "keeps its deletion protection, backups and final snapshot."
        )
        acknowledge(
            replica,
            ("AwsSolutions-RDS10", "NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled"),
            reason,
        )
        acknowledge(
            replica,
            ("AwsSolutions-RDS3", "NIST.800.53.R5-RDSMultiAZSupport"),
            "A read replica is a copy in another zone than its primary; its availability "
            "comes from the primary (Multi-AZ by config) and the other replicas.",
        )
        acknowledge(
            replica,
            ("NIST.800.53.R5-RDSInBackupPlan", "NIST.800.53.R5-RDSInstanceBackupEnabled"),
            "A read replica is backed up through its primary (automated backups, snapshots "
            "and any AWS Backup plan select the primary); RDS keeps no backups of it.",
        )
        skip_checkov(replica, "CKV_AWS_157", reason)
        acknowledge(replica, "CloudFormation-Validate::W3010", _ZONES_NAMED)
        if self.port == DEFAULT_PORTS[props.engine]:
            acknowledge(
                replica,
                "AwsSolutions-RDS11",
                "The replica listens on its primary's port, the engine's default on purpose: "
                "the security group admits it only from named security groups, never CIDRs.",
            )
        encrypted = (
            "A read replica in its source's region is encrypted with the source's key "
            "(RDS takes no encryption settings for it; CloudFormation refuses them)."
        )
        acknowledge(
            replica,
            ("AwsSolutions-RDS2", "NIST.800.53.R5-RDSStorageEncrypted"),
            encrypted,
        )
        skip_checkov(replica, "CKV_AWS_16", encrypted)
        if monitoring:
            acknowledge(
                replica.node.find_child("MonitoringRole"),
                managed_policy_finding("AmazonRDSEnhancedMonitoringRole"),
                "AmazonRDSEnhancedMonitoringRole is the AWS-maintained policy RDS documents for "
                "this role; it only lets RDS write OS metrics to the RDSOSMetrics log group.",
            )
        return replica

    def _add_rotation(
        self,
        database: rds.DatabaseInstance | rds.DatabaseCluster,
        application: secretsmanager.SecretRotationApplication,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        props: DatabaseProps,
    ) -> None:
        rotation_security_group = ec2.SecurityGroup(
            self,
            "RotationSecurityGroup",
            vpc=vpc,
            description="Secret rotation function: the database and the Secrets Manager API",
            allow_all_outbound=False,
        )
        rotation_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "Secrets Manager API (endpoint or NAT)"
        )
        # What `add_rotation_single_user()` builds (same scope, id and resources: a
        # Serverless Application Repository app and a rotation schedule), but admitted to
        # the database through `_connections`, so its ingress rule names the literal port.
        secretsmanager.SecretRotation(
            database,
            "RotationSingleUser",
            application=application,
            secret=self.secret,
            target=self._connections,
            vpc=vpc,
            vpc_subnets=subnets,
            security_group=rotation_security_group,
            automatically_after=Duration.days(props.rotation_days),
            exclude_characters=EXCLUDE_CHARACTERS,
        )

    # --- consumers --------------------------------------------------------------------------

    def secret_for(self, scope: Construct, id: str) -> secretsmanager.ISecret:
        """The credentials secret as seen from `scope` in another stack (e.g. a service that
        injects them as ECS secrets).

        A reference (secret and key imported by ARN): granting a consumer's role read
        access then only writes that role's policy; call `grant_secret_read` for the key.
        Granting on `secret` itself would also put the role's ARN into this stack's key
        policy, making this stack depend on its consumer while the consumer depends on it
        (a cycle): the database must not know who reads it.
        """
        return secretsmanager.Secret.from_secret_attributes(
            scope,
            id,
            secret_complete_arn=self.secret.secret_arn,
            encryption_key=kms.Key.from_key_arn(scope, f"{id}Key", self.key.key_arn),
        )

    def grant_secret_read(self, grantee: iam.IGrantable) -> None:
        """Let `grantee` (e.g. a task execution role in another stack) read the secret:
        decrypt with this key through Secrets Manager only, written to the grantee's own
        policy. (Reading the secret itself is granted by whoever injects it, e.g. ECS.)"""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{Stack.of(self).region}.amazonaws.com"
                    }
                },
            )
        )

    def allow_connections_from(self, peer: ec2.IConnectable, description: str) -> None:
        """Admit `peer` (e.g. a service's security group) to `host` and `reader_host` on the
        database port, nothing else: to the proxy where there is one, else to the database.

        Initiated from the peer's side, so when the peer lives in another stack CDK creates
        both rules (its egress, our ingress) in the peer's stack: the consumer depends on
        the database, never the other way round.
        """
        target = self.proxy.connections if self.proxy else self._connections
        peer.connections.allow_to(target, ec2.Port.tcp(self.port), description)

    def allow_writer_connections_from(self, peer: ec2.IConnectable, description: str) -> None:
        """Admit `peer` to the writer itself (`writer_host`), past any proxy: the migration,
        whose session-level work (locks, DDL) a proxy would pin or refuse."""
        peer.connections.allow_to(self._connections, ec2.Port.tcp(self.port), description)

    def grant_connect(self, grantee: iam.IGrantable) -> None:
        """Let `grantee` (a task role) authenticate to the proxy with IAM as the master user
        (`rds-db:connect`); without a proxy, nothing: services use the password."""
        if self.proxy:
            self.proxy.grant_connect(grantee, self.username)
            if isinstance(grantee, iam.Role):
                acknowledge(
                    grantee,
                    "NIST.800.53.R5-IAMNoInlinePolicy",
                    "The task role's inline policy holds only this workload's grants; the "
                    "database's is rds-db:connect as one user through this one proxy.",
                )

    def add_rotation_listener(
        self, id: str, target: events.IRuleTarget, *, scope: Construct | None = None
    ) -> events.Rule:
        """An EventBridge rule that sends `target` each successful rotation of this secret.

        ECS reads secrets into a task's environment only when the task starts, so after a
        rotation running tasks keep the old password; the Compute stack adds a target that
        forces a new deployment. Secrets Manager reports rotations (by the rotation function,
        or RDS's managed rotation of its own secret) as CloudTrail service events (delivered
        to the default bus without a trail, best effort), with the secret's ARN in
        `detail.additionalEventData.SecretId`. `scope` places the rule (default: this
        construct); a consumer in another stack passes its own, so the rule's reference to
        its target does not make this stack depend on the consumer's.
        """
        return events.Rule(
            scope or self,
            id,
            description="Successful rotations of the database secret",
            event_pattern=events.EventPattern(
                source=["aws.secretsmanager"],
                detail_type=["AWS Service Event via CloudTrail"],
                detail={
                    "eventSource": ["secretsmanager.amazonaws.com"],
                    "eventName": ["RotationSucceeded"],
                    "additionalEventData": {"SecretId": [self.secret.secret_arn]},
                },
            ),
            targets=[target],
        )

    # --- findings ---------------------------------------------------------------------------

    def _acknowledge_findings(
        self, props: DatabaseProps, database: rds.DatabaseInstance | rds.DatabaseCluster
    ) -> None:
        if self.port == DEFAULT_PORTS[props.engine]:
            acknowledge(
                database,
                "AwsSolutions-RDS11",
                "The engine's default port is kept on purpose: the security group admits it "
                "only from the security groups named in allow_connections_from, never CIDRs.",
            )
        acknowledge_log_retention_function(Stack.of(self).node.find_child(_LOG_RETENTION_ID))
        if props.aurora:
            return  # the cluster's own: l3_constructs.database_cluster
        if props.read_replicas and not props.multi_az:
            acknowledge(database, "CloudFormation-Validate::W3010", _ZONES_NAMED)
        if not props.multi_az:
            acknowledge(
                database,
                ("AwsSolutions-RDS3", "NIST.800.53.R5-RDSMultiAZSupport"),
                with_cost_note(
                    "Multi-AZ is a per-deployment setting (DatabaseProps.multi_az); this one runs "
                    "a single instance and relies on automated backups and snapshots to recover "
                    "(a zone's outage stops the database until it is restored elsewhere).",
                    props.cost_note,
                ),
            )
            skip_checkov(
                database,
                "CKV_AWS_157",
                "Multi-AZ is off for this deployment in its props (DatabaseProps.multi_az); "
                "it recovers from automated backups and snapshots instead.",
            )
        if not props.deletion_protection:
            acknowledge(
                database,
                ("AwsSolutions-RDS10", "NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled"),
                "Deletion protection is a per-deployment setting "
                "(DatabaseProps.deletion_protection); this deployment turns it off so its "
                "disposable database can be deleted with the stack.",
            )
        if props.backup_retention_days > 0:
            acknowledge(
                database,
                "NIST.800.53.R5-RDSInBackupPlan",
                f"RDS automated backups give a {props.backup_retention_days}-day window of "
                "point-in-time recovery and deletion leaves a final snapshot or the instance; "
                "an AWS Backup plan, where the deployment wants one, selects the instance by "
                "its ARN from a stack of its own (l3_constructs.database_backup).",
            )
        if props.monitoring_interval_seconds == 0:
            acknowledge(
                database,
                "NIST.800.53.R5-RDSEnhancedMonitoringEnabled",
                with_cost_note(
                    "Enhanced monitoring is turned off for this deployment in its props "
                    "(monitoring_interval_seconds=0); RDS still publishes its standard metrics.",
                    props.monitoring_cost_note,
                ),
            )
            skip_checkov(
                database,
                "CKV_AWS_118",
                "Enhanced monitoring is off for this deployment in its props "
                "(monitoring_interval_seconds=0); RDS still publishes its standard metrics.",
            )
        else:
            acknowledge(
                database.node.find_child("MonitoringRole"),
                managed_policy_finding("AmazonRDSEnhancedMonitoringRole"),
                "AmazonRDSEnhancedMonitoringRole is the AWS-maintained policy RDS documents for "
                "this role; it only lets RDS write OS metrics to the RDSOSMetrics log group.",
            )


def acknowledge_log_retention_function(log_retention: IConstruct) -> None:
    """Findings on CDK's per-stack log-retention function, which sets the retention of the
    log groups RDS creates for the exported logs."""
    acknowledge(
        log_retention,
        managed_policy_finding("AWSLambdaBasicExecutionRole"),
        "CDK's per-stack log-retention function, run only at deploy time to set retention "
        "on the RDS log groups, writes its own logs through AWSLambdaBasicExecutionRole.",
    )
    acknowledge(
        log_retention,
        ("AwsSolutions-IAM5[Resource::*]", "NIST.800.53.R5-IAMNoInlinePolicy"),
        "CDK's log-retention function needs logs:PutRetentionPolicy on log groups RDS "
        "names after itself at deploy time, granted in the inline policy CDK writes.",
    )
    skip_checkov(
        log_retention.node.find_child("ServiceRole").node.find_child("DefaultPolicy"),
        "CKV_AWS_111",
        "CDK's log-retention function sets retention on log groups RDS creates and names "
        "at deploy time: logs:PutRetentionPolicy/DeleteRetentionPolicy on them needs '*'.",
    )
    skip_checkov(
        log_retention,
        "CKV_AWS_117",
        "CDK's log-retention function only calls the CloudWatch Logs API at deploy time; "
        "it needs nothing inside the VPC.",
    )
    skip_checkov(
        log_retention,
        "CKV_AWS_115",
        "CDK's log-retention function runs once per log group at deploy time; reserved "
        "concurrency would only withhold capacity from other functions.",
    )
    skip_checkov(
        log_retention,
        "CKV_AWS_116",
        "CDK's log-retention function is a custom-resource handler: it reports its errors "
        "to CloudFormation, which fails the deployment; a dead-letter queue has no reader.",
    )
