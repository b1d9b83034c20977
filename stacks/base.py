"""`PlatformStack`: what every stack of an environment has in common."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from config.models import EnvironmentConfig


class PlatformStack(Stack):
    """A stack of one environment: named `<Stage>-<id>`, tagged and termination-protected
    from config, and the environment's availability zones known without an AWS look-up.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=f"{config.stage_name}-{construct_id}",
            termination_protection=config.termination_protection,
            description=f"{config.stage_name} {construct_id} stack of {config.tags.project}",
            # Stack tags (CloudFormation propagates them to every resource it can tag). With
            # the `explicitStackTags` flag the stage's Tags aspect no longer reaches stacks.
            tags=config.tags.as_dict(),
            **kwargs,
        )
        self.config = config

    @property
    def availability_zones(self) -> list[str]:
        """The zones named in config. The base class would ask AWS (a context look-up),
        which cannot run offline and writes placeholder zones (`dummy1a`) when it fails.
        """
        if self.region != self.config.region:
            raise ValueError(
                f"{self.node.path} is in {self.region}; config names zones of "
                f"{self.config.region} only"
            )
        return list(self.config.network.availability_zones)
