"""Delivery, storage and messaging: CodePipeline, CodeBuild, S3 buckets, SQS queues."""

from __future__ import annotations

from cost_estimate.assembly import Resource, refs
from cost_estimate.context import (
    SQS_POLLS_PER_BUSY_HOUR,
    SQS_REQUESTS_PER_MESSAGE,
    Context,
    NoChargeError,
    UnpriceableError,
)
from cost_estimate.model import Gap, LineItem

Priced = list[LineItem | Gap]


def pipeline(res: Resource, ctx: Context) -> Priced:
    a = ctx.assumptions
    if res.properties.get("PipelineType", "V1") == "V1":
        return [
            ctx.item(res, category="Delivery", item="pipeline (V1)", quantity=1,
                     price="codepipeline.v1_pipeline_month", kind="fixed",
                     basis="one active pipeline"),
        ]  # fmt: skip
    minutes = a.build_minutes_per_month + a.releases_per_month
    return [
        ctx.item(res, category="Delivery", item="pipeline action minutes (V2)", quantity=minutes,
                 price="codepipeline.v2_action_minute", kind="usage",
                 basis="build_minutes_per_month (its CodeBuild actions) + a source minute "
                 "a release"),
    ]  # fmt: skip


def build_project(res: Resource, ctx: Context) -> Priced:
    env = res.properties.get("Environment") or {}
    image, size = str(env.get("Type", "LINUX_CONTAINER")), str(env.get("ComputeType", ""))
    projects = ctx.count("AWS::CodeBuild::Project")
    minutes = ctx.assumptions.build_minutes_per_month / max(projects, 1)
    return [
        ctx.item(res, category="Delivery", item=f"build minutes ({image}, {size})",
                 quantity=minutes, price="codebuild.minute", by=(f"{image}/{size}",),
                 kind="usage", basis=f"build_minutes_per_month, split over {projects} projects"),
    ]  # fmt: skip


def bucket(res: Resource, ctx: Context) -> Priced:
    a = ctx.assumptions
    buckets = ctx.count("AWS::S3::Bucket")
    share = f"split over {buckets} buckets"
    return [
        ctx.item(res, category="Storage", item="S3 Standard storage",
                 quantity=a.s3_storage_gb / max(buckets, 1), price="s3.standard_gb_month",
                 kind="usage", basis=f"s3_storage_gb, {share}"),
        ctx.item(res, category="Storage", item="S3 requests",
                 quantity=a.s3_requests_per_month / max(buckets, 1) / 1000,
                 price="s3.thousand_put_requests", kind="usage",
                 basis=f"s3_requests_per_month, {share} (at the PUT rate)"),
    ]  # fmt: skip


def _is_dead_letter_queue(res: Resource, ctx: Context) -> bool:
    """Named as the dead-letter target of another queue or of a schedule / rule."""
    for other in ctx.stage.stacks[res.stack].resources.values():
        policy = other.properties.get("RedrivePolicy")
        if policy and res.logical_id in set(refs(policy)):
            return True
        target = other.properties.get("Target")
        if isinstance(target, dict) and res.logical_id in set(refs(target.get("DeadLetterConfig"))):
            return True
    return False


def queue(res: Resource, ctx: Context) -> Priced:
    if _is_dead_letter_queue(res, ctx):
        raise NoChargeError("a dead-letter queue: requests only for failed messages (cents)")
    kind = "fifo" if str(res.properties.get("FifoQueue")).lower() == "true" else "standard"
    work = [q for q in ctx.stage.of_type("AWS::SQS::Queue") if not _is_dead_letter_queue(q, ctx)]
    if not work:
        raise UnpriceableError("no work queue in the stage")
    a = ctx.assumptions
    messages = a.queue_messages_per_month / len(work)
    requests = messages * SQS_REQUESTS_PER_MESSAGE + a.worker_busy_hours_per_month * (
        SQS_POLLS_PER_BUSY_HOUR
    )
    return [
        ctx.item(res, category="Messaging", item=f"SQS requests ({kind})",
                 quantity=requests / 1e6, price="sqs.million_requests", by=(kind,),
                 kind="usage", basis=f"queue_messages_per_month split over {len(work)} queues "
                 f"x {SQS_REQUESTS_PER_MESSAGE} + long polls while a worker runs"),
    ]  # fmt: skip
