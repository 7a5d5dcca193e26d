"""`bench rewards`: time to score one GRPO batch (groups x generations) against the executor's floor.

The batch is built from reference solutions and perturbed copies of them (comment edits, a repeated
completion, a slower correct variant, a wrong one, a truncated one), as a policy would produce.
The floor runs the same distinct executions in-process with no isolation and no metrics.

Figures, all measured in one run:

* cold: a fresh scorer scores the batch, profiling the references on demand (what the first epoch
  of a training run pays for every new problem);
* warm (`seconds`, `over_floor`): the batch scored again by a scorer whose reference profiles are
  already there and whose execution cache is off, so every distinct completion runs again. The
  profiles come from the profile file (`--profiles`) when the reward configuration can load one,
  otherwise from the cold pass, in memory; `profiles_source` says which;
* stages of the warm pass: the executor's wall time, the static scores (comment, maintainability),
  and the rest; the same executions with timing only (no instruction counting, no traced run)
  show what the reward path's own choice of metrics costs (candidates get no traced run unless
  `--trace_claims`);
* with `--backend ray`: the warm pass on a Ray executor (a local runtime started here unless
  `--ray-address` names one) alternating with the embedded executor, `rounds` times each, and the
  throughput ratio `ray_over_embedded`; `lost` counts jobs that came back with no result or an
  infrastructure failure.
"""

from __future__ import annotations

import ast
import json
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..astparse import parse
from ..data.problems import Problem
from ..data.selection import select_problems
from ..sandbox.bench import run_floor
from ..sandbox.executor import Submission, default_executor
from ..sandbox.types import ExecutionResult
from .comments import comment_score
from .extract import extract_code
from .maintainability import maintainability_score
from .profiles import problem_key
from .scorer import RewardConfig, RewardScorer


def _slower(code: str, method: str) -> str | None:
    """The same solution with a busy loop at the start of the entry method (correct, but slower)."""
    tree = parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == method:
            node.body.insert(0, parse("for _ in range(20000):\n    pass").body[0])
            return ast.unparse(tree)
    return None


def _wrong(code: str, method: str) -> str | None:
    tree = parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == method:
            node.body = [ast.Return(ast.Constant(None))]
            return ast.unparse(tree)
    return None


