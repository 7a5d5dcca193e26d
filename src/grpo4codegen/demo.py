"""`grpo4codegen demo`: a model that gets better, on a laptop CPU, through the real commands.

1. data: four built-in problems with short references and heavy tests;
2. sandbox: their reference solutions must pass;
3. warm-start mix: per problem the reference and one-token mutants of it that the sandbox verifies to
   fail (`training.warmstart`);
4. SFT (`grpo4codegen sft`, TRL SFTTrainer) of the `tiny-learner` preset on that mix: it now samples
   a mixture of right and wrong answers;
5. before: `generate` (hf backend, the SFT output directory) greedy and sampled at temperature 1,
   `score` with every reward dimension;
6. GRPO (`grpo4codegen train`, TRL GRPOTrainer with our execution rewards) from the SFT model on the
   same problems;
7. after: the same sampling and scoring of the GRPO model; a before/after table and a PNG plot of each
   reward dimension's mean per GRPO step (from the trainer's log).

The before/after figures come from sampling the saved checkpoints, not from training logs. With
`--json` the last line is one JSON object (correctness_before/after, pass_at_1_before/after, seconds,
plot, ...).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from pathlib import Path
from typing import Any

from .data import load_problems

DIMENSIONS = ("correctness", "efficiency", "comment", "maintainability")
#: sampling settings shared by GRPO and the before/after figures
TOP_P = 0.9
MAX_NEW_TOKENS = 160
#: GRPO phase: a KL term to the warm start (TRL's beta) and a small learning rate keep the ~1M-parameter
#: learner from garbling answers it memorised; with beta 0 and lr 5e-4 (the first demo) a seed's
#: training correctness fell from 0.97 to 0.42 mid-run (docs/experiments.md)
GRPO_LEARNING_RATE = 2e-4
GRPO_BETA = 0.1


def learner_problems(task_ids: tuple[str, ...] | None = None) -> list:
    from .training.warmstart import LEARNER_TASKS

    wanted = task_ids or LEARNER_TASKS
    by_id = {p.task_id: p for p in load_problems("builtin")}
    return [by_id[t] for t in wanted]


def write_problem_subset(task_ids: tuple[str, ...], path: Path, heavy_tests: int = 0) -> Path:
    """The built-in rows of `task_ids` as a dataset file (`--meta_data` for train); `heavy_tests`:
    heavy tests appended to each (`warmstart.with_heavy_tests`, for the efficiency experiments)."""
    from importlib import resources

    from .training.warmstart import with_heavy_tests

    text = resources.files("grpo4codegen.data.builtin").joinpath("problems.jsonl").read_text("utf-8")
    rows = [line for line in text.splitlines() if line.strip() and json.loads(line)["task_id"] in task_ids]
    if heavy_tests:
        rows = [json.dumps(with_heavy_tests(json.loads(line), heavy_tests)) for line in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n", "utf-8")
    return path


def sft_flags(
    model: str, completions: Path, problems: Path, output: Path, steps: int, seed: int
) -> list[str]:
    """`grpo4codegen sft` flags of the warm start (full fine-tuning of the small learner)."""
    return [
        "--model_name_or_path", model, "--meta_data", str(problems), "--completions", str(completions),
        "--output_dir", str(output), "--use_cpu", "true", "--bf16", "false",
        "--per_device_train_batch_size", "8", "--max_steps", str(steps), "--learning_rate", "3e-3",
        "--lr_scheduler_type", "constant_with_warmup", "--warmup_steps", "5", "--logging_steps", "5",
        "--save_strategy", "no", "--report_to", "tensorboard", "--seed", str(seed), "--disable_tqdm", "true",
    ]  # fmt: skip


def grpo_flags(
    model: str,
    problems: Path,
    output: Path,
    steps: int,
    seed: int,
    extra: list[str] | None = None,
    prompts_per_step: int = 4,
    one_prompt_per_generation: bool = False,
    learning_rate: float = GRPO_LEARNING_RATE,
    beta: float = GRPO_BETA,
) -> list[str]:
    """`grpo4codegen train` flags of the GRPO phase: `prompts_per_step` problems x 8 samples per step.

    Sampling at temperature 1 with top_p 0.9 (as `generate` samples for the before/after figures) cuts
    the long tail of one-token slips a small model makes, so groups differ by the answer they chose.

    `one_prompt_per_generation`: each micro-batch generates the 8 samples of ONE prompt
    (steps_per_generation 1, gradient accumulation over the prompts), so no prompt is left-padded.
    TRL's loss forward passes no position_ids, so a left-padded prompt is scored at shifted positions,
    which a small model trained without padding may tolerate badly. Not the default: the demo's
    measured figures use the batched setting (4 prompts per generation), and with 2 problems both
    settings were seen to collapse one problem's answers at lr 5e-4 (docs/experiments.md).
    """
    batching = (
        ["--per_device_train_batch_size", "8", "--steps_per_generation", "1",
         "--gradient_accumulation_steps", str(prompts_per_step)]
        if one_prompt_per_generation
        else ["--per_device_train_batch_size", str(8 * prompts_per_step)]
    )  # fmt: skip
    return [
        "--model_name_or_path", model, "--meta_data", str(problems), "--output_dir", str(output),
        "--use_cpu", "true", "--bf16", "false", "--max_steps", str(steps), *batching, "--num_generations", "8",
        "--max_completion_length", str(MAX_NEW_TOKENS), "--temperature", "1.0", "--top_p", str(TOP_P),
        "--learning_rate", str(learning_rate), "--lr_scheduler_type", "constant_with_warmup", "--warmup_steps", "2",
        "--beta", str(beta), "--logging_steps", "1", "--save_strategy", "no", "--report_to", "tensorboard",
        "--seed", str(seed), "--disable_tqdm", "true", "--gradient_checkpointing", "false", *(extra or []),
    ]  # fmt: skip


def add_grpo_phase_arguments(parser: argparse.ArgumentParser) -> None:
    """`--learning-rate` and `--beta` of the GRPO phase (the demo and the steering experiments)."""
    parser.add_argument("--learning-rate", type=float, default=GRPO_LEARNING_RATE, help="GRPO learning rate")
    parser.add_argument(
        "--beta", type=float, default=GRPO_BETA, help="GRPO KL coefficient to the warm start (TRL's beta)"
    )


def sample_and_score(
    model_dir: str | Path,
    problems: list,
    out_dir: Path,
    name: str,
    n: int,
    seed: int,
    dataset: str,
    reward_config: Any = None,
    greedy: bool = True,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> dict[str, Any]:
    """What a user does: `generate` (hf) sampled at temperature 1 (and greedy), then `score` the files."""
    from .evaluation.backends import resolve_model_source
    from .evaluation.generate import GenerationSettings, run_generation
    from .evaluation.hf_backend import HFBackend
    from .evaluation.score import read_generations, score_file
    from .evaluation.summary import summarise
    from .rewards.scorer import RewardConfig

    config = reward_config or RewardConfig()
    backend = HFBackend(resolve_model_source(str(model_dir)), name, batch_size=16, device="cpu")
    result: dict[str, Any] = {}
    sampled = GenerationSettings(temperature=1.0, top_p=TOP_P, max_new_tokens=max_new_tokens, seed=seed)
    runs = [("sampled", sampled, n)]
    if greedy:
        runs.append(
            ("greedy", GenerationSettings(temperature=0.0, max_new_tokens=max_new_tokens, seed=seed), 1)
        )
    for kind, settings, count in runs:
        path = out_dir / f"{name}.{kind}.jsonl"
        path.unlink(missing_ok=True)
        run_generation(backend, problems, count, settings, path, dataset=dataset, progress=False)
        scored_path = out_dir / f"{name}.{kind}.scored.jsonl"
        scored_path.unlink(missing_ok=True)
        rows = score_file(read_generations(path), problems, config, scored_path, progress=False)
        result[kind] = {"summary": summarise(rows), "rows": rows, "path": str(path)}
    return result


def reward_curves(output_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Each dimension's mean reward per GRPO step, from the run's TensorBoard events (or trainer state)."""
    curves: dict[str, list[tuple[int, float]]] = {}
    events = sorted(Path(output_dir).glob("runs/*/events.out.tfevents.*"))
    if events:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        acc = EventAccumulator(str(events[-1].parent))
        acc.Reload()
        tags = set(acc.Tags().get("scalars", []))
        for dim in DIMENSIONS:
            tag = f"train/rewards/{dim}/mean"
            if tag in tags:
                curves[dim] = [(int(e.step), float(e.value)) for e in acc.Scalars(tag)]
        return curves
    state = json.loads((Path(output_dir) / "trainer_state.json").read_text("utf-8"))
    for entry in state.get("log_history", []):
        for dim in DIMENSIONS:
            value = entry.get(f"rewards/{dim}/mean")
            if value is not None:
                curves.setdefault(dim, []).append((int(entry["step"]), float(value)))
    return curves


