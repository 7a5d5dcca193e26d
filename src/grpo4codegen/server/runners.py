"""Where completions run: the one factory that turns a reward configuration into a runner.

A runner is anything with `run_many(submissions) -> results in order`: the embedded executor pool,
the node pool shared by the training ranks of a machine, the HTTP client for `grpo4codegen serve`
instances, or executor actors on a Ray cluster. Every caller (training, `rewards`, `score`, `serve`)
gets its runner here, so a backend is added in one place.

`execute_backend`:
  auto      http when `execute_code_url` is set, ray when `ray_address` is set, the node pool when
            this process is one of several training ranks on its node (LOCAL_WORLD_SIZE > 1), else
            the embedded pool
  embedded  a pool in this process (per rank: each gets its share of the node's cores)
  node      one pool per node, hosted by the node's first local rank on a Unix socket (`nodepool`)
  http      the servers listed in `execute_code_url`
  ray       one executor actor per node of the Ray cluster at `ray_address` (none: a local runtime)
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from ..errors import UserError

BACKENDS = ("auto", "embedded", "node", "http", "ray")


def resolve_backend(config: Any) -> str:
    """The backend `make_runner` builds for this configuration (auto resolved)."""
    backend = getattr(config, "execute_backend", None) or "auto"
    if backend not in BACKENDS:
        raise UserError(f"--execute_backend {backend!r}: choose from {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    if getattr(config, "execute_code_url", None):
        return "http"
    if getattr(config, "ray_address", None):
        return "ray"
    from ..sandbox.sizing import local_trainers

    return "node" if local_trainers() > 1 else "embedded"


def make_runner(config: Any) -> tuple[Any, bool]:
    """(runner, owned): `owned` is True when the caller must close() the runner when done.

    `config` is the reward configuration; the fields read here (each optional) are `execute_backend`,
    `execute_code_url` (a comma list of server URLs), `ray_address`, `sandbox_workers` (pool size;
    default `sizing.pool_size`) and `require_isolation`.
    """
    backend = resolve_backend(config)
    workers = getattr(config, "sandbox_workers", None)
    isolation = bool(getattr(config, "require_isolation", False))
    if backend == "http":
        url = getattr(config, "execute_code_url", None)
        if not url:
            raise UserError("--execute_backend http needs --execute_code_url (one URL or a comma list)")
        from .client import RemoteExecutor

        return RemoteExecutor(url), True
    if backend == "node":
        from .nodepool import node_pool

        return node_pool(workers, isolation), False  # shared by every scorer of this process; closed at exit
    if backend == "ray":
        from .raypool import RayExecutor

        return RayExecutor(getattr(config, "ray_address", None), workers, require_isolation=isolation), True
    from ..sandbox.executor import default_executor

    if workers is None:
        return default_executor(require_isolation=isolation), False
    return _embedded(workers, isolation), False


_pools: dict[tuple[int, bool], Any] = {}
_pools_lock = threading.Lock()


def _embedded(workers: int, isolation: bool) -> Any:
    """A process-wide embedded pool per (size, isolation): the scorers of one process share it."""
    from ..sandbox.executor import Executor

    with _pools_lock:
        pool = _pools.get((workers, isolation))
        if pool is None:
            pool = _pools[(workers, isolation)] = Executor(workers=workers, require_isolation=isolation)
            atexit.register(pool.close)
        return pool