def variants(problem: Problem, n: int) -> list[str]:
    """n completions for one problem: the reference and perturbed copies, fenced like a model's answer."""
    ref, method = problem.reference_solution, problem.method_name
    pool = [
        ref,
        ref + "\n# done\n",
        "# A direct solution.\n" + ref,
        ref,  # GRPO groups often repeat a completion verbatim
        _slower(ref, method) or ref,
        _wrong(ref, method) or ref,
        ref[: len(ref) // 2],
        ref.replace("    ", "    ", 1) + "\n\n# end of solution\n",
    ]
    return [f"Solution:\n```python\n{pool[i % len(pool)]}\n```" for i in range(n)]


class _Timed:
    """A runner that adds up the wall time of its run_many calls and counts what came back."""

    def __init__(self, runner: Any) -> None:
        self.runner, self.seconds, self.jobs, self.lost, self.infra = runner, 0.0, 0, 0, 0

    def run_many(self, submissions: Sequence[Submission], on_result: Any = None) -> list[ExecutionResult]:
        t0 = time.perf_counter()
        results = self.runner.run_many(submissions)
        self.seconds += time.perf_counter() - t0
        self.jobs += len(submissions)
        self.lost += len(submissions) - sum(isinstance(r, ExecutionResult) for r in results)
        self.infra += sum(isinstance(r, ExecutionResult) and not r.ok for r in results)
        return results


def _warm_scorer(
    problems: list[Problem], config: RewardConfig, runner: Any, cold: RewardScorer
) -> RewardScorer:
    """A scorer that holds the cold scorer's reference profiles and caches no execution results."""
    scorer = RewardScorer(problems, config, runner=runner)
    scorer.execution.cache_size = 0  # every distinct completion runs on every pass
    store = scorer.execution.store
    stored = {p.task_id: store.get(problem_key(p)) is not None for p in problems}
    in_file = [p for p in problems if stored[p.task_id]]
    missing = [p for p in problems if not stored[p.task_id]]
    if missing:  # not in a profile file: take the cold pass's, measured on this machine
        _profiles(scorer).update({p.task_id: _profiles(cold)[p.task_id] for p in missing})
    scorer.execution.profiles(in_file)  # loaded from the file, nothing measured
    scorer._loaded_from_file = len(in_file)  # type: ignore[attr-defined]
    return scorer


def _profiles(scorer: RewardScorer) -> dict[str, Any]:
    return scorer.execution._profiles  # noqa: SLF001 (the bench reuses profiles across scorers)


def _score(scorer: RewardScorer, task_ids: list[str], completions: list[str]) -> tuple[float, list]:
    t0 = time.perf_counter()
    scores = scorer.score(task_ids, completions, group_ids=task_ids)
    return time.perf_counter() - t0, scores


def run_reward_benchmark(
    problems: list[Problem],
    groups: int,
    per_group: int,
    seed: int,
    backend: str = "embedded",
    ray_address: str | None = None,
    rounds: int = 1,
    config: RewardConfig | None = None,
) -> int:
    chosen = select_problems(problems, sample=groups, seed=seed)
    task_ids = [p.task_id for p in chosen for _ in range(per_group)]
    completions = [c for p in chosen for c in variants(p, per_group)]
    config = config or RewardConfig()  # all four dimensions, judge off
    executor = default_executor()
    workers = executor.size
    print(
        f"bench rewards: {len(chosen)} problems x {per_group} = {len(completions)} completions, "
        f"{workers} workers, backend {backend}",
        flush=True,
    )

    # cold: profiles measured on demand, as the first epoch of a run without a profile file
    cold_config = replace(config, profiles_path=None) if hasattr(config, "profiles_path") else config
    cold = RewardScorer(chosen, cold_config, runner=_Timed(executor))
    t0 = time.perf_counter()
    cold.execution.profiles(chosen)
    profile_s = time.perf_counter() - t0
    cold_score_s, _ = _score(cold, task_ids, completions)
    cold_s = profile_s + cold_score_s

    # warm: profiles there (from the profile file where one is configured), every completion run again
    embedded = _Timed(executor)
    warm = _warm_scorer(chosen, config, embedded, cold)
    loaded = getattr(warm, "_loaded_from_file", 0)
    source = (
        f"profile file ({loaded} of {len(chosen)} problems)"
        if loaded
        else "cold pass, kept in memory (no profile file)"
    )
    seconds, scores = _score(warm, task_ids, completions)

    by_id = {p.task_id: p for p in chosen}
    distinct: dict[tuple[str, str], None] = {}
    for tid, completion in zip(task_ids, completions, strict=True):
        code = extract_code(completion, by_id[tid].entry_point)
        if code is not None:
            distinct[(tid, code)] = None
    codes = [c for _, c in distinct]
    floor_s, _, _ = run_floor([by_id[t] for t, _ in distinct], workers, codes)

    # where the warm pass's time goes
    t0 = time.perf_counter()
    for c in codes:
        comment_score(c)
    comment_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for c in codes:
        maintainability_score(c)
    maintainability_s = time.perf_counter() - t0
    limits = {p.task_id: warm.execution.profiles([p])[0].limits for p in chosen}
    untraced = [
        Submission(by_id[t], c, replace(limits[t], metrics=("time",), traced_tests=None)) for t, c in distinct
    ]
    t0 = time.perf_counter()
    executor.run_many(untraced)
    untraced_s = time.perf_counter() - t0

    print(f"reference profiles (cold, once per problem):      {profile_s:7.2f} s")
    print(f"warm passes take their profiles from: {source}")
    print(f"cold: score {len(completions)} completions, profiling on demand: {cold_s:7.2f} s")
    print(
        f"warm: score {len(completions)} completions (4 dimensions):  {seconds:7.2f} s  "
        f"({len(distinct)} distinct executions)"
    )
    print(f"  executor (the reward path's metrics):         {embedded.seconds:7.2f} s")
    print(f"    the same executions, timing only:           {untraced_s:7.2f} s")
    print(f"  comment + maintainability scores:             {comment_s + maintainability_s:7.2f} s")
    rest_s = seconds - embedded.seconds - comment_s - maintainability_s
    print(f"  the rest (extraction, aggregation, ...):      {rest_s:7.2f} s")
    print(f"floor: same executions in-process, no isolation: {floor_s:7.2f} s")
    print(f"over floor: {seconds / floor_s:.2f}x warm, {cold_s / floor_s:.2f}x cold")
    rewards = [s.reward for s in scores if s.reward is not None]
    summary: dict[str, Any] = {
        "completions": len(completions),
        "groups": len(chosen),
        "distinct_executions": len(distinct),
        "backend": backend,
        "seconds": seconds,
        "floor_seconds": floor_s,
        "over_floor": seconds / floor_s,
        "cold_seconds": cold_s,
        "cold_over_floor": cold_s / floor_s,
        "reference_profile_seconds": profile_s,
        "profiles_source": source,
        "stage_executor_seconds": embedded.seconds,
        "stage_executor_timed_only_seconds": untraced_s,
        "stage_static_scores_seconds": comment_s + maintainability_s,
        "stage_comment_seconds": comment_s,
        "stage_maintainability_seconds": maintainability_s,
        "stage_rest_seconds": rest_s,
        "reward_mean": sum(rewards) / len(rewards) if rewards else None,
        "workers": workers,
        "cpu_count": os.cpu_count(),
        "lost": embedded.lost,
        "infra_failures": embedded.infra,
    }
    if backend == "ray":
        summary.update(_ray_rounds(chosen, config, cold, task_ids, completions, ray_address, rounds, seconds))
        summary["ray_over_floor"] = summary["seconds"] / floor_s
    print(json.dumps(summary))
    return 1 if summary["lost"] else 0


def _ray_rounds(
    chosen: list[Problem],
    config: RewardConfig,
    cold: RewardScorer,
    task_ids: list[str],
    completions: list[str],
    ray_address: str | None,
    rounds: int,
    first_embedded_s: float,
) -> dict[str, Any]:
    """The warm pass on Ray and on the embedded executor, alternating, so load changes hit both."""
    from ..server.raypool import RayExecutor

    t0 = time.perf_counter()
    ray_executor = RayExecutor(ray_address)
    start_s = time.perf_counter() - t0
    try:
        on_ray = _Timed(ray_executor)
        on_ray.run_many([Submission(p, p.reference_solution) for p in chosen[:1]])  # actors up and warm
        on_ray.seconds = on_ray.jobs = 0
        embedded = _Timed(default_executor())
        ray_s, embedded_s = 0.0, first_embedded_s
        for k in range(rounds):
            ray_s += _score(_warm_scorer(chosen, config, on_ray, cold), task_ids, completions)[0]
            if k + 1 < rounds:
                embedded_s += _score(_warm_scorer(chosen, config, embedded, cold), task_ids, completions)[0]
        ray_s, embedded_s = ray_s / rounds, embedded_s / rounds
        actors = len(ray_executor.actors)
        ray_workers = ray_executor.size
        stats = ray_executor.stats
    finally:
        ray_executor.close()
    ratio = embedded_s / ray_s  # throughput: the same batch, so the inverse ratio of the times
    print(f"ray: {actors} actor(s), {ray_workers} sandbox workers, runtime up in {start_s:.1f} s")
    print(f"warm pass on Ray: {ray_s:7.2f} s vs embedded {embedded_s:7.2f} s (mean of {rounds} round(s))")
    print(f"ray over embedded (throughput): {ratio:.2f}x; lost {on_ray.lost}, infra failures {on_ray.infra}")
    return {
        "seconds": ray_s,
        "embedded_seconds": embedded_s,
        "ray_over_embedded": ratio,
        "ray_actors": actors,
        "ray_workers": ray_workers,
        "ray_start_seconds": start_s,
        "ray_problems_shipped": stats.problems_shipped,
        "ray_retries": stats.retries,
        "lost": on_ray.lost,
        "infra_failures": on_ray.infra,
        "rounds": rounds,
    }
