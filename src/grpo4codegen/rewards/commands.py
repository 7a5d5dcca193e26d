"""`grpo4codegen rewards` (score a completions file) and `grpo4codegen bench rewards`."""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path
from typing import Any

from ..data.commands import add_dataset_args, problems_from_args
from ..data.problems import Problem
from ..errors import UserError
from .config import RewardConfig, add_reward_arguments, reward_config_from_args
from .execution import summarise
from .scorer import CompletionScore, RewardScorer

__all__ = ["add_reward_args", "reward_config_from_args", "register"]


def add_reward_args(p: argparse.ArgumentParser) -> None:
    """Every RewardConfig option (and `--config FILE.yaml`), as `train` has them."""
    add_reward_arguments(p)


def read_completions(path: str) -> list[dict[str, Any]]:
    """Rows with `task_id` and `completion` (a string or a list of chat messages)."""
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{path}: line {number} is not JSON ({e.msg})") from None
        if not isinstance(row, dict) or "task_id" not in row or "completion" not in row:
            raise UserError(f"{path}: line {number} needs `task_id` and `completion` fields")
        rows.append(row)
    if not rows:
        raise UserError(f"{path}: no completions")
    return rows


def _weights(scorer: RewardScorer, scores: list[CompletionScore]) -> dict[str, float] | None:
    config = scorer.config
    if not config.use_weight_net or not config.reward_dimensions:
        return None
    from .weight_net import WeightController

    controller = WeightController(config.weights(), **config.weight_net_options())
    table = {d: [s.dimensions.get(d) for s in scores] for d in config.reward_dimensions}
    return controller.update(table, [s.task_id for s in scores], keys=[s.code for s in scores])


def _rewards(args: argparse.Namespace) -> int:
    problems = problems_from_args(args)
    rows = read_completions(args.completions)
    config = reward_config_from_args(args)
    scorer = RewardScorer(problems, config)
    task_ids = [str(r["task_id"]) for r in rows]
    completions = [r["completion"] for r in rows]
    scores = scorer.dimension_scores(task_ids, completions)
    weights = _weights(scorer, scores)
    scores = scorer.score(task_ids, completions, weights=weights)
    scorer.close()
    summary = _summary(scores, config, weights or (config.weights() if config.reward_dimensions else {}))
    summary["retimed"] = scorer.execution.retimed
    if args.repeat > 1:
        summary.update(_repeat_std(problems, config, task_ids, completions, args.repeat))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            for row, s in zip(rows, scores, strict=True):
                f.write(json.dumps({**{k: row[k] for k in row if k != "completion"}, **s.to_row()}) + "\n")
    if args.json:
        print(json.dumps(summary))
    else:
        _print_summary(summary)
    return 0


def _summary(
    scores: list[CompletionScore], config: RewardConfig, weights: dict[str, float]
) -> dict[str, Any]:
    dims = [
        *config.reward_dimensions,
        *(["correctness_strict"] if "correctness" in config.reward_dimensions else []),
    ]
    means = {}
    for d in dims:
        values = [s.dimensions.get(d) for s in scores if s.dimensions.get(d) is not None]
        means[d] = statistics.fmean(values) if values else None
    rewards = [s.reward for s in scores if s.reward is not None]
    return {
        "completions": len(scores),
        "groups": len({s.task_id for s in scores}),
        "means": means,
        "reward_mean": statistics.fmean(rewards) if rewards else None,
        "weights": weights,
        "aggregation": config.aggregation,
        "infra_failures": sum(s.infra_failure for s in scores),
    }


def _repeat_std(
    problems: list[Problem], config: RewardConfig, task_ids: list[str], completions: list, n: int
) -> dict:
    """Score the same completions n times, each with a fresh scorer (fresh executions; fresh reference
    profiles unless --profiles_path gives precomputed ones)."""
    runs = []
    retimed = []
    for _ in range(n):
        scorer = RewardScorer(problems, config)
        runs.append(scorer.dimension_scores(task_ids, completions))
        retimed.append(scorer.execution.retimed)
        scorer.close()
    out: dict[str, Any] = {"repeat": n, "retimed_per_repeat": retimed}
    # completions whose verdicts changed between runs (a test near its time limit): every quality
    # dimension of such code flips with it (0 unless all tests pass), which is verdict noise, not
    # measurement noise of the dimension; reported apart, and each spread also without them
    flipped = {i for i in range(len(task_ids)) if len({_outcomes(r[i]) for r in runs}) > 1}
    out["verdict_flips"] = len(flipped)
    out["verdict_flip_task_ids"] = sorted({task_ids[i] for i in flipped})
    out["verdict_flip_details"] = [
        {"index": i, "task_id": task_ids[i], "runs": [_outcome_summary(r[i]) for r in runs]}
        for i in sorted(flipped)
    ]
    for d in config.reward_dimensions:
        stds, kept = [], []
        for i in range(len(task_ids)):
            values = [r[i].dimensions.get(d) for r in runs]
            if all(v is not None for v in values):
                stds.append(statistics.pstdev(values))  # type: ignore[arg-type]
                kept.append(i)
        out[f"{d}_std_max"] = max(stds) if stds else None
        out[f"{d}_std_mean"] = statistics.fmean(stds) if stds else None
        steady = [sd for sd, i in zip(stds, kept, strict=True) if i not in flipped]
        out[f"{d}_std_max_steady_verdicts"] = max(steady) if steady else None
        if stds:  # which completion varies most (index into the completions file), to investigate it
            worst = max(range(len(stds)), key=stds.__getitem__)
            out[f"{d}_std_worst"] = {"index": kept[worst], "task_id": task_ids[kept[worst]]}
    return out


