"""Network: NAT gateways, public IPv4 addresses, VPC endpoints, load balancers."""

from __future__ import annotations

from cost_estimate.assembly import Resource
from cost_estimate.context import Context, NoChargeError, UnpriceableError
from cost_estimate.model import Gap, LineItem
from cost_estimate.schedules import HOURS_PER_MONTH

Priced = list[LineItem | Gap]
H = HOURS_PER_MONTH


def nat_gateway(res: Resource, ctx: Context) -> Priced:
    a = ctx.assumptions
    gb = a.nat_data_gb_per_month / max(ctx.count("AWS::EC2::NatGateway"), 1)
    # Its public address is an AWS::EC2::EIP of its own (priced there).
    return [
        ctx.item(res, category="Network", item="NAT gateway hours", quantity=H,
                 price="vpc.nat_gateway_hour", kind="fixed", basis=f"{H:g} h"),
        ctx.item(res, category="Network", item="NAT data processed", quantity=gb,
                 price="vpc.nat_gateway_gb", kind="usage",
                 basis="nat_data_gb_per_month, split over the NAT gateways"),
    ]  # fmt: skip


def elastic_ip(res: Resource, ctx: Context) -> Priced:
    return [
        ctx.item(res, category="Network", item="public IPv4 address", quantity=H,
                 price="vpc.public_ipv4_hour", kind="fixed", basis=f"{H:g} h"),
    ]  # fmt: skip


def vpc_endpoint(res: Resource, ctx: Context) -> Priced:
    kind = res.properties.get("VpcEndpointType", "Gateway")
    if kind == "Gateway":
        raise NoChargeError("gateway endpoints (S3, DynamoDB) have no charge")
    if kind != "Interface":
        raise UnpriceableError(f"a {kind} endpoint is not in the price table")
    zones = len(res.properties.get("SubnetIds") or [])
    if zones == 0:
        raise UnpriceableError("an interface endpoint without SubnetIds: its zones are not known")
    interface = [r for r in ctx.stage.of_type("AWS::EC2::VPCEndpoint")
                 if r.properties.get("VpcEndpointType") == "Interface"]  # fmt: skip
    gb = ctx.assumptions.endpoint_data_gb_per_month / max(len(interface), 1)
    return [
        ctx.item(res, category="Network", item=f"interface endpoint hours ({zones} zones)",
                 quantity=H * zones, price="vpc.interface_endpoint_zone_hour", kind="fixed",
                 basis=f"{H:g} h x {zones} zones (SubnetIds)"),
        ctx.item(res, category="Network", item="interface endpoint data processed",
                 quantity=gb, price="vpc.interface_endpoint_gb", kind="usage",
                 basis="endpoint_data_gb_per_month, split over the interface endpoints"),
    ]  # fmt: skip


def load_balancer(res: Resource, ctx: Context) -> Priced:
    props = res.properties
    if props.get("Type", "application") != "application":
        raise UnpriceableError(f"a {props.get('Type')} load balancer is not in the price table")
    zones = len(props.get("Subnets") or props.get("SubnetMappings") or [])
    a = ctx.assumptions
    origin_requests = a.requests_per_month * a.origin_request_percent / 100
    # An LCU is the largest of: 25 new connections/s, 3,000 active/min, 1 GB/h processed,
    # 1,000 rule evaluations/s. Each origin request counted as a new connection (an upper
    # bound: CloudFront reuses connections), the data CloudFront serves as processed bytes.
    per_hour_gb = a.data_out_gb_per_month * a.origin_request_percent / 100 / H
    per_second_connections = origin_requests / H / 3600
    lcu = max(per_hour_gb / 1.0, per_second_connections / 25)
    items: Priced = [
        ctx.item(res, category="Load balancer", item="load balancer hours", quantity=H,
                 price="elb.alb_hour", kind="fixed", basis=f"{H:g} h"),
        ctx.item(res, category="Load balancer", item="LCU hours", quantity=lcu * H,
                 price="elb.alb_lcu_hour", kind="usage",
                 basis=f"{lcu:.3f} LCU (processed GB/h or new connections/s / 25, the larger) "
                 "from requests_per_month x origin_request_percent and data_out_gb_per_month"),
    ]  # fmt: skip
    if props.get("Scheme", "internet-facing") == "internet-facing":
        if zones == 0:
            raise UnpriceableError("an internet-facing load balancer without Subnets")
        items.append(
            ctx.item(res, category="Network", item=f"public IPv4 addresses ({zones} zones)",
                     quantity=H * zones, price="vpc.public_ipv4_hour", kind="fixed",
                     basis=f"{H:g} h x one address a zone (Subnets)")
        )  # fmt: skip
    return items