def plot_curves(curves: dict[str, list[tuple[int, float]]], path: Path, title: str) -> Path:
    """A small PNG: one line per dimension, mean reward of the sampled batch per GRPO step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=80)
    for dim, points in curves.items():
        ax.plot([s for s, _ in points], [v for _, v in points], marker=".", label=dim)
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("mean reward of the batch")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _dims(summary: dict[str, Any]) -> dict[str, float | None]:
    return dict(summary.get("dimensions", {}))


def run_demo(args: argparse.Namespace) -> dict[str, Any]:
    """The whole demonstration; returns the figures (also printed)."""
    import torch
    from rich.console import Console
    from rich.table import Table

    from .rewards.scorer import RewardConfig, RewardScorer
    from .sandbox.commands import REFERENCE_LIMITS, verify
    from .sandbox.executor import default_executor
    from .training import sft, train
    from .training.warmstart import LEARNER_TASKS, build_mix, write_completions

    started = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    console = Console(stderr=args.json)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    problems = learner_problems()
    dataset = write_problem_subset(LEARNER_TASKS, out / "problems.jsonl")

    console.rule("1. data and sandbox")
    summary = verify(problems, default_executor(), REFERENCE_LIMITS)
    console.print(
        f"{len(problems)} built-in problems ({', '.join(LEARNER_TASKS)}); reference solutions: "
        f"{summary['all_passed']}/{summary['problems']} pass all {summary['tests']} tests"
    )

    console.rule("2. warm-start mix")
    scorer = RewardScorer(problems, RewardConfig(reward_dimensions=("correctness",)))
    variants = build_mix("correctness", problems, scorer)
    mix_path = write_completions(variants, out / "warmstart.jsonl")
    wrong = sum(not v.preferred for v in variants)
    console.print(
        f"{len(variants)} answers: {len(variants) - wrong} references, {wrong} sandbox-verified wrong mutants"
    )

    console.rule("3. SFT warm start (grpo4codegen sft)")
    sft_dir = out / "sft"
    t0 = time.perf_counter()
    sft.main(sft_flags(args.model, mix_path, dataset, sft_dir, args.sft_steps, args.seed))
    sft_seconds = time.perf_counter() - t0

    console.rule("4. before GRPO: generate + score")
    before = sample_and_score(sft_dir, problems, out, "before", args.samples, args.seed, str(dataset))

    console.rule("5. GRPO (grpo4codegen train)")
    grpo_dir = out / "grpo"
    t0 = time.perf_counter()
    train.main(
        grpo_flags(
            str(sft_dir), dataset, grpo_dir, args.grpo_steps, args.seed,
            learning_rate=args.learning_rate, beta=args.beta,
        )
    )  # fmt: skip
    grpo_seconds = time.perf_counter() - t0

    console.rule("6. after GRPO: generate + score")
    after = sample_and_score(grpo_dir, problems, out, "after", args.samples, args.seed, str(dataset))
    curves = reward_curves(grpo_dir)
    plot = plot_curves(
        curves, out / "rewards_per_step.png", f"GRPO on {len(problems)} problems, seed {args.seed}"
    )

    table = Table(title=f"{args.samples} samples per problem at temperature 1, greedy for pass@1")
    for column in ("metric", "before GRPO", "after GRPO", "change"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    figures: dict[str, Any] = {}
    rows = [("greedy pass@1", before["greedy"]["summary"]["pass@1"], after["greedy"]["summary"]["pass@1"])]
    rows.append(
        ("sampled pass@1", before["sampled"]["summary"]["pass@1"], after["sampled"]["summary"]["pass@1"])
    )
    for dim in (*DIMENSIONS, "reward"):
        rows.append(
            (
                f"sampled {dim}",
                _dims(before["sampled"]["summary"])[dim],
                _dims(after["sampled"]["summary"])[dim],
            )
        )
    for name, b, a in rows:
        change = (a - b) if a is not None and b is not None else None
        table.add_row(name, _fmt(b), _fmt(a), _fmt(change, sign=True))
    console.print(table)
    seconds = time.perf_counter() - started
    figures = {
        "correctness_before": _dims(before["sampled"]["summary"])["correctness"],
        "correctness_after": _dims(after["sampled"]["summary"])["correctness"],
        "pass_at_1_before": before["greedy"]["summary"]["pass@1"],
        "pass_at_1_after": after["greedy"]["summary"]["pass@1"],
        "sampled_pass_at_1_before": before["sampled"]["summary"]["pass@1"],
        "sampled_pass_at_1_after": after["sampled"]["summary"]["pass@1"],
        "dimensions_before": _dims(before["sampled"]["summary"]),
        "dimensions_after": _dims(after["sampled"]["summary"]),
        "curves": {d: [v for _, v in pts] for d, pts in curves.items()},
        "seed": args.seed,
        "samples_per_problem": args.samples,
        "sft_steps": args.sft_steps,
        "grpo_steps": args.grpo_steps,
        "learning_rate": args.learning_rate,
        "beta": args.beta,
        "sft_seconds": round(sft_seconds, 1),
        "grpo_seconds": round(grpo_seconds, 1),
        "seconds": round(seconds, 1),
        "load_average": os.getloadavg()[0],
        "plot": str(plot),
        "output_dir": str(out),
    }
    console.print(
        f"mean sampled correctness {figures['correctness_before']:.3f} -> {figures['correctness_after']:.3f}; "
        f"plot: {plot}; everything in {out} ({seconds:.0f} s; tensorboard --logdir {out})"
    )
    return figures


def _fmt(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.3f}" if sign else f"{value:.3f}"


def _demo(args: argparse.Namespace) -> int:
    if args.skip_training or importlib.util.find_spec("trl") is None:
        return _rewards_only(args)
    figures = run_demo(args)
    if args.json:
        print(json.dumps(figures))
    return 0


def _rewards_only(args: argparse.Namespace) -> int:
    """Without the [train] extras (or with --skip-training): the data, sandbox and reward stages only."""
    from rich.console import Console
    from rich.table import Table

    from .rewards.scorer import RewardConfig, RewardScorer
    from .sandbox.commands import REFERENCE_LIMITS, verify
    from .sandbox.executor import default_executor
    from .training.warmstart import build_mix

    console = Console()
    if importlib.util.find_spec("trl") is None:
        console.print(
            "the [train] extras are not installed (pip install 'grpo4codegen[train]'): rewards only"
        )
    problems = learner_problems()
    executor = default_executor()
    summary = verify(problems, executor, REFERENCE_LIMITS)
    console.print(f"reference solutions: {summary['all_passed']}/{summary['problems']} problems pass")
    variants = build_mix("correctness", problems, RewardScorer(problems, RewardConfig(("correctness",))))
    scorer = RewardScorer(problems, RewardConfig(), runner=executor)
    scores = scorer.score([v.task_id for v in variants], [v.completion() for v in variants])
    table = Table(title="rewards of the warm-start answers")
    for column in ("task", "answer", *DIMENSIONS, "reward"):
        table.add_column(column)
    for v, s in zip(variants, scores, strict=True):
        table.add_row(v.task_id, v.label, *(_fmt(s.dimensions.get(d)) for d in DIMENSIONS), _fmt(s.reward))
    console.print(table)
    if args.json:
        print(
            json.dumps({"reference_problems_passed": summary["all_passed"], "problems": summary["problems"]})
        )
    return 0 if not summary["failures"] else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="SFT warm start + GRPO of a small local model on built-in problems; before/after table and plot",
    )
    p.add_argument("--output-dir", default="outputs/demo", help="where the runs, samples and plot go")
    p.add_argument(
        "--model", default="tiny-learner", help="model to warm-start (a preset name or a directory)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of SFT, GRPO and sampling")
    p.add_argument("--sft-steps", type=int, default=60, help="SFT optimizer steps of the warm start")
    p.add_argument(
        "--grpo-steps", type=int, default=10, help="GRPO optimizer steps (4 problems x 8 samples each)"
    )
    p.add_argument("--samples", type=int, default=16, help="samples per problem before and after GRPO")
    add_grpo_phase_arguments(p)
    p.add_argument(
        "--threads", type=int, default=1,
        help="torch CPU threads (1 leaves a core to the sandbox; 0 keeps torch's default)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object (last line)")
    p.add_argument("--skip-training", action="store_true", help="data, sandbox and rewards only")
    p.set_defaults(handler=_demo)
