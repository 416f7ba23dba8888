"""How many cores a process may use, and the gateway's default number of workers.

The host's core count is the wrong answer in a container: a cpuset narrows the process's CPU
affinity, and a CPU limit (Kubernetes `limits.cpu`, Compose `cpus`) is a cgroup quota that
affinity does not show. Each gateway worker holds about 65 MiB, so a worker per host core in a
one-core container is memory spent on nothing.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2, the container's own with a cgroup namespace


def usable_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may run on (its CPU affinity), at most its cgroup's CPU quota rounded up."""
    try:
        cores = len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no affinity API on this platform
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cpu_max)
    return min(cores, quota) if quota else cores


def cgroup_cpu_quota(cpu_max: Path = CGROUP_CPU_MAX) -> int | None:
    """The cgroup's CPU limit in whole cores (rounded up), or None without one (`max`, no cgroup v2)."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError, ZeroDivisionError):  # "max <period>", no such file, not cgroup v2
        return None


def gateway_workers_beside_the_stack(cores: int | None = None) -> int:
    """The gateway's workers when the whole stack shares the machine (`./run up`, the demo): half the
    usable cores, at least one. Per request, the database, activity and NATS together use as much CPU
    as the gateway or more (docs/benchmarks.md), so the gateway cannot keep more than about half the
    cores busy: a worker beyond that adds memory, not requests per second."""
    return max(1, (cores or usable_cores()) // 2)
