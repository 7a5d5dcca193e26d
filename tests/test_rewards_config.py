"""One RewardConfig for train, rewards, score and serve: same options, same parsing, flags and YAML;
the TRL behaviour on None rewards the code relies on; a tiny training run with the seed's flags."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import pytest

from grpo4codegen.errors import UserError
from grpo4codegen.rewards.aggregate import DIMENSIONS
from grpo4codegen.rewards.config import RewardConfig, parse_dimensions, reward_config_from_args

REPO = Path(__file__).resolve().parents[1]
SMOKE = str(REPO / "configs" / "cpu-smoke.yaml")
SEED_FORM = ["--reward_dimensions", "correctness", "efficiency", "comment", "maintainability"]


def cli_parser() -> argparse.ArgumentParser:
    from grpo4codegen.cli import build_parser

    return build_parser()


def command_config(argv: list[str]) -> RewardConfig:
    args = cli_parser().parse_args(argv)
    return reward_config_from_args(args)


COMMANDS = {
    "rewards": ["rewards", "--completions", "x.jsonl"],
    "score": ["score", "gens.jsonl"],
    "serve": ["serve"],
    "profile-references": ["profile-references", "--dataset", "builtin"],
}


@pytest.mark.parametrize(
    "value", ["correctness efficiency", "correctness,efficiency", ["correctness", "efficiency"]]
)
def test_parse_dimensions_forms(value: Any) -> None:
    assert parse_dimensions(value) == ("correctness", "efficiency")
    assert parse_dimensions(["efficiency,correctness"]) == ("correctness", "efficiency")
    assert parse_dimensions("") == () and parse_dimensions([]) == ()
    with pytest.raises(UserError, match="unknown dimension"):
        parse_dimensions("correctness speed")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_takes_every_option_and_both_dimension_forms(command: str) -> None:
    base = COMMANDS[command]
    assert command_config([*base, *SEED_FORM]).reward_dimensions == list(DIMENSIONS)
    assert command_config([*base, "--reward_dimensions", "comment,correctness"]).reward_dimensions == [
        "correctness",
        "comment",
    ]
    # every field is settable from the command line, under its own name
    subparsers = next(a for a in cli_parser()._actions if isinstance(a, argparse._SubParsersAction))
    dests = {a.dest for a in subparsers.choices[command]._actions}
    missing = [f.name for f in dataclasses.fields(RewardConfig) if f.name not in dests]
    assert not missing, (command, missing)
    config = command_config(
        [
            *base,
            "--judge_weight",
            "0.25",
            "--time_limit_s",
            "2",
            "--execute_backend",
            "embedded",
            "--require_isolation",
        ]
    )
    assert (config.judge_weight, config.time_limit_s, config.execute_backend, config.require_isolation) == (
        0.25,
        2.0,
        "embedded",
        True,
    )


def test_yaml_config_for_the_argparse_commands(tmp_path: Path) -> None:
    yaml_file = tmp_path / "reward.yaml"
    yaml_file.write_text(
        "reward_dimensions: [correctness, comment]\n"
        "fixed_weights: {correctness: 3, comment: 1}\n"
        "judge_weight: 0.1\n"
        "profiles_path: /tmp/p.json\n"
    )
    config = command_config(
        ["rewards", "--completions", "x", "--config", str(yaml_file), "--judge_weight", "0.4"]
    )
    assert config.reward_dimensions == ["correctness", "comment"]
    assert config.weights() == pytest.approx({"correctness": 0.75, "comment": 0.25})
    assert config.judge_weight == 0.4  # the flag wins over the file
    assert config.profiles_path == "/tmp/p.json"
    bad = tmp_path / "bad.yaml"
    bad.write_text("speed: 1\n")
    with pytest.raises(UserError, match="unknown reward option"):
        command_config(["rewards", "--completions", "x", "--config", str(bad)])


def test_train_parses_the_same_type_with_both_forms_and_yaml(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from grpo4codegen.training.config import parse_train_args

    args = parse_train_args(["--config", SMOKE, *SEED_FORM, "--judge_weight", "0.3", "--time_limit_s", "3"])
    assert isinstance(args.reward, RewardConfig)
    assert args.reward.reward_dimensions == list(DIMENSIONS)
    assert (args.reward.judge_weight, args.reward.time_limit_s) == (0.3, 3.0)
    args = parse_train_args(["--config", SMOKE, "--reward_dimensions", "correctness,efficiency"])
    assert args.reward.reward_dimensions == ["correctness", "efficiency"]
    yaml_file = tmp_path / "train.yaml"
    yaml_file.write_text(
        Path(SMOKE).read_text()
        + "fixed_weights: {correctness: 1, efficiency: 1, comment: 1, maintainability: 1}\n"
        + "use_weight_net: true\nweight_net_decay: 0.5\nexecute_backend: embedded\nsandbox_workers: 2\n"
    )
    args = parse_train_args(["--config", str(yaml_file)])
    assert args.reward.weights() == pytest.approx(dict.fromkeys(DIMENSIONS, 0.25))
    assert (
        args.reward.use_weight_net
        and args.reward.weight_net_decay == 0.5
        and args.reward.sandbox_workers == 2
    )
    with pytest.raises(UserError, match="fixed_weights"):
        parse_train_args(["--config", SMOKE, "--fixed_weights", '{"correctness": -1}'])


@pytest.fixture
def tiny_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "GRPO4CODEGEN_CACHE", str(Path(tempfile.gettempdir()) / f"grpo4codegen-test-cache-{os.getuid()}")
    )


def _scalars(run_dir: Path) -> dict[str, list[float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    event_files = list(run_dir.glob("runs/*/events.out.tfevents.*"))
    assert event_files, f"no TensorBoard event file under {run_dir}/runs"
    acc = EventAccumulator(str(event_files[0].parent))
    acc.Reload()
    return {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_installed_trl_leaves_out_a_completion_whose_every_reward_is_none(
    tmp_path: Path, tiny_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Infrastructure failures give None in every dimension; the code assumes TRL then ignores the
    completion (no reward, no advantage) rather than scoring it 0: TRL >= 1.6 (PR #5902)."""
    pytest.importorskip("trl")
    pytest.importorskip("tensorboard")
    from grpo4codegen.cli import main

    def build_reward_funcs(problems: list[Any], reward_args: Any) -> tuple[list[Any], list[float], list[Any]]:
        def first(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
            return [None if i % 2 == 0 else 1.0 for i in range(len(completions))]

        def second(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
            return [None if i % 2 == 0 else 1.0 for i in range(len(completions))]

        return [first, second], [0.5, 0.5], []

    module = types.ModuleType("grpo4codegen.rewards.trl_rewards")
    module.build_reward_funcs = build_reward_funcs  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    out = tmp_path / "run"
    flags = ["--output_dir", str(out), "--max_steps", "1", "--save_strategy", "no"]
    assert main(["train", "--config", SMOKE, *flags]) == 0
    rewards = _scalars(out)["train/reward"]
    # the unscorable half is left out of the mean; an older TRL would count it as 0 and log 0.5
    assert rewards == pytest.approx([1.0])


def test_train_with_the_seed_flags_and_the_real_rewards(tmp_path: Path, tiny_cache: None) -> None:
    """`grpo4codegen train --reward_dimensions correctness efficiency comment maintainability ...` works,
    with the weight net logging its inputs and outputs each step."""
    pytest.importorskip("trl")
    pytest.importorskip("tensorboard")
    from grpo4codegen.cli import main

    out = tmp_path / "run"
    flags = [
        "--output_dir",
        str(out),
        "--max_steps",
        "1",
        "--save_strategy",
        "no",
        "--use_weight_net",
        "true",
    ]
    assert main(["train", "--config", SMOKE, *SEED_FORM, *flags]) == 0
    tags = _scalars(out)
    for dim in DIMENSIONS:
        assert f"train/rewards/{dim}/mean" in tags
        assert f"train/weights/{dim}" in tags
        assert f"train/weight_net/{dim}/reliability" in tags


def test_rewards_repeat_reports_spread_and_verdict_flips(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """`rewards --repeat N --json`: each dimension's spread over N fresh scorers, verdict flips counted
    apart (a completion near its time limit), and the spread of code whose verdicts held."""
    import json

    from grpo4codegen.cli import main
    from grpo4codegen.data import load_problems

    problem = next(p for p in load_problems("builtin") if p.task_id == "pair-sum-count")
    path = tmp_path / "c.jsonl"
    wrong = "```python\nclass Solution:\n    def countPairs(self, nums, target):\n        return 0\n```"
    rows = [
        {"task_id": problem.task_id, "completion": f"```python\n{problem.reference_solution}\n```"},
        {"task_id": problem.task_id, "completion": wrong},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["rewards", "--dataset", "builtin", "--task-ids", problem.task_id, "--completions", str(path)]
    assert main([*argv, "--repeat", "2", "--json", "--reward_dimensions", "correctness", "efficiency"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["repeat"] == 2 and summary["verdict_flips"] == 0 and summary["verdict_flip_details"] == []
    assert summary["correctness_std_max"] == 0.0
    assert 0.0 <= summary["efficiency_std_max_steady_verdicts"] <= summary["efficiency_std_max"]
