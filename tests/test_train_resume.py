"""Exact resume on CPU: 4 uninterrupted steps == 2 steps + resume from checkpoint-2 for 2 more.

What this proves (and what it does not):

* The real trainer, reward adapter, weight net and greedy-eval callback run; only
  `RewardScorer.dimension_scores` is replaced by a deterministic function of the completion text
  (a hash), because the random tiny model writes no runnable code and would score 0 everywhere,
  which gives zero advantages, no gradient and a weight net that never moves: an exact-resume test
  on a run that changes nothing would prove nothing. The hash still depends on what the policy
  sampled, so identical rewards after resume require identical sampling after resume.
* Equal per-step losses, rewards, grad norms, entropies, reward weights and greedy-eval metrics in
  `trainer_state.json`'s log_history, and equal final weights, mean the optimizer, scheduler, RNG
  (generation sampling, LoRA dropout), trainer state, LoRA adapter and RewardWeightNet state are
  all restored. Timings are excluded (wall clock).
* The resumed checkpoint lies on a generation boundary (the full-model test generates every step;
  the LoRA test uses num_iterations=2, so checkpoint-2 ends a 2-step cycle). A checkpoint inside a
  generation cycle is not exact because TRL does not checkpoint its buffered batch
  (`config.generation_cycle_steps`); the trainer warns then, and `--save_epochs` rounds to cycles.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")
pytest.importorskip("tensorboard")

import torch  # noqa: E402

from grpo4codegen.cli import main  # noqa: E402
from grpo4codegen.rewards.extract import completion_text  # noqa: E402
from grpo4codegen.rewards.scorer import CompletionScore, RewardScorer  # noqa: E402
from grpo4codegen.rewards.trl_rewards import WEIGHT_NET_FILE  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SMOKE = str(REPO / "configs" / "cpu-smoke.yaml")
#: log keys that measure wall-clock time and legitimately differ between runs
TIMING_WORDS = ("seconds", "time", "runtime", "per_second")


@pytest.fixture(autouse=True)
def tiny_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Share the tiny model between test runs in a per-user temp cache (the build is atomic)."""
    monkeypatch.setenv(
        "GRPO4CODEGEN_CACHE", str(Path(tempfile.gettempdir()) / f"grpo4codegen-test-cache-{os.getuid()}")
    )


@pytest.fixture(autouse=True)
def hashed_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic, varying scores in [0, 1] derived from each completion's text (see module doc)."""

    def dimension_scores(self: RewardScorer, task_ids: Any, completions: Any) -> list[CompletionScore]:
        scores = []
        for task_id, completion in zip(task_ids, completions, strict=True):
            digest = hashlib.sha256(f"{task_id}\0{completion_text(completion)}".encode()).digest()
            values: dict[str, float | None] = {
                dim: digest[i] / 255 for i, dim in enumerate(self.config.reward_dimensions)
            }
            if "correctness" in values:
                values["correctness_strict"] = float(digest[0] >= 192)
            scores.append(CompletionScore(task_id, None, values))
        return scores

    monkeypatch.setattr(RewardScorer, "dimension_scores", dimension_scores)


def _train(out: Path, *flags: str) -> None:
    argv = [
        "train", "--config", SMOKE, "--output_dir", str(out),
        "--max_steps", "4", "--save_steps", "2", "--learning_rate", "1e-2",
        "--per_device_train_batch_size", "2", "--num_generations", "2", "--max_completion_length", "24",
        "--use_weight_net", *flags,
    ]  # fmt: skip
    assert main(argv) == 0


def _train_entries(out: Path) -> list[dict[str, Any]]:
    history = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())["log_history"]
    return [
        {k: v for k, v in entry.items() if not any(w in k for w in TIMING_WORDS)}
        for entry in history
        if "train_runtime" not in entry
    ]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(path)


def _max_abs_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def _assert_same_history(full: Path, resumed: Path) -> list[dict[str, Any]]:
    a, b = _train_entries(full), _train_entries(resumed)
    assert [e.get("step") for e in a] == [e.get("step") for e in b]
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for key in x:
            assert x[key] == pytest.approx(y[key], rel=1e-6, abs=1e-9), (x.get("step"), key)
    return a


def _assert_weight_net_equal(full: Path, resumed: Path, updates: int) -> dict[str, Any]:
    a = torch.load(full / "checkpoint-4" / WEIGHT_NET_FILE, weights_only=True)
    b = torch.load(resumed / "checkpoint-4" / WEIGHT_NET_FILE, weights_only=True)
    assert a["step"] == b["step"] == updates  # one weight update per generated batch
    assert a["weights"] == pytest.approx(b["weights"], rel=0, abs=1e-9)
    for dim, stats in a["stats"].items():  # the reliability estimates (EMA of variances) carry over
        assert stats == pytest.approx(b["stats"][dim], rel=1e-9, abs=1e-12), dim
    return a


