"""Evaluation metrics and scoring: pass@k, interrupted files, summaries, idempotent re-scoring, the CLI."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from grpo4codegen.cli import main
from grpo4codegen.data import load_problems
from grpo4codegen.errors import UserError
from grpo4codegen.evaluation.backends import DatasetBackend
from grpo4codegen.evaluation.generate import GenerationSettings, run_generation
from grpo4codegen.evaluation.passk import ks_for, mean_pass_at_k, pass_at_k
from grpo4codegen.evaluation.records import read_rows, repair
from grpo4codegen.evaluation.score import read_generations, score_file
from grpo4codegen.evaluation.summary import common_solved, model_summary, summarise
from grpo4codegen.rewards.scorer import RewardConfig
from grpo4codegen.sandbox.types import ExecutionResult

from .conftest import V031, needs_data


# -- pass@k ---------------------------------------------------------------------------------------
def test_pass_at_k_equals_the_binomial_formula() -> None:
    for n in range(1, 12):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - math.comb(n - c, k) / math.comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)


def test_pass_at_k_is_stable_for_large_n() -> None:
    assert pass_at_k(1000, 1, 1) == pytest.approx(0.001)
    assert pass_at_k(10_000, 5000, 100) == pytest.approx(1.0)
    assert 0 < pass_at_k(10_000, 1, 10) < 0.0011
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_k_values_stop_at_the_smallest_sample_count() -> None:
    assert ks_for(1) == [1] and ks_for(10) == [1, 2, 5, 10] and ks_for(49) == [1, 2, 5, 10, 20]
    result = mean_pass_at_k([(10, 5), (5, 0)])  # the second problem allows k <= 5 only
    assert set(result) == {1, 2, 5}
    assert result[1] == pytest.approx((0.5 + 0.0) / 2)


# -- interrupted files ----------------------------------------------------------------------------
def test_a_truncated_last_line_is_dropped_and_repaired(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3, "b"')
    rows, truncated = read_rows(path)
    assert rows == [{"a": 1}, {"a": 2}] and truncated
    assert repair(path) == rows
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n'  # safe to append to now
    path.write_text('{"a": 1}\nnot json\n{"a": 2}\n')
    with pytest.raises(UserError, match="line 2"):
        read_rows(path)


# -- summaries ------------------------------------------------------------------------------------
def _row(model: str, task: str, sample: int, strict: float, eff: float | None = None, **extra: Any) -> dict:
    return {
        "model": model,
        "task_id": task,
        "sample": sample,
        "difficulty": extra.pop("difficulty", "Easy"),
        "tags": extra.pop("tags", ["Array"]),
        "correctness": extra.pop("correctness", strict),
        "correctness_strict": strict,
        "efficiency": eff if eff is not None else (1.0 if strict else 0.0),
        "efficiency_ratios": {"time": eff or 1.0} if strict else {},
        "comment": 0.5,
        "maintainability": 0.5,
        "reward": 0.5,
        "infra_failure": False,
        **extra,
    }


def test_efficiency_is_compared_on_problems_every_model_solved() -> None:
    rows = [
        _row("a", "p1", 0, 1.0, 0.5),
        _row("a", "p2", 0, 1.0, 1.0, difficulty="Hard"),  # only a solves p2: left out of efficiency
        _row("b", "p1", 0, 1.0, 0.9),
        _row("b", "p2", 0, 0.0, correctness=0.5, difficulty="Hard"),
        _row("b", "p2", 1, 0.0, infra_failure=True, correctness=None, correctness_strict=None),
    ]
    summary = summarise(rows)
    assert summary["common_solved_problems"] == 1
    a, b = summary["models"]["a"], summary["models"]["b"]
    assert a["efficiency_ratio"] == pytest.approx(0.5) and a["efficiency_problems"] == 1
    assert b["efficiency_ratio"] == pytest.approx(0.9)
    assert a["pass@1"] == 1.0 and b["pass@1"] == 0.5
    assert b["infra_failures"] == 1 and b["samples"] == 3
    assert b["test_case_average"] == pytest.approx(0.75)  # the infra failure is not a 0
    assert b["by_difficulty"]["Hard"]["pass@1"] == 0.0 and b["by_difficulty"]["Easy"]["pass@1"] == 1.0
    assert summary["pass@1"] == pytest.approx(0.75)  # several models: the mean over models
    # alone, a model's efficiency covers everything it solved
    assert model_summary([r for r in rows if r["model"] == "a"])["efficiency_ratio"] == pytest.approx(0.75)
    assert common_solved({"a": rows[:2], "b": rows[2:]}) == {"p1"}


# -- scoring --------------------------------------------------------------------------------------
class CountingRunner:
    """Wraps the session executor and counts the submissions it runs."""

    def __init__(self, inner: Any, fail: bool = False) -> None:
        self.inner, self.fail, self.submissions = inner, fail, 0

    def run_many(self, submissions: Sequence[Any]) -> list[ExecutionResult]:
        self.submissions += len(submissions)
        if self.fail:
            return [ExecutionResult(infra_error="executor down") for _ in submissions]
        return self.inner.run_many(submissions)


@pytest.fixture(scope="module")
def few_problems() -> list:
    problems = {p.task_id: p for p in load_problems("builtin")}
    return [problems[t] for t in sorted(problems)[:3]]


def _reference_generations(tmp_path: Path, problems: list, n: int = 2) -> list[dict]:
    path = tmp_path / "gen.jsonl"
    run_generation(
        DatasetBackend("completion"), problems, n, GenerationSettings(), path, "builtin", progress=False
    )
    return read_generations(path)


def test_rescoring_is_idempotent(tmp_path: Path, executor: Any, few_problems: list) -> None:
    gens = _reference_generations(tmp_path, few_problems)
    out = tmp_path / "scored.jsonl"
    runner = CountingRunner(executor)
    rows = score_file(gens, few_problems, RewardConfig(), out, runner=runner, progress=False)
    assert len(rows) == 6 and all(r["correctness_strict"] == 1.0 for r in rows)
    assert rows[0]["verdicts"] and set(rows[0]["verdicts"]) == {"P"} and rows[0]["metrics"]["cpu_time"] > 0
    first = out.read_text()
    runner.submissions = 0
    again = score_file(gens, few_problems, RewardConfig(), out, runner=runner, progress=False)
    assert runner.submissions == 0 and out.read_text() == first and len(again) == 6

    gens[0]["completion"] = "no code here"  # a changed completion is scored again, nothing else
    rows = score_file(gens, few_problems, RewardConfig(), out, runner=runner, progress=False)
    assert len(out.read_text().splitlines()) == 6
    changed = [r for r in rows if (r["task_id"], r["sample"]) == (gens[0]["task_id"], gens[0]["sample"])]
    assert changed[0]["code_found"] is False and changed[0]["correctness"] == 0.0
    summary = summarise(rows)
    assert summary["pass@1"] == pytest.approx(1 - 1 / 6)
    assert summary["pass@2"] == 1.0


def test_infrastructure_failures_are_counted_apart_and_retried(
    tmp_path: Path, executor: Any, few_problems: list
) -> None:
    gens = _reference_generations(tmp_path, few_problems, n=1)
    out = tmp_path / "scored.jsonl"
    rows = score_file(gens, few_problems, RewardConfig(), out, runner=CountingRunner(executor, fail=True),
                      progress=False)  # fmt: skip
    summary = summarise(rows)
    assert summary["infra_failures"] == 3 and "pass@1" not in summary and summary["samples"] == 3
    assert rows[0]["infra_error"] == "executor down"
    rows = score_file(
        gens, few_problems, RewardConfig(), out, runner=CountingRunner(executor), progress=False
    )
    assert summarise(rows)["infra_failures"] == 0 and summarise(rows)["pass@1"] == 1.0


def test_score_command_prints_the_summary_last(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gens = tmp_path / "gen.jsonl"
    ids = ["--task-ids", "pair-sum-count", "rotate-list-right"]
    assert main(["generate", "--backend", "dataset", "-o", str(gens), *ids, "--no-progress"]) == 0
    flags = ["score", str(gens), "--json", "--no-progress", "--reward_dimensions", "correctness"]
    assert main(flags) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"samples", "problems", "pass@1", "test_case_average", "infra_failures"} <= set(summary)
    assert summary["samples"] == 2 and summary["pass@1"] == 1.0 and summary["infra_failures"] == 0
    assert (tmp_path / "gen.scored.jsonl").is_file() and (tmp_path / "gen.summary.json").is_file()

    (tmp_path / "odd.jsonl").write_text('{"task_id": "no-such-task", "completion": "x"}\n')
    assert main(["score", str(tmp_path / "odd.jsonl"), "--dataset", "builtin"]) == 2
    assert "not in builtin" in capsys.readouterr().err


@needs_data
def test_v031_reference_solutions_pass_and_match_their_own_efficiency(tmp_path: Path, executor: Any) -> None:
    problems = load_problems(V031)
    by_id = {p.task_id: p for p in problems}
    chosen = [by_id[t] for t in sorted(by_id)[::60]]  # 4 problems spread over the file
    gens = _reference_generations(tmp_path, chosen, n=1)
    rows = score_file(gens, chosen, RewardConfig(reward_dimensions=("correctness", "efficiency")),
                      tmp_path / "scored.jsonl", runner=executor, progress=False)  # fmt: skip
    summary = summarise(rows)
    assert summary["pass@1"] == 1.0 and summary["infra_failures"] == 0
    assert summary["efficiency_ratio"] >= 0.95
