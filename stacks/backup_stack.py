"""Backup stacks: thin wiring of `database.backup` (AWS Backup of the database).

`<Stage>-Backup` (the environment's region) holds the vault and the daily plan that selects
the database; `<Stage>-BackupCopy` (the region `copy_to_region` names) holds the vault each
recovery point is copied to. The plan reads the copy vault across regions
(`Fn::GetStackOutput`), so `cdk deploy '<Stage>/*'` deploys BackupCopy first.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Environment
from constructs import Construct

from config.database import DatabaseBackup
from config.models import EnvironmentConfig
from l3_constructs.database import PlatformDatabase
from l3_constructs.database_backup import BackupPlanProps, DatabaseBackupPlan, DatabaseBackupVault
from stacks.base import PlatformStack


class BackupCopyStack(PlatformStack):
    """The vault of the copies, in `backup.copy_to_region`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        backup: DatabaseBackup,
        **kwargs: Any,
    ) -> None:
        if backup.copy_to_region is None:
            raise ValueError("the BackupCopy stack needs database.backup.copy_to_region")
        super().__init__(
            scope,
            construct_id,
            config=config,
            env=Environment(account=config.account, region=backup.copy_to_region),
            **kwargs,
        )
        self.vault = DatabaseBackupVault(self, "Vault")


class BackupStack(PlatformStack):
    """The vault and the daily plan, in the environment's region."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        backup: DatabaseBackup,
        database: PlatformDatabase,
        copy: BackupCopyStack | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, config=config, **kwargs)
        self.vault = DatabaseBackupVault(self, "Vault")
        self.plan = DatabaseBackupPlan(
            self,
            "Plan",
            props=BackupPlanProps(
                retention_days=backup.retention_days, start_hour_utc=backup.start_hour_utc
            ),
            database_arn=database.arn,
            vault=self.vault.vault,
            copy_vault=copy.vault.vault if copy else None,
        )
