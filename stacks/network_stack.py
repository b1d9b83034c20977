"""Network stack: thin wiring from the environment's config to `PlatformNetwork`, and the
release record of each service the pipeline builds.

The release record must exist before the Compute stack's change set is made (Compute reads it
as an SSM-typed CloudFormation parameter), and Network is the stack every other one follows.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from config.models import EnvironmentConfig
from cost_estimate import savings
from l3_constructs.network import FlowLogProps, NetworkProps, PlatformNetwork
from l3_constructs.release import ReleaseRecord
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
                cost_note=savings.note(
                    lambda: savings.nat_gateways(config.region, 1), "one NAT gateway's hours"
                )
                if net.nat == "none"
                else "",
                flow_logs=FlowLogProps(
                    destination=net.flow_logs.destination,
                    retention_days=net.flow_logs.retention_days,
                    traffic_type=net.flow_logs.traffic_type,
                    retain_on_delete=net.flow_logs.retain_on_delete,
                ),
                shared_key=config.data_protection.shared_key,
            ),
        )
        #: Service name -> the image tag the pipeline last released to it: every service
        #: built from a directory, when there is a pipeline.
        self.release_records: dict[str, ReleaseRecord] = {}
        built = [n for n, s in config.services.items() if s.image.source == "asset"]
        # The migration's service first: its record keeps the single-service construct id
        # (a new id would replace the custom resource, whose delete removes the parameter),
        # and the log group of CDK's one AwsCustomResource function of the stack.
        for name in sorted(built, key=lambda n: n != config.migration.service):
            if config.pipeline is None:
                break
            first = next(iter(self.release_records.values()), None)
            self.release_records[name] = ReleaseRecord(
                self,
                "ReleaseRecord" if name == config.migration.service else f"ReleaseRecord-{name}",
                parameter_name=config.release_parameter_name(name),
                log_key=self.network.flow_log_key,
                log_retention_days=net.flow_logs.retention_days,
                log_group=first.log_group if first else None,
            )
