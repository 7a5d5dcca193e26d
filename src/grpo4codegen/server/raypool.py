"""Execution on a Ray cluster: one executor actor per node, each owning that node's sandbox pool.

`RayExecutor(address)` attaches to the Ray cluster at `address` (none: the cluster named by
$RAY_ADDRESS or the one started last on this machine, else a new local runtime), then places one
actor on every alive node that has CPUs (`NodeAffinitySchedulingStrategy`, named per node, so every
training rank attached to the cluster shares the same actors). Each actor holds an `Executor`
sized by `sizing.pool_size` for its node. `run_many` has the embedded executor's contract:

* Problems travel once per actor: a job names its problem by a content key (a hash of the problem's
  wire form), and a problem is sent along only to an actor that does not hold it yet; an actor that
  lost its cache (restarted) answers with the keys it lacks, and the chunk is resent with them.
* Batches are cut into chunks and spread by load: a chunk goes to the actor with the fewest jobs in
  flight per sandbox worker, and each actor gets at most two jobs per worker in flight.
* Actors are restarted by Ray when they die (`max_restarts`); the chunks they held are retried on
  whichever actor is free (`retries` times). A chunk given up on, or one that outlives its time
  limits, comes back as `ExecutionResult(infra_error=...)`: a None reward, never 0.

Ray is imported only when this backend is chosen (the optional extra `grpo4codegen[ray]`).
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..data.problems import Problem
from ..errors import UserError
from ..sandbox.executor import StdioSubmission, Submission
from ..sandbox.types import ExecutionResult, Limits

log = logging.getLogger(__name__)
NAMESPACE = "grpo4codegen"
#: jobs in flight per sandbox worker of an actor (and at least two chunks): its pool stays busy
IN_FLIGHT_PER_WORKER = 2
#: seconds a chunk may take beyond the sum of its jobs' time limits before it is given up on
CHUNK_MARGIN_S = 60.0
#: seconds an actor whose call failed is passed over while others can take the work
SUSPECT_S = 2.0
#: seconds between looks at the cluster's nodes (new nodes get an actor, departed ones are dropped)
REFRESH_S = 60.0
#: seconds a chunk waits for its restarting actor (or another) before it is given up on
RESTART_WAIT_S = 120.0


class NodeExecutor:
    """The actor: an executor pool on one node and the problems it has been sent (by content key)."""

    def __init__(self, workers: int | None, require_isolation: bool, cache: int = 4096) -> None:
        from ..sandbox.executor import Executor
        from ..sandbox.sizing import pool_size

        kwargs = {"require_isolation": True} if require_isolation else {}
        self.executor = Executor(workers=workers or pool_size(), **kwargs)
        self.problems: collections.OrderedDict[str, Problem] = collections.OrderedDict()
        self.cache = cache
        self.lock = threading.Lock()

    def info(self) -> dict[str, Any]:
        import ray

        return {
            "node_id": ray.get_runtime_context().get_node_id(),
            "pid": os.getpid(),
            "workers": self.executor.size,
        }

    def run(
        self, jobs: list[tuple[str | None, str, Limits | None, Any]], problems: dict[str, Problem]
    ) -> dict[str, Any]:
        """Jobs as (problem key, code, limits, stdio cases); {"missing": keys} when a problem is not here."""
        with self.lock:
            self.problems.update(problems)
            missing = sorted({k for k, *_ in jobs if k is not None and k not in self.problems})
            if missing:
                return {"missing": missing}
            subs: list[Submission | StdioSubmission] = []
            for key, code, limits, cases in jobs:
                if key is None:
                    subs.append(StdioSubmission(code, cases, limits))
                else:
                    self.problems.move_to_end(key)
                    subs.append(Submission(self.problems[key], code, limits))
            while len(self.problems) > self.cache:
                self.problems.popitem(last=False)
        return {"results": self.executor.run_many(subs)}


@dataclasses.dataclass
class _Actor:
    handle: Any
    node_id: str
    workers: int
    known: set[str] = dataclasses.field(default_factory=set)  # problem keys it was sent
    in_flight: int = 0  # jobs
    failed_at: float = -math.inf  # when a call to it last failed
    available_at: float = -math.inf  # restarting: no work before then


@dataclasses.dataclass
class _Chunk:
    indices: list[int]
    attempts: int = 0
    actor: _Actor | None = None
    started: float = 0.0
    deadline: float = 0.0
    unavailable_since: float | None = None  # first time its actor was restarting


@dataclasses.dataclass
class RayStats:
    chunks: int = 0
    retries: int = 0  # chunks sent again after an actor failed
    resent_problems: int = 0  # chunks sent again with problems an actor had lost
    infra_failures: int = 0  # jobs given up on
    problems_shipped: int = 0


class RayExecutor:
    """Drop-in for `Executor.run_many` on a Ray cluster. close() when done (or use `with`)."""

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        require_isolation: bool = False,
        retries: int = 2,
        max_restarts: int = 3,
        chunk_size: int = 8,
        name: str = "g4c-executor",
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        try:
            import ray
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        except ImportError:
            raise UserError(
                "--execute_backend ray needs Ray: pip install 'grpo4codegen[ray]' (or pip install ray)"
            ) from None
        from ..sandbox.sizing import local_trainers

        self._ray = ray
        self.started_runtime = False
        if address is None and local_trainers() > 1 and not os.environ.get("RAY_ADDRESS"):
            address = "auto"  # several ranks must share one cluster, not each start a runtime
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, **(init_kwargs or {})}
            try:
                ray.init(address=address, namespace=NAMESPACE, **kwargs)
            except ConnectionError as e:
                raise UserError(
                    f"--ray_address {address!r}: cannot reach a Ray cluster there ({e}); "
                    "start one with `ray start --head` (see docs/scaling.md)"
                ) from None
            self.started_runtime = address is None and _started_here(ray)
        self.retries = retries
        self.chunk_size = max(1, chunk_size)
        self.stats = RayStats()
        self._lock = threading.Lock()
        self._keys: collections.OrderedDict[int, tuple[Problem, str]] = collections.OrderedDict()
        self._options = dict(
            name=name, max_restarts=max_restarts, workers=workers, isolation=require_isolation
        )
        self._strategy = NodeAffinitySchedulingStrategy
        self._remote = ray.remote(NodeExecutor)  # made remote here: Ray is imported only for this backend
        self.actors: list[_Actor] = []
        self._placed_at = 0.0
        self._chunk = self.chunk_size
        self._place_actors()
        if not self.actors:
            raise UserError("the Ray cluster has no alive node with CPUs to run sandboxes on")
        log.info(
            "Ray executor: %d actor(s), %d sandbox workers in all",
            len(self.actors),
            sum(a.workers for a in self.actors),
        )

    def _dead(self, actor: _Actor) -> bool:
        """Whether an actor that failed since the last placement is gone for good (restarts spent);
        its name is then free, and the node gets a fresh actor."""
        if actor.failed_at < self._placed_at:
            return False
        try:
            self._ray.get(actor.handle.info.remote(), timeout=10)
        except self._ray.exceptions.ActorDiedError:
            log.warning("executor actor on Ray node %s is gone; placing a new one", actor.node_id[:8])
            return True
        except Exception:  # restarting or slow: keep it
            return False
        return False

    def _place_actors(self) -> None:
        """One actor on every alive node with CPUs that has none yet; forget actors of departed nodes."""
        ray, o = self._ray, self._options
        nodes = {
            n["NodeID"]: n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0
        }
        self.actors = [a for a in self.actors if a.node_id in nodes and not self._dead(a)]
        have = {a.node_id for a in self.actors}
        handles = [
            self._remote.options(
                name=f"{o['name']}-{node_id[:16]}",
                namespace=NAMESPACE,
                get_if_exists=True,  # the training ranks attached to this cluster share it
                num_cpus=0,  # its sandbox workers are its own processes, sized to the node
                max_restarts=o["max_restarts"],
                max_task_retries=0,  # chunks are retried here, on whichever actor is free
                max_concurrency=64,
                scheduling_strategy=self._strategy(node_id, soft=False),
            ).remote(o["workers"], o["isolation"])
            for node_id in nodes
            if node_id not in have
        ]
        for handle in handles:
            try:
                info = ray.get(handle.info.remote(), timeout=120)
            except Exception as e:  # a node that cannot host one now is tried again on the next refresh
                log.warning("no executor actor on a Ray node: %s", e)
                continue
            self.actors.append(_Actor(handle, info["node_id"], info["workers"]))
        self._placed_at = time.monotonic()

    @property
    def size(self) -> int:
        return sum(a.workers for a in self.actors)

    # -- the executor's API -----------------------------------------------------------------------
    def run(self, problem: Problem, code: str, limits: Limits | None = None) -> ExecutionResult:
        return self.run_many([Submission(problem, code, limits)])[0]

    def run_stdio(
        self, code: str, cases: list[tuple[str, str]], limits: Limits | None = None
    ) -> ExecutionResult:
        return self.run_many([StdioSubmission(code, cases, limits)])[0]

    def run_many(
        self,
        submissions: Sequence[Submission | StdioSubmission],
        on_result: Callable[[int, ExecutionResult], None] | None = None,
    ) -> list[ExecutionResult]:
        """Results in input order; a job that could not be run has `infra_error` set."""
        subs = list(submissions)
        if time.monotonic() - self._placed_at > REFRESH_S:
            with self._lock:
                self._place_actors()  # nodes that joined get an actor; departed ones are dropped
        jobs, problems = self._jobs(subs)
        results: list[ExecutionResult | None] = [None] * len(subs)
        # small enough that every sandbox worker of the cluster gets about two chunks of the batch
        size = max(1, min(self.chunk_size, math.ceil(len(subs) / (IN_FLIGHT_PER_WORKER * max(1, self.size)))))
        self._chunk = size
        waiting = collections.deque(
            _Chunk(list(range(i, min(i + size, len(subs))))) for i in range(0, len(subs), size)
        )
        running: dict[Any, _Chunk] = {}
        emitted = 0
        with self._lock:  # one batch at a time: the actors' loads are this object's bookkeeping
            while waiting or running:
                self._dispatch(waiting, running, jobs, problems, subs)
                if not running and waiting:
                    if not self.actors:  # every node is gone
                        self._give_up(list(waiting), results, "no executor actor on the Ray cluster")
                        break
                    # every actor is restarting: wait for the first to be back
                    time.sleep(
                        min(1.0, max(0.05, min(a.available_at for a in self.actors) - time.monotonic()))
                    )
                    continue
                ready, _ = self._ray.wait(list(running), num_returns=1, timeout=1.0)
                for ref in ready:
                    chunk = running.pop(ref)
                    self._collect(ref, chunk, waiting, results)
                self._expire(running, results)
                while on_result and emitted < len(results) and results[emitted] is not None:
                    on_result(emitted, results[emitted])  # type: ignore[arg-type]
                    emitted += 1
        lost = [i for i, r in enumerate(results) if r is None]
        if lost:  # cannot happen by construction; if it did, say so rather than lose a job
            self._give_up([_Chunk(lost)], results, "no result came back")
        if on_result:
            for i in range(emitted, len(results)):
                on_result(i, results[i])  # type: ignore[arg-type]
        return results  # type: ignore[return-value]

    def close(self) -> None:
        """Leave the actors to the cluster (other ranks may share them); stop a runtime started here."""
        if self.started_runtime and self._ray.is_initialized():
            self._ray.shutdown()

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------
    def _jobs(self, subs: list[Submission | StdioSubmission]) -> tuple[list[tuple], dict[str, Problem]]:
        jobs, problems = [], {}
        for s in subs:
            if isinstance(s, StdioSubmission):
                jobs.append((None, s.code, s.limits, [tuple(c) for c in s.cases]))
            else:
                key = self._key(s.problem)
                problems[key] = s.problem
                jobs.append((key, s.code, s.limits, None))
        return jobs, problems

    def _key(self, problem: Problem) -> str:
        """The problem's content key (cached per object: a GRPO batch repeats each problem)."""
        cached = self._keys.get(id(problem))
        if cached is not None and cached[0] is problem:
            return cached[1]
        from .models import problem_payload

        text = json.dumps(problem_payload(problem), sort_keys=True, default=repr)
        key = hashlib.sha256(text.encode()).hexdigest()[:32]
        self._keys[id(problem)] = (problem, key)
        while len(self._keys) > 4096:
            self._keys.popitem(last=False)
        return key

    def _dispatch(
        self, waiting: collections.deque, running: dict, jobs: list, problems: dict, subs: list
    ) -> None:
        while waiting and self.actors:
            now = time.monotonic()
            up = [a for a in self.actors if a.available_at <= now]
            if not up:
                return
            # an actor that just failed gets work only when no other can take it (it may be gone)
            healthy = [a for a in up if a.failed_at < now - SUSPECT_S] or up
            actor = min(healthy, key=lambda a: a.in_flight / a.workers)
            # at least two chunks in flight per actor: its pool's queue never drains between chunks
            if actor.in_flight >= max(IN_FLIGHT_PER_WORKER * actor.workers, 2 * self._chunk):
                return
            chunk = waiting.popleft()
            batch = [jobs[i] for i in chunk.indices]
            keys = {j[0] for j in batch if j[0] is not None}
            send = {k: problems[k] for k in keys - actor.known}
            self.stats.problems_shipped += len(send)
            chunk.actor = actor
            chunk.started = time.monotonic()
            limits = [subs[i].limits or Limits() for i in chunk.indices]
            chunk.deadline = chunk.started + CHUNK_MARGIN_S + sum(2 * lim.total_time_s for lim in limits)
            actor.known |= keys  # optimistic: a restarted actor reports what it lacks
            actor.in_flight += len(chunk.indices)
            self.stats.chunks += 1
            running[actor.handle.run.remote(batch, send)] = chunk

    def _collect(self, ref: Any, chunk: _Chunk, waiting: collections.deque, results: list) -> None:
        actor = chunk.actor
        assert actor is not None
        actor.in_flight -= len(chunk.indices)
        try:
            reply = self._ray.get(ref)
        except Exception as e:  # the actor died (Ray restarts it) or the call itself failed
            actor.known.clear()  # a restarted actor starts with no problems
            now = actor.failed_at = time.monotonic()
            if isinstance(e, getattr(self._ray.exceptions, "ActorUnavailableError", ())):  # restarting: wait
                chunk.unavailable_since = chunk.unavailable_since or now
                if now - chunk.unavailable_since < RESTART_WAIT_S:
                    actor.available_at = now + 1.0
                    self.stats.retries += 1
                    waiting.appendleft(chunk)
                    return
            if isinstance(e, self._ray.exceptions.ActorDiedError):
                self._place_actors()  # its node may be gone: drop it, and place any new node's
            chunk.attempts += 1
            error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            if chunk.attempts > self.retries:
                self._give_up([chunk], results, f"Ray executor failed {chunk.attempts} time(s): {error}")
            else:
                self.stats.retries += 1
                log.warning(
                    "Ray executor actor on node %s failed (%s); chunk retried", actor.node_id[:8], error
                )
                waiting.appendleft(chunk)
            return
        if "missing" in reply:
            actor.known.difference_update(reply["missing"])
            self.stats.resent_problems += 1
            waiting.appendleft(chunk)
            return
        answer = reply.get("results")
        if not isinstance(answer, list) or len(answer) != len(chunk.indices):
            self._give_up([chunk], results, f"malformed actor reply ({type(answer).__name__})")
            return
        for i, result in zip(chunk.indices, answer, strict=True):
            ok = isinstance(result, ExecutionResult)
            results[i] = (
                result if ok else ExecutionResult(infra_error="ray execution failed: malformed result")
            )

    def _expire(self, running: dict, results: list) -> None:
        now = time.monotonic()
        for ref, chunk in list(running.items()):
            if now > chunk.deadline:
                running.pop(ref)
                if chunk.actor is not None:
                    chunk.actor.in_flight -= len(chunk.indices)
                try:
                    self._ray.cancel(ref)
                except Exception as e:  # a running actor task may not be cancellable; its answer is ignored
                    log.debug("cannot cancel a late chunk: %s", e)
                self._give_up([chunk], results, f"no answer within {chunk.deadline - chunk.started:.0f} s")

    def _give_up(self, chunks: list[_Chunk], results: list, reason: str) -> None:
        for chunk in chunks:
            log.warning("%d job(s) reported as infrastructure failures: %s", len(chunk.indices), reason)
            self.stats.infra_failures += len(chunk.indices)
            for i in chunk.indices:
                results[i] = ExecutionResult(infra_error=f"ray execution failed: {reason}")


def _started_here(ray: Any) -> bool:
    """Whether ray.init() started a new local runtime (rather than attaching to a running one)."""
    try:
        return bool(ray._private.worker.global_worker.node.is_head())  # noqa: SLF001
    except AttributeError:
        return False
