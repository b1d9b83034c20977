"""PlatformDatabase: one RDS instance (PostgreSQL or MySQL) in isolated subnets, encrypted with
its own KMS key, TLS-only, credentials in Secrets Manager rotated on a schedule.

Knows nothing of environments: every choice arrives in `DatabaseProps`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from l3_constructs.compliance import acknowledge, skip_checkov
from l3_constructs.limits import ENGINE_FULL_VERSIONS, MYSQL_NO_PERFORMANCE_INSIGHTS, Engine
from l3_constructs.retention import retention_days

#: Characters kept out of generated passwords (CDK's RDS default): they need quoting in
#: connection URLs, shells or JSON. Used when generating and on every rotation.
EXCLUDE_CHARACTERS = " %+~`#$&*()|[]{}:;<>?!'/@\"\\"

DEFAULT_PORTS: dict[Engine, int] = {"postgres": 5432, "mysql": 3306}

#: Every log type each engine can export (cdk-nag NIST RDSLoggingEnabled wants them all),
#: including failed IAM database authentications, as IAM authentication is on.
LOG_EXPORTS: dict[Engine, list[str]] = {
    "postgres": ["postgresql", "upgrade", "iam-db-auth-error"],
    "mysql": ["error", "general", "slowquery", "audit", "iam-db-auth-error"],
}

#: Parameters that refuse unencrypted connections, plus (MySQL) log files to export.
PARAMETERS: dict[Engine, dict[str, str]] = {
    "postgres": {"rds.force_ssl": "1"},
    # Instance parameter groups take 1/0 for this boolean ("ON" is for cluster groups).
    # The slow-query log goes to FILE so it can be exported; the general log (every
    # statement) stays off and the audit log needs the MARIADB_AUDIT_PLUGIN option group,
    # so those two streams stay empty until someone turns them on.
    "mysql": {"require_secure_transport": "1", "slow_query_log": "1", "log_output": "FILE"},
}

MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)

#: Construct id of CDK's per-stack log-retention function (aws_logs.LogRetention).
_LOG_RETENTION_ID = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"


@dataclass(frozen=True)
class DatabaseProps:
    engine: Engine = "postgres"
    #: Major version ("16" / "17" for PostgreSQL, "8.0" / "8.4" for MySQL; see
    #: ENGINE_FULL_VERSIONS) or a full version such as "16.9".
    engine_version: str = "16"
    instance_type: str = "t4g.micro"
    allocated_storage_gb: int = 20
    max_allocated_storage_gb: int = 100
    multi_az: bool = False
    backup_retention_days: int = 7
    backup_window: str = "17:00-17:30"
    maintenance_window: str = "sun:18:00-sun:18:30"
    deletion_protection: bool = True
    removal_policy: Literal["snapshot", "retain", "destroy"] = "snapshot"
    #: None: the engine's default port.
    port: int | None = None
    database_name: str = "app"
    username: str = "app_admin"
    rotation_days: int = 30
    performance_insights: bool = True
    #: Enhanced monitoring granularity; 0 turns it off.
    monitoring_interval_seconds: int = 60
    log_retention_days: int = 30


def _engine(props: DatabaseProps) -> rds.IInstanceEngine:
    full = ENGINE_FULL_VERSIONS[props.engine].get(props.engine_version, props.engine_version)
    if props.engine == "postgres":
        postgres = rds.PostgresEngineVersion.of(full, full.split(".")[0])
        return rds.DatabaseInstanceEngine.postgres(version=postgres)
    mysql = rds.MysqlEngineVersion.of(full, ".".join(full.split(".")[:2]))
    return rds.DatabaseInstanceEngine.mysql(version=mysql)


class PlatformDatabase(Construct):
    """An RDS instance that only the security groups given to `allow_connections_from` reach.

    Exposes `key`, `secret`, `instance`, `security_group`, `port` and `engine`.

    The secret is rotated by a Lambda function from the Serverless Application Repository,
    placed in `rotation_subnets` (default: the database's subnets). In isolated subnets it
    reaches Secrets Manager only through the VPC's `secretsmanager` interface endpoint, so the
    VPC must have one (with private DNS) or rotation fails.
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
    ) -> None:
        super().__init__(scope, construct_id)
        if props.monitoring_interval_seconds not in MONITORING_INTERVALS:
            raise ValueError(f"monitoring interval must be one of {MONITORING_INTERVALS}")
        if props.performance_insights and (
            props.engine == "mysql" and props.instance_type in MYSQL_NO_PERFORMANCE_INSIGHTS
        ):
            raise ValueError(
                f"RDS for MySQL has no Performance Insights on {props.instance_type}: "
                "choose a larger class or set performance_insights=False"
            )
        self.engine: str = props.engine
        self.port: int = props.port or DEFAULT_PORTS[props.engine]
        engine = _engine(props)
        destroy = props.removal_policy == "destroy"

        self.key = kms.Key(
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
        parameter_group = rds.ParameterGroup(
            self,
            "ParameterGroup",
            engine=engine,
            description="Refuses connections without TLS",
            parameters=PARAMETERS[props.engine],
        )
        monitoring = props.monitoring_interval_seconds
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=engine,
            instance_type=ec2.InstanceType(props.instance_type),
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            port=self.port,
            publicly_accessible=False,
            database_name=props.database_name,
            credentials=rds.Credentials.from_generated_secret(
                props.username, encryption_key=self.key, exclude_characters=EXCLUDE_CHARACTERS
            ),
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
        if self.instance.secret is None:  # generated credentials always make one
            raise RuntimeError("the database instance has no generated secret")
        self.secret: secretsmanager.ISecret = self.instance.secret
        if not destroy:
            # The rotated password lives only in the secret: keep it with the final snapshot.
            generated = cast("rds.DatabaseSecret", self.instance.node.find_child("Secret"))
            generated.apply_removal_policy(RemovalPolicy.RETAIN)

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
        # What `instance.add_rotation_single_user()` builds (same scope, id and resources:
        # a Serverless Application Repository app and a rotation schedule), but admitted to
        # the database through `_connections`, so its ingress rule names the literal port.
        secretsmanager.SecretRotation(
            self.instance,
            "RotationSingleUser",
            application=engine.single_user_rotation_application,
            secret=self.secret,
            target=self._connections,
            vpc=vpc,
            vpc_subnets=rotation_subnets or subnets,
            security_group=rotation_security_group,
            automatically_after=Duration.days(props.rotation_days),
            exclude_characters=EXCLUDE_CHARACTERS,
        )
        self._acknowledge_findings(props)

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
        """Admit `peer` (e.g. a service's security group) on the database port, nothing else.

        Initiated from the peer's side, so when the peer lives in another stack CDK creates
        both rules (its egress, our ingress) in the peer's stack: the consumer depends on
        the database, never the other way round.
        """
        peer.connections.allow_to(self._connections, ec2.Port.tcp(self.port), description)

    def add_rotation_listener(
        self, id: str, target: events.IRuleTarget, *, scope: Construct | None = None
    ) -> events.Rule:
        """An EventBridge rule that sends `target` each successful rotation of this secret.

        ECS reads secrets into a task's environment only when the task starts, so after a
        rotation running tasks keep the old password; the Compute stack adds a target that
        forces a new deployment. Secrets Manager reports rotations as CloudTrail service
        events (delivered to the default bus without a trail, best effort), with the secret's
        ARN in `detail.additionalEventData.SecretId`. `scope` places the rule (default: this
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

    def _acknowledge_findings(self, props: DatabaseProps) -> None:
        instance = self.instance
        if self.port == DEFAULT_PORTS[props.engine]:
            acknowledge(
                instance,
                "AwsSolutions-RDS11",
                "The engine's default port is kept on purpose: the security group admits it "
                "only from the security groups named in allow_connections_from, never CIDRs.",
            )
        if not props.multi_az:
            acknowledge(
                instance,
                ("AwsSolutions-RDS3", "NIST.800.53.R5-RDSMultiAZSupport"),
                "Multi-AZ is a per-deployment setting (DatabaseProps.multi_az); this one runs "
                "a single instance and relies on automated backups and snapshots to recover.",
            )
            skip_checkov(
                instance,
                "CKV_AWS_157",
                "Multi-AZ is off for this deployment in its props (DatabaseProps.multi_az); "
                "it recovers from automated backups and snapshots instead.",
            )
        if not props.deletion_protection:
            acknowledge(
                instance,
                ("AwsSolutions-RDS10", "NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled"),
                "Deletion protection is a per-deployment setting "
                "(DatabaseProps.deletion_protection); this deployment turns it off so its "
                "disposable database can be deleted with the stack.",
            )
        if props.backup_retention_days > 0:
            acknowledge(
                instance,
                "NIST.800.53.R5-RDSInBackupPlan",
                f"RDS automated backups give a {props.backup_retention_days}-day window of "
                "point-in-time recovery and deletion leaves a final snapshot or the instance; "
                "an AWS Backup plan is an account-level policy outside this construct.",
            )
        if props.monitoring_interval_seconds == 0:
            acknowledge(
                instance,
                "NIST.800.53.R5-RDSEnhancedMonitoringEnabled",
                "Enhanced monitoring is turned off for this deployment in its props "
                "(monitoring_interval_seconds=0); RDS still publishes its standard metrics.",
            )
            skip_checkov(
                instance,
                "CKV_AWS_118",
                "Enhanced monitoring is off for this deployment in its props "
                "(monitoring_interval_seconds=0); RDS still publishes its standard metrics.",
            )
        else:
            acknowledge(
                instance.node.find_child("MonitoringRole"),
                _managed_policy_finding("AmazonRDSEnhancedMonitoringRole"),
                "AmazonRDSEnhancedMonitoringRole is the AWS-maintained policy RDS documents for "
                "this role; it only lets RDS write OS metrics to the RDSOSMetrics log group.",
            )
        # CDK's log-retention function (one per stack) sets the retention of the log groups
        # RDS creates for the exported logs.
        log_retention = Stack.of(self).node.find_child(_LOG_RETENTION_ID)
        acknowledge(
            log_retention,
            _managed_policy_finding("AWSLambdaBasicExecutionRole"),
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


def _managed_policy_finding(policy: str) -> str:
    """The AwsSolutions-IAM4 finding id for one AWS managed service-role policy."""
    return f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{policy}]"
