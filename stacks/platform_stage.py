"""One CDK Stage per environment, holding that environment's instances of every stack."""

from __future__ import annotations

from aws_cdk import Environment, Stack, Stage, Tags
from constructs import Construct

from config.models import EnvironmentConfig
from stacks.backup_stack import BackupCopyStack, BackupStack
from stacks.compute_stack import ComputeStack
from stacks.database_stack import DatabaseStack
from stacks.edge_stack import EdgeStack
from stacks.monitoring_stack import MonitoringStack
from stacks.network_stack import NetworkStack
from stacks.pipeline_stack import PipelineStack
from stacks.security_stack import SecurityStack
from stacks.storage_stack import StorageStack


class PlatformStage(Stage):
    """`<stage_name>/<Stack>` ids; CloudFormation stack names `<stage_name>-<Stack>`."""

    def __init__(self, scope: Construct, *, config: EnvironmentConfig) -> None:
        super().__init__(
            scope,
            config.stage_name,
            env=Environment(account=config.account, region=config.region),
        )
        self.config = config
        self.network = NetworkStack(self, "Network", config=config)
        self.database = DatabaseStack(self, "Database", config=config, network=self.network.network)
        # AWS Backup of the database (and its copies' vault in a second region), where config
        # asks for it.
        backup = config.database.backup
        self.backup_copy = (
            BackupCopyStack(self, "BackupCopy", config=config, backup=backup)
            if backup and backup.copy_to_region
            else None
        )
        self.backup = (
            BackupStack(
                self,
                "Backup",
                config=config,
                backup=backup,
                database=self.database.database,
                copy=self.backup_copy,
            )
            if backup
            else None
        )
        # The application's files, where config asks for them.
        self.storage = (
            StorageStack(self, "Storage", config=config, storage=config.storage)
            if config.storage
            else None
        )
        self.compute = ComputeStack(
            self,
            "Compute",
            config=config,
            network=self.network.network,
            database=self.database.database,
            storage=self.storage.storage if self.storage else None,
        )
        # In us-east-1; reads the origin secret from Compute across regions.
        self.edge = EdgeStack(self, "Edge", config=config, load_balancer=self.compute.load_balancer)
        # Compute reads the release records (SSM-typed parameters) when its change set is
        # made: their stack must be deployed first.
        self.compute.add_stack_dependency(self.network)
        self.pipeline = (
            PipelineStack(
                self,
                "Pipeline",
                config=config,
                pipeline=config.pipeline,
                release_records=self.network.release_records,
                compute=self.compute,
                edge=self.edge,
            )
            if config.pipeline
            else None
        )
        # Alarms, their topic, the dashboard and the canary (the environment's region).
        self.monitoring = MonitoringStack(
            self,
            "Monitoring",
            config=config,
            network=self.network.network,
            compute=self.compute,
            database=self.database,
            edge=self.edge,
        )
        # Account-level guards, where config switches them on (Stage, Prod).
        self.security = (
            SecurityStack(self, "Security", config=config) if config.security.enabled else None
        )
        for key, value in config.tags.as_dict().items():
            Tags.of(self).add(key, value)

    @property
    def stacks(self) -> list[Stack]:
        return [child for child in self.node.children if isinstance(child, Stack)]
