"""Network stack: thin wiring from the environment's config to `PlatformNetwork`."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from config.models import EnvironmentConfig
from l3_constructs.network import FlowLogProps, NetworkProps, PlatformNetwork
from stacks.base import PlatformStack


class NetworkStack(PlatformStack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, config=config, **kwargs)
        net = config.network
        self.network = PlatformNetwork(
            self,
            "Network",
            props=NetworkProps(
                cidr=net.cidr,
                availability_zones=net.availability_zones,
                nat=net.nat,
                public_mask=net.subnet_masks.public,
                private_mask=net.subnet_masks.private,
                isolated_mask=net.subnet_masks.isolated,
                interface_endpoints=net.interface_endpoints,
                flow_logs=FlowLogProps(
                    destination=net.flow_logs.destination,
                    retention_days=net.flow_logs.retention_days,
                    traffic_type=net.flow_logs.traffic_type,
                    retain_on_delete=net.flow_logs.retain_on_delete,
                ),
            ),
        )