def _outcome_summary(score: CompletionScore) -> dict[str, Any] | None:
    """One run of a completion: how many tests ended how, and the first failure's error text."""
    result = score.execution.result if score.execution else None
    if result is None:
        return None
    first = next((t for t in result.tests if not t.passed), None)
    return {
        "outcomes": summarise([score.execution]),  # type: ignore[list-item]
        "first_error": None if first is None else (first.error or "")[:200],
    }


def _outcomes(score: CompletionScore) -> tuple[str, ...] | None:
    result = score.execution.result if score.execution else None
    return None if result is None else tuple(t.exec_outcome.value for t in result.tests)


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{summary['completions']} completions, {summary['groups']} groups")
    table.add_column("dimension")
    table.add_column("mean", justify="right")
    table.add_column("weight", justify="right")
    for d, m in summary["means"].items():
        w = summary["weights"].get(d)
        table.add_row(d, "-" if m is None else f"{m:.4f}", "" if w is None else f"{w:.3f}")
    table.add_row(
        "reward",
        "-" if summary["reward_mean"] is None else f"{summary['reward_mean']:.4f}",
        summary["aggregation"],
    )
    console = Console()
    console.print(table)
    console.print(f"infrastructure failures: {summary['infra_failures']}")
    for key in sorted(k for k in summary if k.endswith("_std_max")):
        console.print(f"{key}: {summary[key]}")


def _bench(args: argparse.Namespace) -> int:
    from .bench import run_reward_benchmark

    config = (
        RewardConfig()
        if args.efficiency_retimes is None
        else RewardConfig(efficiency_retimes=args.efficiency_retimes)
    )
    if args.profiles:
        if not hasattr(config, "profiles_path"):
            raise UserError("--profiles: this build cannot load a reference profile file")
        config.profiles_path = args.profiles
    if args.rounds < 1:
        raise UserError("--rounds must be at least 1")
    return run_reward_benchmark(
        problems_from_args(args),
        groups=args.groups,
        per_group=args.per_group,
        seed=args.seed,
        backend=args.backend,
        ray_address=args.ray_address,
        rounds=args.rounds,
        config=config,
    )


def _profile_references(args: argparse.Namespace) -> int:
    """Measure every problem's reference profile and write them to one file (added to what is there)."""
    import time

    problems = [p for p in problems_from_args(args) if p.tests and p.reference_solution]
    if not problems:
        raise UserError(f"{args.dataset}: no problems with tests and a reference solution")
    config = reward_config_from_args(args, profiles_path=args.output)
    scorer = RewardScorer(problems, config)
    from .profiles import problem_key

    reused = sum(scorer.execution.store.get(problem_key(p)) is not None for p in problems)
    started = time.perf_counter()
    profiles = []
    for i in range(0, len(problems), args.chunk_size):
        profiles += scorer.execution.profiles(problems[i : i + args.chunk_size])
    scorer.close()
    failed = [p.task_id for p, prof in zip(problems, profiles, strict=True) if prof.error]
    summary = {
        "output": args.output,
        "problems": len(problems),
        "reused": reused,
        "in_file": len(scorer.execution.store),
        "failed": failed,
        "seconds": round(time.perf_counter() - started, 2),
    }
    print(json.dumps(summary))
    return 1 if failed and len(failed) == len(problems) else 0


def _default_bench_dataset() -> str:
    """The v0.3.1 test file beside the checkout when present (as the issue asks), else the built-ins."""
    path = os.path.join("..", "shared", "data", "leetcodedataset", "LeetCodeDataset-v0.3.1-test.jsonl.gz")
    return path if os.path.exists(path) else "builtin"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rewards", help="score a completions file with every configured dimension")
    add_dataset_args(p)
    p.add_argument("--completions", required=True, help="jsonl rows with task_id and completion")
    p.add_argument("--output", "-o", help="write one scored row per completion")
    p.add_argument("--repeat", type=int, default=1, help="score N times and report each dimension's spread")
    p.add_argument("--json", action="store_true")
    add_reward_args(p)
    p.set_defaults(handler=_rewards)

    p = sub.add_parser(
        "profile-references",
        help="measure every reference solution once and write the profiles file that --profiles_path reads",
    )
    add_dataset_args(p)
    p.add_argument(
        "--output", "-o", default="reference_profiles.json", help="profiles file (updated in place)"
    )
    p.add_argument("--chunk-size", type=int, default=64, help="problems measured per batch")
    add_reward_args(p)
    p.set_defaults(handler=_profile_references)

    from ..cli import subcommand_group

    bench_sub = subcommand_group(sub, "bench", "benchmarks")
    p = bench_sub.add_parser("rewards", help="time to score a GRPO batch against the executor's floor")
    add_dataset_args(p, default=_default_bench_dataset())
    p.add_argument("--groups", type=int, default=32)
    p.add_argument("--per-group", type=int, default=8)
    p.add_argument(
        "--backend",
        choices=["embedded", "ray"],
        default="embedded",
        help="ray: also score on Ray executor actors and compare with the embedded executor",
    )
    p.add_argument("--ray-address", default=None, help="Ray cluster (default: start a local runtime)")
    p.add_argument("--rounds", type=int, default=2, help="alternating Ray/embedded passes (--backend ray)")
    p.add_argument("--profiles", default=None, help="reference profile file for the warm passes")
    p.add_argument(
        "--efficiency-retimes",
        type=int,
        default=None,
        help="extra timed runs of slow-looking passing code (default: the reward configuration's)",
    )
    p.set_defaults(handler=_bench)
