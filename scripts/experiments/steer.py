"""Steering experiments: does each reward dimension move what a warm-started policy samples?

    python scripts/experiments/steer.py efficiency|comments|correctness-first|weight-net [--seed 0]

Each experiment warm-starts the `tiny-learner` preset (`grpo4codegen sft`) on a mix of two answers per
problem (`grpo4codegen.training.warmstart`), then runs GRPO (`grpo4codegen train`, the real reward
functions) with the experiment's reward settings, saving checkpoints. Every checkpoint, and the SFT
model as step 0, is sampled with `generate` (hf backend, temperature 1) and scored with `score` (all
four dimensions), the path a user takes; the share of each answer variant is counted by matching the
sampled code against the mix. Results: `<out>/<name>.json` and `<out>/<name>.png`.

* efficiency: fast vs slow correct answers, reward correctness + efficiency (0.5/0.5);
* comments: commented vs plain correct answers, reward correctness + comment (0.5/0.5);
* correctness-first: correct-plain vs wrong-commented answers, the default reward (all four dimensions,
  default weights);
* weight-net: the efficiency mix with all four dimensions, default fixed weights vs `--use_weight_net`,
  from the same warm start.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from grpo4codegen.data import load_problems
from grpo4codegen.demo import (
    add_grpo_phase_arguments,
    grpo_flags,
    learner_problems,
    sample_and_score,
    sft_flags,
    write_problem_subset,
)
from grpo4codegen.rewards.scorer import RewardConfig, RewardScorer
from grpo4codegen.training import sft, train
from grpo4codegen.training.warmstart import LEARNER_TASKS, build_mix, variant_of, write_completions

EXPERIMENTS = {
    # name: (mix, preferred variant, GRPO runs {label: extra train flags})
    # (the efficiency mixes run on the learner problems with heavy tests added: HEAVY_EXPERIMENTS)
    "efficiency": (
        "efficiency",
        "fast",
        {"fixed": ["--reward_dimensions", "correctness,efficiency", "--fixed_weights",
                   '{"correctness": 0.5, "efficiency": 0.5}']},
    ),
    "comments": (
        "comments",
        "commented",
        {"fixed": ["--reward_dimensions", "correctness,comment", "--fixed_weights",
                   '{"correctness": 0.5, "comment": 0.5}']},
    ),
    "correctness-first": ("correctness-first", "correct-plain", {"default": []}),
    "weight-net": ("efficiency", "fast", {"fixed": [], "weight-net": ["--use_weight_net"]}),
}  # fmt: skip
#: experiments whose problems get `HEAVY_TESTS` heavy tests each (`warmstart.with_heavy_tests`): on the
#: built-in tests alone the slow variants cost too little CPU for the trusted efficiency figure to tell
HEAVY_EXPERIMENTS = ("efficiency", "weight-net")
HEAVY_TESTS = 2


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def measure(
    model_dir: Path, problems: list, variants: list, work: Path, name: str, args: argparse.Namespace
) -> dict:
    """Sample and score one model; variant shares and every dimension's mean."""
    result = sample_and_score(
        model_dir, problems, work, name, args.samples, args.seed, str(work / "problems.jsonl"),
        reward_config=RewardConfig(time_limit_s=args.time_limit_s), greedy=False,
        max_new_tokens=args.max_completion_length,
    )  # fmt: skip
    sampled = result["sampled"]
    rows = [json.loads(line) for line in Path(sampled["path"]).read_text().splitlines()]
    shares = Counter(variant_of(variants, r["task_id"], r["completion"]) for r in rows)
    return {
        "dimensions": sampled["summary"]["dimensions"],
        "pass@1": sampled["summary"]["pass@1"],
        "shares": {k: v / len(rows) for k, v in sorted(shares.items())},
        "samples": len(rows),
    }


