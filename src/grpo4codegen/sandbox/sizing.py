"""How many sandbox workers a pool gets: one rule for the embedded pool, `serve` and the node pool.

A node runs its trainer processes (one per GPU, `LOCAL_WORLD_SIZE` of them under accelerate/torchrun)
and sandbox workers that execute completions. The workers get the node's cores minus a reserve for
the trainers: one core per trainer process, capped at a quarter of the cores so that a small machine
still executes in parallel (the trainers mostly wait while their batch is scored). A pool shared by
`share` processes (per-rank pools) gets its share of that.

    16 cores, 8 trainers -> 12 workers;  96 cores, 8 trainers -> 88;  2 cores, 2 trainers -> 2;
    no trainer on the node (`serve`, `score`, a Ray CPU node) -> every core.
"""

from __future__ import annotations

import os

#: how many trainer processes run on this node (set by torchrun, which accelerate launch uses)
LOCAL_WORLD_SIZE_ENV = "LOCAL_WORLD_SIZE"


def node_cores() -> int:
    """Cores this process may use: the CPU affinity mask, bounded by a cgroup CPU quota if one is set."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, max(1, int(quota)))
    return max(1, cores)


def local_trainers() -> int:
    """Trainer processes on this node: LOCAL_WORLD_SIZE when launched by accelerate/torchrun, else 0."""
    try:
        return max(0, int(os.environ.get(LOCAL_WORLD_SIZE_ENV, "0")))
    except ValueError:
        return 0


def pool_size(share: int = 1, trainers: int | None = None, cores: int | None = None) -> int:
    """Sandbox workers for one pool: (cores - reserve) / share, at least 1.

    `trainers` defaults to `local_trainers()`, `cores` to `node_cores()`; `share` is the number of
    processes on the node that each build a pool of this size (1 for a node-shared pool or a server).
    """
    cores = node_cores() if cores is None else max(1, cores)
    trainers = local_trainers() if trainers is None else max(0, trainers)
    reserve = min(trainers, cores // 4)
    return max(1, (cores - reserve) // max(1, share))


def embedded_pool_size() -> int:
    """The default of an `Executor` built in this process: its share of the node when the node's
    trainer ranks each build their own (embedded) pool, the whole node otherwise."""
    return pool_size(share=max(1, local_trainers()))


def _cgroup_cpu_quota() -> float | None:
    """CPUs allowed by cgroup v2 `cpu.max` ("max 100000" = unlimited), or None."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return float(quota) / float(period)
    except (ValueError, ZeroDivisionError):
        return None
