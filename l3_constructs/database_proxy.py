"""PlatformDatabaseProxy: an RDS Proxy in front of the database's writer (CDK's
`rds.DatabaseProxy`), pooling the services' connections.

TLS is required and clients authenticate with IAM only (a token from `rds-db:connect`, which
`grant_connect` writes into a task role's own policy); the proxy itself signs in to the
database with the master secret it reads through its role. Its security group admits the
database port from the security groups given to `allow_from` and nothing else, and reaches
only the database's port. For an Aurora cluster with readers a read-only endpoint spreads
read connections over them. The pool keeps 10 % of the database's max_connections free, so
the migration (which connects to the writer directly) and an operator always get in.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import ArnFormat, CfnOutput, CfnResource, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from l3_constructs.compliance import acknowledge

#: Share of the database's max_connections the proxy's pool may use.
MAX_CONNECTIONS_PERCENT = 90


class PlatformDatabaseProxy(Construct):
    """Exposes `proxy`, `security_group`, `connections` (its group, the literal port),
    `endpoint` (read/write, to the writer) and `read_only_endpoint` (Aurora readers; None
    without them)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        target: rds.ProxyTarget,
        secret: secretsmanager.ISecret,
        port: int,
        readers: bool,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Database proxy: the engine port from allowed security groups only",
            allow_all_outbound=False,
        )
        self.connections = ec2.Connections(
            security_groups=[self.security_group], default_port=ec2.Port.tcp(port)
        )
        self.proxy = rds.DatabaseProxy(
            self,
            "Proxy",
            proxy_target=target,
            secrets=[secret],
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            require_tls=True,
            iam_auth=True,
            debug_logging=False,
            max_connections_percent=MAX_CONNECTIONS_PERCENT,
        )
        # The target admitted the proxy's group on the database port (ProxyTarget.bind).
        self.target_group = cast("CfnResource", self.proxy.node.find_child("ProxyTargetGroup"))
        acknowledge(
            self.proxy,
            "CloudFormation-Validate::F3002",
            "CDK's bundled resource schema predates Tags on AWS::RDS::DBProxyTargetGroup; the "
            "CloudFormation registry schema (cfn-lint's) takes them, so the stage's tags stay.",
        )
        self.endpoint: str = self.proxy.endpoint
        self.read_only_endpoint: str | None = (
            self.proxy.add_endpoint(
                "ReadOnly",
                vpc=vpc,
                vpc_subnets=subnets,
                security_groups=[self.security_group],
                target_role=rds.ProxyEndpointTargetRole.READ_ONLY,
            ).endpoint
            if readers
            else None
        )
        self._resource_id = Fn.select(6, Fn.split(":", self.proxy.db_proxy_arn))
        self.resource_id = CfnOutput(
            self,
            "ResourceId",
            value=self._resource_id,
            description="The proxy's resource id (prx-...), as its rds-db:connect ARNs name it",
        )
        acknowledge(
            self.proxy.node.find_child("IAMRole"),
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "The proxy's role holds CDK's grant to read this one database secret (and "
            "decrypt it with the database's key), in the inline policy CDK writes for it.",
        )

    def grant_connect(self, grantee: iam.IGrantable, user: str) -> None:
        """`rds-db:connect` as `user` through this proxy, in `grantee`'s own policy.

        The proxy's resource id (`prx-...`, in its `dbuser` ARNs) is cut from its ARN here and
        published as the output `resource_id`: a consumer in another stack reads the finished
        value (`Fn::GetStackOutput`) instead of splitting a reference to the ARN itself."""
        here = Stack.of(self)
        there = Stack.of(grantee) if isinstance(grantee, Construct) else here
        resource_id = self._resource_id
        if there is not here:
            there.add_dependency(here)
            resource_id = Fn.get_stack_output(
                here.stack_name, self.resource_id.logical_id, here.region
            )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["rds-db:connect"],
                resources=[
                    there.format_arn(
                        service="rds-db",
                        resource="dbuser",
                        resource_name=f"{resource_id}/{user}",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
