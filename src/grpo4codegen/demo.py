"""`grpo4codegen demo`: the whole data flow on embedded defaults, in about a minute on a laptop CPU.

Built-in problems -> embedded sandbox (reference solutions must pass) -> rewards for a few sample
completions -> a few GRPO steps of the tiny model (when the `[train]` extras are installed).
"""

from __future__ import annotations

import argparse
import importlib.util
import time

from .data import load_problems
from .sandbox.executor import default_executor

_SAMPLES = {
    "reference": None,  # filled with the problem's reference solution
    "wrong answer": "class Solution:\n    def countPairs(self, nums, target):\n        return len(nums)\n",
    "syntax error": "class Solution:\n    def countPairs(self, nums, target)\n        return 0\n",
    "quadratic": (
        "class Solution:\n    def countPairs(self, nums, target):\n        # try every pair\n"
        "        return sum(nums[i] + nums[j] == target for i in range(len(nums)) for j in range(i + 1, len(nums)))\n"
    ),
}


def _demo(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from .rewards.scorer import RewardConfig, RewardScorer
    from .sandbox.commands import REFERENCE_LIMITS, verify

    console = Console()
    problems = load_problems("builtin")
    console.rule("1. data")
    console.print(
        f"{len(problems)} built-in problems, {sum(len(p.tests) for p in problems)} structured tests"
    )

    console.rule("2. sandbox")
    executor = default_executor()
    layers = executor.layers()
    active = [k for k, v in layers.items() if v in ("active", "available")]
    console.print(f"isolation layers active: {', '.join(active)}")
    t0 = time.perf_counter()
    summary = verify(problems, executor, REFERENCE_LIMITS)
    console.print(
        f"reference solutions: {summary['all_passed']}/{summary['problems']} problems pass all "
        f"{summary['tests']} tests in {time.perf_counter() - t0:.1f} s"
    )

    console.rule("3. rewards")
    problem = next(p for p in problems if p.task_id == "pair-sum-count")
    scorer = RewardScorer(problems, RewardConfig(), runner=executor)
    samples = {k: f"```python\n{v or problem.reference_solution}```" for k, v in _SAMPLES.items()}
    scores = scorer.score([problem.task_id] * len(samples), list(samples.values()))
    table = Table(title=f"rewards for sample completions of {problem.task_id}")
    for column in ("completion", "correctness", "efficiency", "comment", "maintainability", "reward"):
        table.add_column(column, justify="left" if column == "completion" else "right")
    for name, s in zip(samples, scores, strict=True):
        dims = [s.dimensions[d] for d in ("correctness", "efficiency", "comment", "maintainability")]
        table.add_row(name, *(f"{v:.3f}" for v in dims), f"{s.reward:.3f}")
    console.print(table)

    console.rule("4. training")
    if args.skip_training:
        console.print("skipped (--skip-training)")
        return 0 if not summary["failures"] else 1
    if importlib.util.find_spec("trl") is None:
        console.print("the [train] extras are not installed: pip install 'grpo4codegen[train]'")
        return 0 if not summary["failures"] else 1
    from .training.train import main as train_main

    train_main(
        [
            "--model_name_or_path", "tiny", "--meta_data", "builtin", "--output_dir", args.output_dir,
            "--use_cpu", "true", "--bf16", "false", "--max_steps", str(args.steps),
            "--per_device_train_batch_size", "4", "--num_generations", "4", "--max_completion_length", "64",
            "--learning_rate", "1e-4", "--logging_steps", "1", "--save_steps", str(args.steps),
            "--report_to", "tensorboard", "--seed", "42",
        ]
    )  # fmt: skip
    console.print(
        f"checkpoints and TensorBoard logs: {args.output_dir} (tensorboard --logdir {args.output_dir}/runs)"
    )
    return 0 if not summary["failures"] else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on the built-in problems and the tiny model")
    p.add_argument("--output-dir", default="outputs/demo", help="where the demo training run writes")
    p.add_argument("--steps", type=int, default=4, help="GRPO steps of the tiny model")
    p.add_argument("--skip-training", action="store_true")
    p.set_defaults(handler=_demo)
