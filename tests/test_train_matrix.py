"""The CPU training matrix: the tiny preset trains 2 GRPO steps on the built-in problems with all four
reward dimensions (judge off), in both aggregation modes, with LoRA on and off, and TensorBoard gets
TRL's scalars plus every reward dimension, the aggregation weights, executor outcome counts, reward
time share, infrastructure failures and the greedy-eval metrics.

The real reward path runs (extraction, sandboxed execution of the tests, static scores, gating,
weights). One thing is substituted, in the test only: the random tiny model writes no runnable code,
so before scoring, the completions of each batch are replaced by position with the problem's reference
solution, a wrong solution, or left as the model wrote them. That gives real executor outcomes
(passed, failed) and rewards that differ within each group, so the GRPO step has a signal, and it
makes the expected greedy pass@1 known (1 of every 3 evaluated problems).
"""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")
pytest.importorskip("tensorboard")

from grpo4codegen.cli import main  # noqa: E402
from grpo4codegen.rewards.scorer import RewardScorer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SMOKE = str(REPO / "configs" / "cpu-smoke.yaml")
DIMENSIONS = ("correctness", "efficiency", "comment", "maintainability")
WRONG = (
    "```python\nclass Solution:\n    def __getattr__(self, name):\n        return lambda *a, **k: None\n```"
)

#: scalars every run must write (TensorBoard tags: transformers prefixes training logs with train/)
TRL_TAGS = {
    "train/loss",
    "train/grad_norm",
    "train/learning_rate",
    "train/reward",
    "train/reward_std",
    "train/frac_reward_zero_std",
    "train/entropy",
    "train/completions/mean_length",
}
REWARD_TAGS = (
    {f"train/rewards/{d}/mean" for d in DIMENSIONS}
    | {f"train/rewards/{d}/std" for d in DIMENSIONS}
    | {f"train/weights/{d}" for d in DIMENSIONS}
    | {
        "train/exec/PASSED",
        "train/exec/infra_failures",
        "train/correctness_strict",
        "train/reward_seconds",
        "train/reward_time_share",
    }
)
EVAL_TAGS = {"eval/greedy/pass@1", "eval/greedy/test_pass_rate"}
EVAL = ["--meta_data_test", "builtin", "--eval_sample", "3", "--eval_epochs", "1"]
LORA = ["--lora_enable", "--lora_r", "4", "--lora_alpha", "8", "--lora_target_modules", "q_proj", "v_proj"]


@pytest.fixture(autouse=True)
def tiny_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Share the tiny model between test runs in a per-user temp cache (the build is atomic)."""
    monkeypatch.setenv(
        "GRPO4CODEGEN_CACHE", str(Path(tempfile.gettempdir()) / f"grpo4codegen-test-cache-{os.getuid()}")
    )


@pytest.fixture
def runnable_completions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Completion i of a batch becomes: i % 3 == 0 the reference solution, 1 a wrong one, 2 unchanged."""
    original = RewardScorer.dimension_scores

    def dimension_scores(self: RewardScorer, task_ids: Any, completions: Any) -> Any:
        swapped = []
        for i, (task_id, completion) in enumerate(zip(task_ids, completions, strict=True)):
            if i % 3 == 0:
                reference = self.problem(task_id).reference_solution
                swapped.append([{"role": "assistant", "content": f"```python\n{reference}\n```"}])
            else:
                swapped.append([{"role": "assistant", "content": WRONG}] if i % 3 == 1 else completion)
        return original(self, task_ids, swapped)

    monkeypatch.setattr(RewardScorer, "dimension_scores", dimension_scores)


