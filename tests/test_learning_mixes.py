"""Warm-start mixes (training.warmstart) and the demo's helpers: fast, no training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grpo4codegen.data import load_problems
from grpo4codegen.rewards.scorer import RewardConfig, RewardScorer
from grpo4codegen.training import warmstart

PROBLEMS = [p for p in load_problems("builtin") if p.task_id in warmstart.LEARNER_TASKS]


@pytest.fixture(scope="module")
def scorer(executor) -> RewardScorer:  # noqa: ANN001 - the session executor of conftest
    return RewardScorer(PROBLEMS, RewardConfig(), runner=executor)


def test_strip_comments_keeps_the_code() -> None:
    code = 'class S:\n    def f(self):\n        """Doc."""\n        # note\n        x = "#no"  # yes\n        return x\n'
    assert (
        warmstart.strip_comments(code) == 'class S:\n    def f(self):\n        x = "#no"\n        return x\n'
    )


def test_mutants_change_one_token_and_keep_the_entry_point() -> None:
    code = "class Solution:\n    def f(self, a: int) -> int:\n        return a + 1 if a < 3 else a\n"
    out = warmstart.mutants(code)
    assert out and all(m != code for m in out)
    assert all(m.startswith("class Solution:\n    def f(self, a: int) -> int:\n") for m in out)
    assert "        return a - 1 if a < 3 else a\n" in [m.splitlines(keepends=True)[2] for m in out]


def test_every_mix_has_the_variants_the_reward_should_separate(scorer: RewardScorer) -> None:
    for mix in warmstart.MIXES:
        variants = warmstart.build_mix(mix, PROBLEMS, scorer)
        assert {v.task_id for v in variants} == set(warmstart.LEARNER_TASKS)
        scores = scorer.score([v.task_id for v in variants], [v.completion() for v in variants])
        for v, s in zip(variants, scores, strict=True):
            correctness = s.dimensions["correctness"]
            if mix in ("correctness", "correctness-first") and not v.preferred:
                assert 0 < correctness < 1, (mix, v.label, v.task_id)  # subtly wrong, verified
            else:
                assert correctness == 1.0, (mix, v.label, v.task_id)
            # the classifier recognises each answer, fenced or as a chat message
            assert warmstart.variant_of(variants, v.task_id, v.completion()) == v.label
            message = [{"role": "assistant", "content": v.completion()}]
            assert warmstart.variant_of(variants, v.task_id, message) == v.label
        if mix == "comments":
            by = {(v.task_id, v.label): s for v, s in zip(variants, scores, strict=True)}
            for task in warmstart.LEARNER_TASKS:
                assert (
                    by[(task, "commented")].dimensions["comment"] > by[(task, "plain")].dimensions["comment"]
                )
    assert warmstart.variant_of(variants, PROBLEMS[0].task_id, "no code here") == "other"


def test_slow_solutions_never_score_above_fast_ones(scorer: RewardScorer) -> None:
    """Efficiency comes from the kernel's CPU time of the whole run (trusted figures only). The built-in
    tests are light: the fast variants take 1-4 ms of CPU, the slow ones 4-60 ms, and a run of the same
    code wobbles by 1-2 ms, so only the clearly heavier slow variants (5x and more) can score lower; none
    may score higher. (With the earlier in-process step counts each slow variant scored >= 0.2 lower;
    those figures can be forged, see the README's Rewards section.)"""
    variants = warmstart.build_mix("efficiency", PROBLEMS, scorer)
    scores = scorer.score([v.task_id for v in variants], [v.completion() for v in variants])
    by = {(v.task_id, v.label): s for v, s in zip(variants, scores, strict=True)}
    for task in warmstart.LEARNER_TASKS:
        fast, slow = by[(task, "fast")], by[(task, "slow")]
        assert fast.dimensions["efficiency"] >= slow.dimensions["efficiency"], task
        cpu_fast = fast.execution.result.cpu_time_kernel
        cpu_slow = slow.execution.result.cpu_time_kernel
        if cpu_slow > 5 * max(cpu_fast, 0.004):  # clearly heavier than the fast run and its noise
            assert fast.dimensions["efficiency"] > slow.dimensions["efficiency"], task


def test_heavy_tests_make_every_slow_variant_score_lower(tmp_path: Path) -> None:
    """The efficiency experiments' problems (`with_heavy_tests`): the appended tests parse like any
    dataset's, the reference passes them (expected values are its own), and on them every slow variant
    costs enough CPU (tenths of a second against milliseconds) to score clearly lower, while both pass."""
    from grpo4codegen.demo import write_problem_subset

    path = write_problem_subset(warmstart.LEARNER_TASKS, tmp_path / "heavy.jsonl", heavy_tests=2)
    problems = load_problems(str(path))
    light = {p.task_id: len(p.tests) for p in PROBLEMS}
    assert all(len(p.tests) == light[p.task_id] + 2 for p in problems)
    heavy_scorer = RewardScorer(problems, RewardConfig(["correctness", "efficiency"]))
    try:
        variants = warmstart.build_mix("efficiency", problems)
        scores = heavy_scorer.score([v.task_id for v in variants], [v.completion() for v in variants])
    finally:
        heavy_scorer.close()
    by = {(v.task_id, v.label): s for v, s in zip(variants, scores, strict=True)}
    for task in warmstart.LEARNER_TASKS:
        fast, slow = by[(task, "fast")], by[(task, "slow")]
        assert fast.dimensions["correctness_strict"] == slow.dimensions["correctness_strict"] == 1.0, task
        assert fast.dimensions["efficiency"] >= slow.dimensions["efficiency"] + 0.2, task


def test_completions_file_round_trips(tmp_path: Path, scorer: RewardScorer) -> None:
    pytest.importorskip("trl")
    from grpo4codegen.training import sft

    variants = warmstart.build_mix("comments", PROBLEMS, scorer)
    path = warmstart.write_completions(variants, tmp_path / "mix.jsonl", repeat=2)
    rows = sft.read_completions(path)
    assert len(rows) == 2 * len(variants)
    assert sft.sft_examples(PROBLEMS, rows) == rows


def test_demo_helpers(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from grpo4codegen.demo import plot_curves, reward_curves, write_problem_subset

    subset = write_problem_subset(("pair-sum-count",), tmp_path / "p.jsonl")
    assert [p.task_id for p in load_problems(str(subset))] == ["pair-sum-count"]
    (tmp_path / "trainer_state.json").write_text(
        json.dumps(
            {
                "log_history": [
                    {"step": 1, "rewards/correctness/mean": 0.25},
                    {"step": 2, "loss": 0.1},
                    {"step": 2, "rewards/correctness/mean": 0.5},
                ]
            }
        )  # fmt: skip
    )
    curves = reward_curves(tmp_path)
    assert curves == {"correctness": [(1, 0.25), (2, 0.5)]}
    png = plot_curves(curves, tmp_path / "plot.png", "t")
    assert png.read_bytes()[:4] == b"\x89PNG"
