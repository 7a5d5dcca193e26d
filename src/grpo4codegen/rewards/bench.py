"""`bench rewards`: time to score one GRPO batch (groups x generations) against the executor's floor.

The batch is built from reference solutions and perturbed copies of them (comment edits, a repeated
completion, a slower correct variant, a wrong one, a truncated one), as a policy would produce.
The floor runs the same distinct executions in-process with no isolation and no metrics.
"""

from __future__ import annotations

import ast
import json
import os
import time

from ..data.problems import Problem
from ..data.selection import select_problems
from ..sandbox.bench import run_floor
from ..sandbox.executor import default_executor
from .extract import extract_code
from .scorer import RewardConfig, RewardScorer


def _slower(code: str, method: str) -> str | None:
    """The same solution with a busy loop at the start of the entry method (correct, but slower)."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == method:
            node.body.insert(0, ast.parse("for _ in range(20000):\n    pass").body[0])
            return ast.unparse(tree)
    return None


def _wrong(code: str, method: str) -> str | None:
    tree = ast.parse(code)
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


def run_reward_benchmark(problems: list[Problem], groups: int, per_group: int, seed: int) -> int:
    chosen = select_problems(problems, sample=groups, seed=seed)
    task_ids = [p.task_id for p in chosen for _ in range(per_group)]
    completions = [c for p in chosen for c in variants(p, per_group)]
    config = RewardConfig()  # all four dimensions, judge off
    executor = default_executor()
    workers = executor.size
    print(
        f"bench rewards: {len(chosen)} problems x {per_group} = {len(completions)} completions, {workers} workers",
        flush=True,
    )

    scorer = RewardScorer(chosen, config, runner=executor)
    t0 = time.perf_counter()
    scorer.execution.profiles(chosen)  # reference profiles: measured once per problem, then cached
    profile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = scorer.score(task_ids, completions, group_ids=task_ids)
    seconds = time.perf_counter() - t0

    by_id = {p.task_id: p for p in chosen}
    distinct = {}
    for tid, completion in zip(task_ids, completions, strict=True):
        code = extract_code(completion, by_id[tid].entry_point)
        if code is not None:
            distinct[(tid, code)] = None
    floor_s, _, _ = run_floor([by_id[t] for t, _ in distinct], workers, [c for _, c in distinct])

    print(f"reference profiles (once per problem, cached): {profile_s:7.2f} s")
    print(
        f"score {len(completions)} completions (4 dimensions): {seconds:7.2f} s  ({len(distinct)} distinct executions)"
    )
    print(f"floor: same executions in-process, no isolation:  {floor_s:7.2f} s")
    print(f"over floor: {seconds / floor_s:.2f}x")
    rewards = [s.reward for s in scores if s.reward is not None]
    summary = {
        "completions": len(completions),
        "groups": len(chosen),
        "distinct_executions": len(distinct),
        "seconds": seconds,
        "floor_seconds": floor_s,
        "over_floor": seconds / floor_s,
        "reference_profile_seconds": profile_s,
        "reward_mean": sum(rewards) / len(rewards) if rewards else None,
        "workers": workers,
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(summary))
    return 0
