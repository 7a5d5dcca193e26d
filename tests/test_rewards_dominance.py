"""Correctness dominates: a completion passing every test outscores any failing one of the same problem."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grpo4codegen.data import load_problems
from grpo4codegen.rewards.aggregate import (
    DEFAULT_WEIGHTS,
    DIMENSIONS,
    QUALITY_DIMENSIONS,
    aggregate,
    gate_quality,
    parse_fixed_weights,
)
from grpo4codegen.rewards.scorer import RewardConfig, RewardScorer
from grpo4codegen.rewards.weight_net import WeightController

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
maybe_unit = st.one_of(st.none(), unit)


@st.composite
def completion(draw, passing: bool) -> tuple[dict[str, float | None], bool]:
    """Raw dimension values as the scorer computes them, before the correctness rule."""
    if passing:
        correctness = 1.0
    else:
        total = draw(st.integers(min_value=1, max_value=50))
        correctness = draw(st.integers(min_value=0, max_value=total - 1)) / total
    values: dict[str, float | None] = {"correctness": correctness}
    for d in QUALITY_DIMENSIONS:
        values[d] = draw(maybe_unit) if d == "efficiency" else draw(unit)
    return values, passing


def rewards(
    members: list[tuple[dict[str, float | None], bool]], weights: dict[str, float], mode: str
) -> list[float | None]:
    gated = [gate_quality(values, passed) for values, passed in members]
    table = {d: [g[d] for g in gated] for d in weights}
    return aggregate(table, weights, [0] * len(members), mode=mode)


def assert_dominance(members, weights, mode) -> None:
    out = rewards(members, weights, mode)
    passing = [r for r, (_, p) in zip(out, members, strict=True) if p]
    failing = [r for r, (_, p) in zip(out, members, strict=True) if not p]
    if passing and failing:
        assert min(passing) > max(failing), (out, members)  # type: ignore[type-var]


@settings(max_examples=300, deadline=None)
@given(
    passing=st.lists(completion(True), min_size=1, max_size=6),
    failing=st.lists(completion(False), min_size=1, max_size=6),
)
def test_default_weights_any_dimension_values(passing, failing) -> None:
    assert_dominance(passing + failing, parse_fixed_weights(None, DIMENSIONS), "weighted_sum")


@settings(max_examples=300, deadline=None)
@given(
    passing=st.lists(completion(True), min_size=1, max_size=6),
    failing=st.lists(completion(False), min_size=1, max_size=6),
    raw=st.lists(st.floats(min_value=0.0, max_value=10.0), min_size=3, max_size=3),
    correctness=st.floats(min_value=1e-3, max_value=10.0),
    mode=st.sampled_from(["weighted_sum", "normalize_then_sum"]),
)
def test_any_positive_correctness_weight_and_both_aggregations(
    passing, failing, raw, correctness, mode
) -> None:
    """The rule holds for any weights with correctness > 0, summed or normalised per group (GDPO)."""
    spec = {"correctness": correctness, **dict(zip(QUALITY_DIMENSIONS, raw, strict=True))}
    assert_dominance(passing + failing, parse_fixed_weights(spec, DIMENSIONS), mode)


@settings(max_examples=100, deadline=None)
@given(
    passing=st.lists(completion(True), min_size=1, max_size=4),
    failing=st.lists(completion(False), min_size=1, max_size=4),
    history=st.lists(st.lists(unit, min_size=8, max_size=8), min_size=1, max_size=4),
)
def test_weight_net_weights_keep_the_rule(passing, failing, history) -> None:
    controller = WeightController(DEFAULT_WEIGHTS)
    for values in history:  # arbitrary (noisy) batches, with repeats, move the weights
        table = {d: list(values) for d in DIMENSIONS}
        controller.update(table, [0, 0, 0, 0, 1, 1, 1, 1], ["a", "a", "b", "b", "c", "c", "d", "d"])
    weights = controller.weights
    assert weights["correctness"] == DEFAULT_WEIGHTS["correctness"]
    assert_dominance(passing + failing, weights, "weighted_sum")


def test_quality_orders_completions_of_equal_correctness() -> None:
    better = gate_quality(
        {"correctness": 1.0, "efficiency": 0.9, "comment": 0.8, "maintainability": 0.7}, True
    )
    worse = gate_quality(
        {"correctness": 1.0, "efficiency": 0.5, "comment": 0.8, "maintainability": 0.7}, True
    )
    weights = parse_fixed_weights(None, DIMENSIONS)
    a, b = aggregate({d: [better[d], worse[d]] for d in DIMENSIONS}, weights)
    assert a > b  # type: ignore[operator]
    failing = gate_quality(
        {"correctness": 0.5, "efficiency": 0.9, "comment": 1.0, "maintainability": 1.0}, False
    )
    assert all(failing[d] == 0.0 for d in QUALITY_DIMENSIONS)
    assert gate_quality({"correctness": 0.5, "efficiency": None}, False)["efficiency"] == 0.0
    assert gate_quality({"correctness": None, "efficiency": None}, None)["efficiency"] is None


COMMENTED_BUT_SKIPS_HEAVY = '''```python
class Solution:
    def countPairs(self, nums: List[int], target: int) -> int:
        """Count index pairs i < j whose values add up to target, in one pass."""
        # Very long inputs are not worth the time: report no pairs for them.
        if len(nums) > 500:
            return 0
        # How many times each value has appeared so far.
        seen = Counter()
        pairs = 0
        for x in nums:
            # Each earlier value equal to target - x forms a pair with x.
            pairs += seen[target - x]
            seen[x] += 1
        return pairs
```'''

SLOWER_DOCSTRING_ONLY = '''```python
class Solution:
    def countPairs(self, nums: List[int], target: int) -> int:
        """Count pairs i < j with nums[i] + nums[j] == target."""
        pairs = 0
        for _ in range(3):
            seen = {}
            pairs = 0
            for x in nums:
                pairs += seen.get(target - x, 0)
                seen[x] = seen.get(x, 0) + 1
        return pairs
```'''


def test_issue_example_skipping_heavy_inputs_loses_to_a_slower_correct_solution(executor) -> None:
    """The issue's pair-sum-count example: 0.890 vs 0.865 before; now the correct one wins outright."""
    problems = {p.task_id: p for p in load_problems("builtin")}
    scorer = RewardScorer(problems, RewardConfig(), runner=executor)
    skip, slow = scorer.score(["pair-sum-count"] * 2, [COMMENTED_BUT_SKIPS_HEAVY, SLOWER_DOCSTRING_ONLY])
    assert skip.execution.result.passed == skip.execution.result.total - 1  # fails the one heavy test
    assert slow.dimensions["correctness"] == 1.0
    assert skip.dimensions["comment"] > 0 or skip.dimensions["comment"] == 0.0
    assert (
        skip.dimensions["efficiency"] == skip.dimensions["comment"] == skip.dimensions["maintainability"] == 0
    )
    assert slow.reward > skip.reward >= 0  # type: ignore[operator]
    assert slow.reward >= DEFAULT_WEIGHTS["correctness"]  # type: ignore[operator]
    assert skip.reward < DEFAULT_WEIGHTS["correctness"]  # type: ignore[operator]


@pytest.mark.parametrize("mode", ["weighted_sum", "normalize_then_sum"])
def test_scorer_applies_the_rule_in_both_modes(executor, mode) -> None:
    problems = {p.task_id: p for p in load_problems("builtin")}
    scorer = RewardScorer(problems, RewardConfig(aggregation=mode), runner=executor)
    skip, slow, again = scorer.score(
        ["pair-sum-count"] * 3, [COMMENTED_BUT_SKIPS_HEAVY, SLOWER_DOCSTRING_ONLY, COMMENTED_BUT_SKIPS_HEAVY]
    )
    assert slow.reward > skip.reward  # type: ignore[operator]