def plot(name: str, results: dict, preferred: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), dpi=80)
    for label, points in results["runs"].items():
        steps = [p["step"] for p in points]
        axes[0].plot(steps, [p["shares"].get(preferred, 0.0) for p in points], marker="o", label=label)
        axes[1].plot(steps, [p["dimensions"]["correctness"] for p in points], marker="o", label=label)
    axes[0].set_title(f"share of '{preferred}' samples", fontsize=10)
    axes[1].set_title("mean sampled correctness", fontsize=10)
    for ax in axes:
        ax.set_xlabel("GRPO step")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"{name} (seed {results['seed']}, {results['samples_per_problem']} samples/problem)", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("experiment", choices=sorted(EXPERIMENTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sft-steps", type=int, default=60)
    parser.add_argument("--grpo-steps", type=int, default=10)
    parser.add_argument(
        "--eval-every", type=int, default=5, help="checkpoint (and sample) every N GRPO steps"
    )
    parser.add_argument("--samples", type=int, default=12, help="samples per problem at each checkpoint")
    add_grpo_phase_arguments(parser)
    parser.add_argument(
        "--max-completion-length", type=int, default=224,
        help="tokens per sample (GRPO and evaluation); the longest mix answer is 160",
    )  # fmt: skip
    parser.add_argument(
        "--time-limit-s", type=float, default=4.0,
        help="seconds per test (GRPO and evaluation): the slow variants' heavy tests take tenths of a "
        "second idle, and a time-out would turn the efficiency experiment into a correctness one",
    )  # fmt: skip
    parser.add_argument("--work", default="outputs/experiments", help="runs and samples")
    parser.add_argument("--out", default="docs/experiments", help="where the JSON and the PNG go")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    mix, preferred, runs = EXPERIMENTS[args.experiment]
    work = Path(args.work) / f"{args.experiment}-seed{args.seed}"
    work.mkdir(parents=True, exist_ok=True)
    problems = learner_problems()  # the mix is built from the built-in rows
    heavy = HEAVY_TESTS if args.experiment in HEAVY_EXPERIMENTS else 0
    dataset = write_problem_subset(LEARNER_TASKS, work / "problems.jsonl", heavy_tests=heavy)
    variants = build_mix(mix, problems, RewardScorer(problems, RewardConfig(("correctness",))))
    completions = write_completions(variants, work / "mix.jsonl")
    problems = load_problems(str(dataset))  # sampled and scored on the experiment's tests (heavy ones too)
    # one warm start per (mix, seed, steps), shared by the experiments that use the same mix
    sft_dir = Path(args.work) / f"sft-{mix}-seed{args.seed}-steps{args.sft_steps}"
    if not (sft_dir / "model.safetensors").is_file():
        sft.main(sft_flags("tiny-learner", completions, dataset, sft_dir, args.sft_steps, args.seed))
    # the warm start, sampled once per evaluation setting
    cached = sft_dir / f"step0-samples{args.samples}-heavy{heavy}-len{args.max_completion_length}.json"
    if cached.is_file():
        start = json.loads(cached.read_text())
    else:
        start = {"step": 0, **measure(sft_dir, problems, variants, work, "step0", args)}
        cached.write_text(json.dumps(start))
    results = {
        "experiment": args.experiment, "mix": mix, "preferred": preferred, "seed": args.seed,
        "commit": git_commit(), "samples_per_problem": args.samples, "problems": list(LEARNER_TASKS),
        "sft_steps": args.sft_steps, "grpo_steps": args.grpo_steps, "heavy_tests_per_problem": heavy,
        "learning_rate": args.learning_rate, "beta": args.beta, "time_limit_s": args.time_limit_s,
        "max_completion_length": args.max_completion_length,
        "runs": {},
    }  # fmt: skip
    for label, extra in runs.items():
        out = work / f"grpo-{label}"
        extra = [*extra, "--beta", str(args.beta), "--max_completion_length", str(args.max_completion_length),
                 "--time_limit_s", str(args.time_limit_s)]  # fmt: skip
        flags = grpo_flags(
            str(sft_dir), dataset, out, args.grpo_steps, args.seed, extra, learning_rate=args.learning_rate
        )
        flags = [*flags[: flags.index("--save_strategy")], *flags[flags.index("--save_strategy") + 2 :]]
        flags += ["--save_strategy", "steps", "--save_steps", str(args.eval_every)]
        train.main(flags)
        points = [start]
        for step in range(args.eval_every, args.grpo_steps + 1, args.eval_every):
            point = measure(out / f"checkpoint-{step}", problems, variants, work, f"{label}-step{step}", args)
            points.append({"step": step, **point})
        results["runs"][label] = points
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["load_average_1min_at_end"] = os.getloadavg()[0]
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{args.experiment}.json").write_text(json.dumps(results, indent=1) + "\n")
    plot(args.experiment, results, preferred, out_dir / f"{args.experiment}.png")
    print(json.dumps({k: v for k, v in results.items() if k != "runs"}))
    for label, points in results["runs"].items():
        for p in points:
            print(label, p["step"], f"share {preferred}={p['shares'].get(preferred, 0):.3f}",
                  " ".join(f"{d}={v:.3f}" for d, v in p["dimensions"].items() if v is not None))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
