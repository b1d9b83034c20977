"""AWS Backup of the database, besides RDS's own automated backups (point-in-time recovery
within `backup_retention_days`, which ends with the database's region and account):

- `DatabaseBackupVault`: a vault encrypted with a customer-managed key of its own (not the
  database's: a recovery point stays readable if the database and its key go), recovery
  points that no one may delete before they expire, both kept when their stack is deleted.
  One in the environment's region, and one in a second region for the copies.
- `DatabaseBackupPlan`: a daily rule (start hour and retention from props) that backs the
  database (instance or Aurora cluster, by ARN) up into the vault and copies each recovery
  point to the second region's vault, kept as long.

Knows nothing of environments: every choice arrives in its props.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from constructs import Construct

from l3_constructs.compliance import acknowledge
from l3_constructs.database_props import managed_policy_finding


class DatabaseBackupVault(Construct):
    """Exposes `key` and `vault`."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the database's recovery points in {stack.stack_name}",
            enable_key_rotation=True,
            # Recovery points are readable only while their key exists.
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.vault = backup.BackupVault(
            self,
            "Vault",
            encryption_key=self.key,
            # A vault holding recovery points cannot be deleted, and should not be: they are
            # what outlives the database.
            removal_policy=RemovalPolicy.RETAIN,
            # No one (an administrator or a stolen role included) deletes a recovery point
            # before its lifecycle expires it.
            block_recovery_point_deletion=True,
        )


@dataclass(frozen=True)
class BackupPlanProps:
    #: Days each daily recovery point (and its copy) is kept.
    retention_days: int = 35
    #: Hour (UTC) the daily backup starts (within an hour).
    start_hour_utc: int = 19


class DatabaseBackupPlan(Construct):
    """A daily plan backing the database with ARN `database_arn` up into `vault`, copied to
    `copy_vault` (another region's) when given. Exposes `plan` and `selection`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: BackupPlanProps,
        database_arn: str,
        vault: backup.IBackupVault,
        copy_vault: backup.IBackupVault | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not 0 <= props.start_hour_utc <= 23:
            raise ValueError("start_hour_utc must be an hour, 0-23")
        if props.retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        keep = Duration.days(props.retention_days)
        # Plan names are the account's (per region): the stack's name keeps them apart.
        self.plan = backup.BackupPlan(
            self,
            "Plan",
            backup_plan_name=f"{Stack.of(self).stack_name}-database",
            backup_vault=vault,
        )
        self.plan.add_rule(
            backup.BackupPlanRule(
                rule_name="Daily",
                schedule_expression=events.Schedule.cron(
                    minute="0", hour=str(props.start_hour_utc)
                ),
                start_window=Duration.hours(1),
                completion_window=Duration.hours(8),
                delete_after=keep,
                copy_actions=[
                    backup.BackupPlanCopyActionProps(
                        destination_backup_vault=copy_vault, delete_after=keep
                    )
                ]
                if copy_vault is not None
                else None,
            )
        )
        self.selection = self.plan.add_selection(
            "Database", resources=[backup.BackupResource.from_arn(database_arn)]
        )
        acknowledge(
            self.selection.node.find_child("Role"),
            managed_policy_finding("AWSBackupServiceRolePolicyForBackup"),
            "AWSBackupServiceRolePolicyForBackup is the AWS-maintained policy AWS Backup "
            "documents for the role a selection backs resources up with; this role is the "
            "selection's own and AWS Backup its only principal.",
        )