def _run_pair(tmp_path: Path, *flags: str) -> tuple[Path, Path]:
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    _train(full, *flags)
    _train(resumed, *flags, "--load_from_pretrained", str(full), "--load_from_pretrained_step", "2")
    assert not (resumed / "checkpoint-2").exists()  # only steps 3 and 4 ran
    for out in (full, resumed):
        for step in (2, 4) if out is full else (4,):
            assert (out / f"checkpoint-{step}" / WEIGHT_NET_FILE).is_file()
            for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json"):
                assert (out / f"checkpoint-{step}" / name).is_file(), name
        assert (out / WEIGHT_NET_FILE).is_file()  # the final weights next to the final model
    return full, resumed


def test_full_model_resume_is_exact(tmp_path: Path) -> None:
    full, resumed = _run_pair(
        tmp_path, "--meta_data_test", "builtin", "--eval_sample", "2", "--eval_epochs", "0.03"
    )
    history = _assert_same_history(full, resumed)

    train = [e for e in history if "loss" in e]
    assert [e["step"] for e in train] == [1, 2, 3, 4]
    assert all(e["grad_norm"] > 0 for e in train)  # there was a learning signal
    evals = [e for e in history if "eval_greedy/pass@1" in e]
    assert [e["step"] for e in evals] == [2, 4]  # eval_epochs 0.03 of 34 steps/epoch -> every 2 steps

    diff = _max_abs_diff(_weights(full / "model.safetensors"), _weights(resumed / "model.safetensors"))
    assert diff <= 1e-6
    from grpo4codegen.training.tiny import tiny_model_dir

    initial = _weights(tiny_model_dir() / "model.safetensors")
    final = _weights(full / "model.safetensors")
    assert _max_abs_diff({k: final[k] for k in initial}, initial) > 1e-4  # training moved the weights

    state = _assert_weight_net_equal(full, resumed, updates=4)
    # the hashed scores are a deterministic function of each completion (no measurement noise), so the
    # reliability-weighted net keeps the fixed weights (correctness, efficiency, comment, maint.)
    assert state["weights"] == pytest.approx([0.5, 0.2, 0.2, 0.1], abs=1e-12)
    assert any(v[2] > 0 for v in state["stats"].values())  # it did see within-group spread
    logged = [[e[f"weights/{d}"] for d in ("correctness", "efficiency", "comment", "maintainability")]
              for e in train]  # fmt: skip
    assert logged[-1] == pytest.approx(state["weights"], abs=1e-6)


def test_lora_checkpoints_hold_adapters_only_and_resume_exactly(tmp_path: Path) -> None:
    lora = ["--lora_enable", "--lora_r", "4", "--lora_alpha", "8", "--lora_dropout", "0.1"]
    # num_iterations=2: every generated batch is trained on twice (TRL's buffered path, clipped ratios,
    # non-zero losses); checkpoint-2 ends a generation cycle, so the resume is still exact
    full, resumed = _run_pair(tmp_path, *lora, "--num_iterations", "2")
    for checkpoint in (full / "checkpoint-2", full / "checkpoint-4", resumed / "checkpoint-4", full):
        assert (checkpoint / "adapter_model.safetensors").is_file()
        assert (checkpoint / "adapter_config.json").is_file()
        assert not (checkpoint / "model.safetensors").exists()  # no copy of the base model
        assert not list(checkpoint.glob("model-*.safetensors"))
    adapter = _weights(full / "checkpoint-2" / "adapter_model.safetensors")
    assert adapter and all("lora_" in k for k in adapter)

    history = _assert_same_history(full, resumed)
    assert [e["step"] for e in history if "reward" in e] == [1, 3]  # one generation per 2 steps
    assert any(abs(e["loss"]) > 1e-4 for e in history if "loss" in e)
    diff = _max_abs_diff(
        _weights(full / "adapter_model.safetensors"), _weights(resumed / "adapter_model.safetensors")
    )
    assert diff <= 1e-6
    assert _max_abs_diff(adapter, _weights(full / "adapter_model.safetensors")) > 1e-5  # steps 3-4 trained
    _assert_weight_net_equal(full, resumed, updates=2)


def test_resume_inside_a_generation_cycle_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """num_iterations=2 reuses each generated batch for two steps: checkpoint-1 cannot resume exactly."""
    from grpo4codegen.training import train as train_mod
    from grpo4codegen.training.config import parse_train_args

    checkpoint = tmp_path / "run" / "checkpoint-1"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 1}))
    argv = [
        "--config", SMOKE, "--output_dir", str(tmp_path / "out"), "--num_iterations", "2",
        "--save_steps", "1", "--report_to", "none",
        "--load_from_pretrained", str(tmp_path / "run"), "--load_from_pretrained_step", "1",
    ]  # fmt: skip
    with caplog.at_level("WARNING", logger="grpo4codegen"):
        train_mod.prepare_training(parse_train_args(argv))
    text = caplog.text
    assert "save_steps=1 is not a multiple of the generation cycle (2 optimizer steps)" in text
    assert "lies inside a generation cycle" in text
