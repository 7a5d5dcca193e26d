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
from .aggregate import DIMENSIONS
from .scorer import CompletionScore, RewardConfig, RewardScorer


def add_reward_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reward_dimensions", "--reward-dimensions", default=",".join(DIMENSIONS), help="comma list"
    )
    p.add_argument("--fixed_weights", "--fixed-weights", default=None, help="JSON weights per dimension")
    p.add_argument("--aggregation", choices=["weighted_sum", "normalize_then_sum"], default="weighted_sum")
    p.add_argument(
        "--use_weight_net",
        "--use-weight-net",
        action="store_true",
        help="learned weights (one update over the file)",
    )
    p.add_argument(
        "--execute_code_url",
        "--execute-code-url",
        default=None,
        help="execution server URL(s), comma separated",
    )
    p.add_argument(
        "--judge_base_url",
        "--judge-base-url",
        default=None,
        help="OpenAI-compatible endpoint for the comment judge",
    )
    p.add_argument("--judge_model", "--judge-model", default=None)


def reward_config_from_args(args: argparse.Namespace) -> RewardConfig:
    judge = None
    if args.judge_base_url:
        from .judge import JudgeConfig

        judge = JudgeConfig(base_url=args.judge_base_url, model=args.judge_model or "judge")
    return RewardConfig(
        reward_dimensions=args.reward_dimensions,  # type: ignore[arg-type]
        fixed_weights=args.fixed_weights,
        aggregation=args.aggregation,
        execute_code_url=args.execute_code_url,
        judge=judge,
    )


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
            raise UserError(f"{path}: line {number} is not valid JSON ({e.msg})") from None
        if not isinstance(row, dict) or "task_id" not in row or "completion" not in row:
            raise UserError(f"{path}: line {number} needs `task_id` and `completion` fields")
        rows.append(row)
    if not rows:
        raise UserError(f"{path}: no completions")
    return rows


def _weights(
    scorer: RewardScorer, scores: list[CompletionScore], args: argparse.Namespace
) -> dict[str, float] | None:
    if not args.use_weight_net:
        return None
    from .weight_net import WeightController

    controller = WeightController(scorer.config.weights())
    table = {d: [s.dimensions.get(d) for s in scores] for d in scorer.config.reward_dimensions}
    return controller.update(table, [s.task_id for s in scores])


def _rewards(args: argparse.Namespace) -> int:
    problems = problems_from_args(args)
    rows = read_completions(args.completions)
    config = reward_config_from_args(args)
    scorer = RewardScorer(problems, config)
    task_ids = [str(r["task_id"]) for r in rows]
    completions = [r["completion"] for r in rows]
    scores = scorer.dimension_scores(task_ids, completions)
    weights = _weights(scorer, scores, args)
    scores = scorer.score(task_ids, completions, weights=weights)
    scorer.close()
    summary = _summary(scores, config, weights or (config.weights() if config.reward_dimensions else {}))
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
    """Score the same completions n times, each with fresh executions and reference profiles."""
    from ..sandbox.executor import default_executor

    runs = []
    for _ in range(n):
        scorer = RewardScorer(
            problems, config, runner=None if config.execute_code_url else default_executor()
        )
        runs.append(scorer.dimension_scores(task_ids, completions))
    out: dict[str, Any] = {"repeat": n}
    for d in config.reward_dimensions:
        stds = []
        for i in range(len(task_ids)):
            values = [r[i].dimensions.get(d) for r in runs]
            if all(v is not None for v in values):
                stds.append(statistics.pstdev(values))  # type: ignore[arg-type]
        out[f"{d}_std_max"] = max(stds) if stds else None
        out[f"{d}_std_mean"] = statistics.fmean(stds) if stds else None
    return out


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

    config = RewardConfig()
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
    p.set_defaults(handler=_bench)
