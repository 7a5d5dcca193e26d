"""Reward aggregation: weight parsing, both aggregation modes by hand, None propagation, statistics."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys

import pytest

from grpo4codegen.rewards import aggregate as agg
from grpo4codegen.rewards.aggregate import (
    DEFAULT_WEIGHTS,
    DIMENSIONS,
    aggregate,
    constant_fallback,
    dimension_stats,
    parse_fixed_weights,
)


def test_dimensions_and_defaults() -> None:
    assert DIMENSIONS == ("correctness", "efficiency", "comment", "maintainability")
    assert math.isclose(sum(DEFAULT_WEIGHTS.values()), 1.0)


def test_imports_without_torch() -> None:
    code = "import sys; import grpo4codegen.rewards.aggregate; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ---------------------------------------------------------------- parse_fixed_weights


@pytest.mark.parametrize("spec", [None, "", "  "])
def test_parse_defaults(spec: str | None) -> None:
    assert parse_fixed_weights(spec, DIMENSIONS) == pytest.approx(DEFAULT_WEIGHTS)


def test_parse_restricts_and_renormalises() -> None:
    spec = json.dumps(DEFAULT_WEIGHTS)
    w = parse_fixed_weights(spec, ["efficiency", "correctness"])
    assert list(w) == ["correctness", "efficiency"]  # canonical order
    assert w == pytest.approx({"correctness": 0.5 / 0.7, "efficiency": 0.2 / 0.7})
    assert parse_fixed_weights(None, ["comment"]) == {"comment": 1.0}


def test_parse_mapping_and_zero_weight() -> None:
    w = parse_fixed_weights(
        {"correctness": 3, "comment": 1, "efficiency": 0}, ["correctness", "comment", "efficiency"]
    )
    assert w == pytest.approx({"correctness": 0.75, "efficiency": 0.0, "comment": 0.25})


def test_parse_nothing_enabled() -> None:
    assert parse_fixed_weights(None, []) == {}


@pytest.mark.parametrize(
    ("spec", "enabled", "match"),
    [
        ('{"correctness": 1, "style": 1}', DIMENSIONS, "unknown reward dimension"),
        ('{"correctness": 1}', ["correctness", "bogus"], "unknown reward dimension"),
        ('{"correctness": -0.1, "efficiency": 1}', ["correctness", "efficiency"], ">= 0"),
        ('{"correctness": 0.5', DIMENSIONS, "not valid JSON"),
        ("[0.5, 0.5]", DIMENSIONS, "JSON object"),
        ('{"correctness": 0, "efficiency": 0, "comment": 1}', ["correctness", "efficiency"], "all zero"),
        ('{"correctness": "high"}', ["correctness"], "must be a number"),
        ('{"correctness": true}', ["correctness"], "must be a number"),
        ('{"correctness": NaN}', ["correctness"], "finite"),
        ('{"correctness": 1}', ["correctness", "comment"], "no weight for enabled"),
    ],
)
def test_parse_errors(spec: str, enabled: list[str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_fixed_weights(spec, enabled)


# ---------------------------------------------------------------- aggregate

W2 = {"correctness": 0.75, "efficiency": 0.25}


def test_weighted_sum_by_hand() -> None:
    scores = {"correctness": [1.0, 0.0, 0.5], "efficiency": [0.2, 1.0, 0.5], "comment": [0.9, 0.9, 0.9]}
    # comment is not weighted, so it is ignored
    assert aggregate(scores, W2) == pytest.approx([0.75 + 0.05, 0.25, 0.5])


def test_normalize_then_sum_by_hand() -> None:
    scores = {"correctness": [1.0, 0.0, 0.5, 0.5], "efficiency": [0.2, 0.4, 0.3, 0.3]}
    out = aggregate(scores, W2, group_ids=["a", "a", "b", "b"], mode="normalize_then_sum")
    # group a: correctness mean .5, sample std sqrt(.5); efficiency mean .3, sample std sqrt(.02)
    sc, se = math.sqrt(0.5) + 1e-4, math.sqrt(0.02) + 1e-4
    a0 = 0.75 * (0.5 / sc) + 0.25 * (-0.1 / se)
    a1 = 0.75 * (-0.5 / sc) + 0.25 * (0.1 / se)
    # group b has no spread in either dimension: everything normalises to 0
    assert out == pytest.approx([a0, a1, 0.0, 0.0], abs=1e-12)


def test_normalize_then_sum_balances_scales() -> None:
    """A narrow-spread dimension counts as much as a wide one after per-group normalisation."""
    scores = {"correctness": [0.0, 1.0], "efficiency": [0.51, 0.49]}
    out = aggregate(scores, {"correctness": 0.5, "efficiency": 0.5}, [0, 0], mode="normalize_then_sum")
    # both dimensions become about -+0.707 (sample std of two values), so they cancel
    assert out == pytest.approx([0.0, 0.0], abs=0.01)
    plain = aggregate(scores, {"correctness": 0.5, "efficiency": 0.5}, [0, 0])
    assert plain[1] > plain[0]  # plain sum: correctness dominates


def test_normalize_then_sum_without_group_ids_is_one_group() -> None:
    scores = {"correctness": [0.0, 1.0, 0.0, 1.0]}
    assert aggregate(scores, {"correctness": 1.0}, mode="normalize_then_sum") == aggregate(
        scores, {"correctness": 1.0}, [7, 7, 7, 7], mode="normalize_then_sum"
    )


@pytest.mark.parametrize("mode", ["weighted_sum", "normalize_then_sum"])
def test_none_as_trl_treats_it(mode: str) -> None:
    """As TRL >= 1.6: all dimensions None -> None (unscorable); one None -> that dimension adds nothing."""
    scores = {"correctness": [1.0, None, 0.0, 0.5, None], "efficiency": [0.5, 0.5, None, 0.5, None]}
    out = aggregate(scores, W2, [0, 0, 0, 0, 0], mode=mode)
    assert out[4] is None
    assert all(isinstance(x, float) for x in out[:4])
    if mode == "weighted_sum":
        assert out[1] == pytest.approx(W2["efficiency"] * 0.5)
        assert out[2] == pytest.approx(0.0)
    else:
        # each dimension's group statistics use the completions scored in it
        c = aggregate({"correctness": [1.0, 0.0, 0.5]}, {"correctness": 1.0}, [0, 0, 0], mode=mode)
        e = aggregate({"efficiency": [0.5, 0.5, 0.5]}, {"efficiency": 1.0}, [0, 0, 0], mode=mode)
        assert out[0] == pytest.approx(W2["correctness"] * c[0] + W2["efficiency"] * e[0])
        assert out[1] == pytest.approx(W2["efficiency"] * e[1])


def test_none_in_unweighted_dimension_is_ignored() -> None:
    scores = {"correctness": [1.0], "efficiency": [1.0], "comment": [None]}
    assert aggregate(scores, W2) == [1.0]


def test_all_none_group() -> None:
    scores = {"correctness": [None, None, 1.0, 0.0]}
    assert aggregate(scores, {"correctness": 1.0}, [0, 0, 1, 1], mode="normalize_then_sum")[:2] == [
        None,
        None,
    ]


def test_deterministic() -> None:
    scores = {"correctness": [0.1, 0.9, 0.4], "efficiency": [0.3, 0.2, 0.8]}
    assert aggregate(scores, W2, [0, 0, 1], "normalize_then_sum") == aggregate(
        scores, W2, [0, 0, 1], "normalize_then_sum"
    )


@pytest.mark.parametrize(
    ("scores", "weights", "kwargs", "match"),
    [
        ({"correctness": [1.0]}, {}, {}, "constant_fallback"),
        ({"correctness": [1.0]}, {"correctness": 1.0}, {"mode": "max"}, "unknown aggregation mode"),
        ({"correctness": [1.0]}, {"efficiency": 1.0}, {}, "no scores"),
        ({"correctness": [1.0], "efficiency": [1.0, 0.0]}, W2, {}, "different numbers"),
        ({"correctness": [1.0]}, {"correctness": 1.0}, {"group_ids": [0, 1]}, "group ids"),
        ({"correctness": [float("nan")]}, {"correctness": 1.0}, {}, "use None"),
        ({"correctness": [1.0]}, {"style": 1.0}, {}, "unknown reward dimension"),
    ],
)
def test_aggregate_errors(scores: dict, weights: dict, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        aggregate(scores, weights, **kwargs)


# ---------------------------------------------------------------- constant fallback


def test_constant_fallback_warns(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agg, "_fallback_logged", False)
    with caplog.at_level(logging.WARNING, logger=agg.__name__):
        with pytest.warns(RuntimeWarning, match="learns nothing"):
            assert constant_fallback(3) == [0.5, 0.5, 0.5]
        with pytest.warns(RuntimeWarning):
            constant_fallback(2)
    assert sum("learns nothing" in r.getMessage() for r in caplog.records) == 1  # logged once


# ---------------------------------------------------------------- dimension_stats


def test_dimension_stats_by_hand() -> None:
    scores = {
        "correctness": [1.0, 1.0, 0.0, 0.0],  # constant within each group
        "efficiency": [0.0, 1.0, 0.5, None],
    }
    s = dimension_stats(scores, ["a", "a", "b", "b"])
    c = s["correctness"]
    assert c["mean"] == 0.5 and c["std"] == 0.5 and c["group_std"] == 0.0
    assert c["cv"] == 1.0 and c["saturated_frac"] == 1.0 and c["none_frac"] == 0.0
    e = s["efficiency"]
    assert e["mean"] == pytest.approx(0.5)
    assert e["std"] == pytest.approx(math.sqrt(1 / 6))
    assert e["group_std"] == pytest.approx((0.5 + 0.0) / 2)  # group b has a single scored value
    assert e["saturated_frac"] == 0.5 and e["none_frac"] == 0.25
    assert e["cv"] == pytest.approx(math.sqrt(1 / 6) / 0.5)


def test_dimension_stats_edge_cases() -> None:
    s = dimension_stats({"comment": [None, None], "efficiency": [0.0, 0.0]}, None)
    assert s["comment"]["none_frac"] == 1.0 and s["comment"]["saturated_frac"] == 1.0
    assert s["comment"]["mean"] == 0.0
    assert s["efficiency"]["cv"] == 0.0  # zero mean: no division by zero
    with pytest.raises(ValueError, match="group ids"):
        dimension_stats({"comment": [0.1]}, [0, 1])
