"""Sizes of instance classes (EC2 and RDS `db.` classes), from their names."""

from __future__ import annotations

import re

from cost_estimate.context import UnpriceableError

_SMALL_SIZES = {"nano": 0.5, "micro": 1, "small": 2, "medium": 4, "large": 8}
#: GiB of memory a vCPU, by family letter (general purpose, compute, memory optimised).
_GB_PER_VCPU = {"m": 4, "c": 2, "r": 8}


def vcpus(instance_class: str) -> int:
    """vCPUs of an instance class (`db.t4g.micro` 2, `db.r6g.xlarge` 4, `m7g.4xlarge` 16)."""
    size = instance_class.rsplit(".", 1)[-1]
    if size in _SMALL_SIZES:
        return 2
    if size == "xlarge":
        return 4
    match = re.fullmatch(r"(\d+)xlarge", size)
    if match:
        return 4 * int(match.group(1))
    raise UnpriceableError(f"the vCPUs of {instance_class!r} are not known")


def memory_gb(instance_type: str) -> float:
    """GiB of memory of a t / m / c / r instance type (`t3.medium` 4, `m7g.large` 8)."""
    family, _, size = instance_type.removeprefix("db.").partition(".")
    if family.startswith("t"):
        if size in _SMALL_SIZES:
            return float(_SMALL_SIZES[size])
        return 4.0 * vcpus(instance_type)
    per_vcpu = _GB_PER_VCPU.get(family[:1])
    if per_vcpu is None:
        raise UnpriceableError(f"the memory of {instance_type!r} is not known")
    return float(per_vcpu * vcpus(instance_type))
