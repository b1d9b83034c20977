"""Database stack: thin wiring from the environment's config to `PlatformDatabase`."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from config.models import EnvironmentConfig
from cost_estimate import savings
from l3_constructs.database import PlatformDatabase
from l3_constructs.database_props import DatabaseProps, ServerlessProps
from l3_constructs.network import PlatformNetwork
from stacks.base import PlatformStack


class DatabaseStack(PlatformStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        network: PlatformNetwork,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, config=config, **kwargs)
        db = config.database
        self.database = PlatformDatabase(
            self,
            "Database",
            props=DatabaseProps(
                kind=db.kind,
                cost_note=savings.note(
                    lambda: savings.rds_standby(
                        config.region,
                        engine=db.engine,
                        instance_class=db.instance_type,
                        storage_gb=db.allocated_storage_gb,
                    ),
                    "a Multi-AZ standby",
                )
                if db.kind == "instance" and not db.multi_az
                else "",
                monitoring_cost_note=savings.note(
                    lambda: savings.enhanced_monitoring(config.region, instances=1),
                    "enhanced monitoring every 60 s, for each instance",
                )
                if not db.monitoring_interval_seconds
                else "",
                engine=db.engine,
                engine_version=db.engine_version,
                instance_type=db.instance_type,
                allocated_storage_gb=db.allocated_storage_gb,
                max_allocated_storage_gb=db.max_allocated_storage_gb,
                multi_az=db.multi_az,
                read_replicas=db.read_replicas,
                readers=db.readers,
                serverless=ServerlessProps(
                    min_acu=db.serverless.min_acu,
                    max_acu=db.serverless.max_acu,
                    auto_pause_seconds=db.serverless.auto_pause_seconds,
                ),
                availability_zones=tuple(config.network.availability_zones),
                backup_retention_days=db.backup_retention_days,
                backup_window=db.backup_window,
                maintenance_window=db.maintenance_window,
                deletion_protection=db.deletion_protection,
                removal_policy=db.removal_policy,
                port=db.port,
                database_name=db.database_name,
                credentials=db.credentials,
                rotation_days=db.rotation_days,
                proxy=db.proxy,
                performance_insights=db.performance_insights,
                monitoring_interval_seconds=db.monitoring_interval_seconds,
                log_retention_days=db.log_retention_days,
            ),
            vpc=network.vpc,
            subnets=network.isolated_subnets,
            # The rotation function (rotated_by_lambda) reaches Secrets Manager through NAT
            # or, without NAT, through the secretsmanager endpoint (config enforces it).
            rotation_subnets=network.private_subnets,
            # `data_protection.shared_key`: the Network stack's key, else one of its own.
            key=network.shared_key,
        )
