"""Storage stack: thin wiring from the environment's `storage` config to `PlatformStorage`.

Its own stack, like the database: the application's files outlive any change to the
services, and a stack that holds only data is the one a team never deletes by accident.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from config.models import EnvironmentConfig
from config.service_parts import Storage
from l3_constructs.storage import CorsRule, PlatformStorage, StorageProps
from stacks.base import PlatformStack


class StorageStack(PlatformStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        storage: Storage,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, config=config, **kwargs)
        self.storage = PlatformStorage(
            self,
            "Storage",
            props=StorageProps(
                cors=tuple(
                    CorsRule(
                        allowed_origins=rule.allowed_origins,
                        allowed_methods=rule.allowed_methods,
                        allowed_headers=rule.allowed_headers,
                        exposed_headers=rule.exposed_headers,
                        max_age_seconds=rule.max_age_seconds,
                    )
                    for rule in storage.cors
                ),
                removal_policy=storage.removal_policy,
                noncurrent_version_days=storage.noncurrent_version_days,
                access_log_retention_days=storage.access_log_retention_days,
            ),
        )
