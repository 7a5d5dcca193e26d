"""End to end on CPU: `grpo4codegen train` runs GRPO steps on the tiny model with a stand-in reward,
writes TensorBoard events and checkpoints, resumes from a chosen step, and rejects a missing one."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")
pytest.importorskip("tensorboard")

from grpo4codegen.cli import main  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SMOKE = str(REPO / "configs" / "cpu-smoke.yaml")


@pytest.fixture(autouse=True)
def tiny_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Share the tiny model between test runs in a per-user temp cache (the build is atomic)."""
    monkeypatch.setenv(
        "GRPO4CODEGEN_CACHE", str(Path(tempfile.gettempdir()) / f"grpo4codegen-test-cache-{os.getuid()}")
    )


@pytest.fixture
def reward_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """Stand-in for the reward factory: a length reward (varies, so there is a gradient)."""
    calls: list[list[str]] = []

    def build_reward_funcs(problems: list[Any], reward_args: Any) -> tuple[list[Any], list[float], list[Any]]:
        def length_reward(
            prompts: list[Any], completions: list[Any], task_id: list[str], **kwargs: Any
        ) -> list[float]:
            calls.append(list(task_id))
            return [len(c[0]["content"]) / 100.0 for c in completions]

        return [length_reward], [1.0], []

    module = types.ModuleType("grpo4codegen.rewards.trl_rewards")
    module.build_reward_funcs = build_reward_funcs  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    yield calls


def _train(*flags: str) -> int:
    return main(["train", "--config", SMOKE, "--learning_rate", "1e-3", *flags])


def _scalar_tags(run_dir: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    event_files = list(run_dir.glob("runs/*/events.out.tfevents.*"))
    assert event_files, f"no TensorBoard event file under {run_dir}/runs"
    acc = EventAccumulator(str(event_files[0].parent))
    acc.Reload()
    return set(acc.Tags()["scalars"])


def test_two_grpo_steps_then_resume(tmp_path: Path, reward_calls: list[list[str]]) -> None:
    from safetensors.torch import load_file

    from grpo4codegen.training.tiny import tiny_model_dir

    out = tmp_path / "run"
    assert _train("--output_dir", str(out), "--max_steps", "2", "--save_steps", "1") == 0
    assert len(reward_calls) == 2  # one generation round per step with the smoke config

    tags = _scalar_tags(out)
    assert {"train/loss", "train/reward", "train/rewards/length_reward/mean"} <= tags
    for step in (1, 2):
        assert (out / f"checkpoint-{step}" / "trainer_state.json").is_file()
    assert json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["global_step"] == 2
    assert (out / "grpo4codegen_args.json").is_file()

    before = load_file(tiny_model_dir() / "model.safetensors")
    after = load_file(out / "model.safetensors")  # final model saved where from_pretrained finds it
    assert any(not (before[k] == after[k]).all() for k in before), "training did not change the weights"

    # resume from step 1 into a new directory: only the second step runs
    reward_calls.clear()
    resumed = tmp_path / "resumed"
    flags = ["--output_dir", str(resumed), "--max_steps", "2", "--save_steps", "1"]
    assert _train(*flags, "--load_from_pretrained", str(out), "--load_from_pretrained_step", "1") == 0
    assert len(reward_calls) == 1
    assert json.loads((resumed / "checkpoint-2" / "trainer_state.json").read_text())["global_step"] == 2
    assert not (resumed / "checkpoint-1").exists()


def test_missing_resume_step_is_a_user_error(
    tmp_path: Path, reward_calls: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    for step in (3, 6):
        (tmp_path / f"checkpoint-{step}").mkdir()
    code = _train("--output_dir", str(tmp_path / "out"), "--load_from_pretrained", str(tmp_path),
                  "--load_from_pretrained_step", "4")  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "no checkpoint-4" in err and "available steps: 3, 6" in err
    assert not reward_calls and not (tmp_path / "out").exists()  # failed before any training


def test_lora_step_saves_an_adapter(tmp_path: Path, reward_calls: list[list[str]]) -> None:
    out = tmp_path / "lora"
    flags = [
        "--lora_enable",
        "--lora_r",
        "4",
        "--lora_alpha",
        "8",
        "--lora_target_modules",
        "q_proj",
        "v_proj",
    ]
    assert _train("--output_dir", str(out), "--max_steps", "1", "--save_strategy", "no", *flags) == 0
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 4 and set(config["target_modules"]) == {"q_proj", "v_proj"}
    assert (out / "adapter_model.safetensors").is_file()