def _scalars(run_dir: Path) -> dict[str, list[float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    event_files = list(run_dir.glob("runs/*/events.out.tfevents.*"))
    assert len(event_files) == 1, event_files
    acc = EventAccumulator(str(event_files[0].parent))
    acc.Reload()
    return {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.mark.parametrize(
    "aggregation, lora, extra",
    [
        ("weighted_sum", False, EVAL),
        ("normalize_then_sum", False, []),
        ("weighted_sum", True, ["--use_weight_net"]),
        ("normalize_then_sum", True, EVAL),
    ],
    ids=["weighted-full-eval", "normalized-full", "weighted-lora-weightnet", "normalized-lora-eval"],
)
def test_matrix(
    tmp_path: Path, runnable_completions: None, aggregation: str, lora: bool, extra: list[str]
) -> None:
    out = tmp_path / "run"
    argv = [
        "train", "--config", SMOKE, "--output_dir", str(out), "--max_steps", "2", "--save_steps", "2",
        "--per_device_train_batch_size", "2", "--num_generations", "2", "--max_completion_length", "16",
        "--per_device_eval_batch_size", "3", "--learning_rate", "1e-3",
        "--reward_dimensions", ",".join(DIMENSIONS), "--aggregation", aggregation, *extra,
    ]  # fmt: skip
    assert main(argv + (LORA if lora else [])) == 0

    saved = json.loads((out / "grpo4codegen_args.json").read_text())
    assert saved["reward"]["aggregation"] == aggregation
    assert saved["reward"]["reward_dimensions"] == list(DIMENSIONS)
    assert saved["reward"]["judge_base_url"] is None
    expected_mode = "normalize_then_sum" if aggregation == "normalize_then_sum" else "sum_then_normalize"
    assert saved["grpo"]["multi_objective_aggregation"] == expected_mode
    model_file = "adapter_model.safetensors" if lora else "model.safetensors"
    assert (out / "checkpoint-2" / model_file).is_file() and (out / model_file).is_file()

    scalars = _scalars(out)
    wanted = TRL_TAGS | REWARD_TAGS | (EVAL_TAGS if extra is EVAL else set())
    missing = wanted - scalars.keys()
    assert not missing, f"missing TensorBoard scalars: {sorted(missing)}"
    assert any(t.startswith("train/exec/") and t not in REWARD_TAGS for t in scalars)  # a failing outcome
    assert len(scalars["train/loss"]) == 2
    assert sum(scalars["train/exec/PASSED"]) > 0 and scalars["train/exec/infra_failures"] == [0.0, 0.0]
    assert all(0.0 <= v <= 1.0 for v in scalars["train/reward_time_share"])
    assert max(scalars["train/rewards/correctness/mean"]) > 0  # the reference solutions scored
    assert scalars["train/weights/correctness"][0] == pytest.approx(0.5, abs=0.05)
    if extra is EVAL:
        # 3 eval problems: the first completion is the reference (passes), the others fail
        assert scalars["eval/greedy/pass@1"] == [pytest.approx(1 / 3)]  # once, at the last step
        assert 1 / 3 <= scalars["eval/greedy/test_pass_rate"][0] < 1
        rows = (out / "eval_greedy" / "step_000002.jsonl").read_text().splitlines()
        assert [json.loads(r)["correctness_strict"] for r in rows] == [1.0, 0.0, 0.0]


def test_greedy_eval_on_the_raw_tiny_model(tmp_path: Path) -> None:
    """Unpatched: greedy completions of the random model score 0, are deterministic, leave the RNG alone."""
    import numpy as np
    import torch

    from grpo4codegen.training import train as train_mod
    from grpo4codegen.training.config import parse_train_args

    argv = [
        "--config", SMOKE, "--output_dir", str(tmp_path / "out"), "--report_to", "none",
        "--meta_data_test", "builtin", "--eval_sample", "3", "--eval_epochs", "0.5",
        "--max_completion_length", "16", "--per_device_eval_batch_size", "2",
    ]  # fmt: skip
    run = train_mod.prepare_training(parse_train_args(argv))
    callback = run.greedy_eval
    assert callback is not None and run.eval_steps == 17  # half of 34 steps per epoch
    assert run.trainer.args.eval_strategy.value == "no"  # TRL's sampled eval stays off
    assert len(callback.problems) == 3

    torch.manual_seed(7)
    random.seed(7)
    np.random.seed(7)
    before = (torch.random.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    first = callback.evaluate()
    completions = [r["completion"] for r in callback.last_rows]
    second = callback.evaluate()
    assert torch.equal(torch.random.get_rng_state(), before[0]) and random.getstate() == before[1]
    assert (np.random.get_state()[1] == before[2]).all()

    assert [r["completion"] for r in callback.last_rows] == completions  # greedy: deterministic
    assert len(completions) == 3 and all(isinstance(c, str) for c in completions)
    for metrics in (first, second):
        assert metrics["eval_greedy/pass@1"] == 0.0 and metrics["eval_greedy/test_pass_rate"] == 0.0
        assert metrics["eval_greedy/num_problems"] == 3.0 and metrics["eval_greedy/infra_failures"] == 0.0
    logged = [e for e in run.trainer.state.log_history if "eval_greedy/pass@1" in e]
    assert len(logged) == 2 and not math.isnan(logged[0]["eval_greedy/test_pass_rate"])


@pytest.mark.slow
def test_multiprocess_script(tmp_path: Path) -> None:
    """scripts/check_multiprocess.sh: 2 CPU processes (gloo) train 2 steps; ~20 s on 2 cores."""
    import shutil
    import subprocess
    import sys

    accelerate = Path(sys.executable).parent / "accelerate"
    if not accelerate.exists():
        found = shutil.which("accelerate")
        if found is None:
            pytest.skip("the accelerate launcher is not installed")
        accelerate = Path(found)
    env = {**os.environ, "PYTHON": sys.executable, "ACCELERATE": str(accelerate)}
    script = REPO / "scripts" / "check_multiprocess.sh"
    proc = subprocess.run(
        ["bash", str(script), str(tmp_path / "mp")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS: multi-process CPU training works" in proc.stdout
