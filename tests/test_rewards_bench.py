"""`bench rewards`: the warm pass takes its reference profiles from `--profiles` when the file has them."""

from __future__ import annotations

from pathlib import Path

from grpo4codegen.data import load_problems
from grpo4codegen.rewards.bench import _profiles, _warm_scorer
from grpo4codegen.rewards.scorer import RewardConfig, RewardScorer


def test_warm_scorer_loads_profiles_from_the_file(tmp_path: Path) -> None:
    problems = [p for p in load_problems("builtin") if p.task_id in ("pair-sum-count", "max-average-window")]
    path = tmp_path / "profiles.json"
    config = RewardConfig(["correctness", "efficiency"], profiles_path=str(path))
    writer = RewardScorer(problems[:1], config)  # measures the first problem's profile into the file
    writer.execution.profiles(problems[:1])
    writer.close()
    cold = RewardScorer(problems, RewardConfig(["correctness", "efficiency"]))
    cold.execution.profiles(problems)
    warm = _warm_scorer(problems, config, cold.runner, cold)
    assert warm._loaded_from_file == 1  # type: ignore[attr-defined]
    first, second = (_profiles(warm)[p.task_id] for p in problems)
    assert first is not _profiles(cold)[problems[0].task_id]  # from the file, not the cold pass
    assert second is _profiles(cold)[problems[1].task_id]  # not in the file: the cold pass's
    assert first.kernel == writer.execution._profiles[problems[0].task_id].kernel
    cold.close()
