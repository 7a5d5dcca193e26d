"""The weight controller: reliability-discounted weights that never amplify noise, keep correctness, resume."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from grpo4codegen.rewards.aggregate import DEFAULT_WEIGHTS, aggregate
from grpo4codegen.rewards.weight_net import WeightController

GROUPS, PER_GROUP = 8, 8
GIDS = [g for g in range(GROUPS) for _ in range(PER_GROUP)]


def codes(rng: random.Random) -> list[str]:
    """GRPO-like groups: each completion is one of 4 programs per group, so repeats are common."""
    return [f"g{g}-prog{rng.randrange(4)}" for g in GIDS]


def batch(rng: random.Random, keys: list[str], noise_dim: str = "comment") -> dict[str, list[float | None]]:
    """correctness, efficiency and maintainability are functions of the code; `noise_dim` is pure noise."""

    def of(key: str, salt: str) -> float:
        return random.Random(f"{key}-{salt}").random()

    table: dict[str, list[float | None]] = {
        "correctness": [float(of(k, "c") > 0.5) for k in keys],
        "efficiency": [of(k, "e") for k in keys],
        "comment": [of(k, "m") for k in keys],
        "maintainability": [of(k, "x") for k in keys],
    }
    table[noise_dim] = [rng.random() for _ in keys]
    return table


def advantages(rewards: list[float | None], groups: list[int]) -> list[float]:
    """TRL's sum_then_normalize advantages: (r - group mean) / (group std + 1e-4), Bessel std."""
    out = []
    for i, r in enumerate(rewards):
        xs = [rewards[j] for j in range(len(rewards)) if groups[j] == groups[i]]
        m = sum(xs) / len(xs)  # type: ignore[arg-type]
        s = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))  # type: ignore[operator]
        out.append((r - m) / (s + 1e-4))  # type: ignore[operator]
    return out


@pytest.mark.parametrize("noise_dim", ["efficiency", "comment", "maintainability"])
def test_pure_noise_never_gains_weight_and_loses_it_once_repeats_expose_it(noise_dim: str) -> None:
    rng = random.Random(0)
    controller = WeightController(DEFAULT_WEIGHTS)
    for _ in range(20):
        keys = codes(rng)
        weights = controller.update(batch(rng, keys, noise_dim), GIDS, keys)
        for d, w in weights.items():
            assert w <= DEFAULT_WEIGHTS[d] + 1e-12  # nothing ever gains weight
    assert weights[noise_dim] < 0.25 * DEFAULT_WEIGHTS[noise_dim]
    for d in ("efficiency", "comment", "maintainability"):
        if d != noise_dim:  # the dimensions that are functions of the code keep their weight
            assert weights[d] == pytest.approx(DEFAULT_WEIGHTS[d])
    assert controller.last_metrics[f"{noise_dim}/reliability"] < 0.25


def test_noise_without_repeats_still_never_gains() -> None:
    rng = random.Random(1)
    controller = WeightController(DEFAULT_WEIGHTS)
    for step in range(10):
        keys = [f"unique-{step}-{i}" for i in range(len(GIDS))]
        weights = controller.update(batch(rng, keys), GIDS)  # no keys given: nothing to learn about noise
        assert all(weights[d] <= DEFAULT_WEIGHTS[d] for d in weights)


def test_dimension_constant_within_every_group_leaves_advantages_unchanged() -> None:
    rng = random.Random(2)
    keys = codes(rng)
    table = batch(rng, keys)
    table["maintainability"] = [0.1 * g for g in GIDS]  # differs between groups, constant within each
    with_it = WeightController(DEFAULT_WEIGHTS)
    without = WeightController({d: w for d, w in DEFAULT_WEIGHTS.items() if d != "maintainability"})
    for _ in range(5):
        w_with = with_it.update(table, GIDS, keys)
        w_without = without.update({d: v for d, v in table.items() if d != "maintainability"}, GIDS, keys)
    # the other weights do not depend on it (the prior without it is renormalised: same ratios)
    scale = w_with["correctness"] / w_without["correctness"]
    assert {d: w_with[d] for d in w_without} == pytest.approx({d: w * scale for d, w in w_without.items()})
    assert w_with["maintainability"] == DEFAULT_WEIGHTS["maintainability"]
    a = advantages(aggregate(table, w_with, GIDS), GIDS)
    b = advantages(aggregate({d: table[d] for d in w_without}, w_without, GIDS), GIDS)
    assert a == pytest.approx(b, rel=1e-3, abs=1e-6)  # equal up to TRL's 1e-4 std epsilon


def test_correctness_floor_holds() -> None:
    """Correctness is the verifier: its weight never moves, even when its values look noisy."""
    rng = random.Random(3)
    controller = WeightController(DEFAULT_WEIGHTS)
    for _ in range(10):
        keys = codes(rng)
        weights = controller.update(batch(rng, keys, "correctness"), GIDS, keys)
        assert weights["correctness"] == DEFAULT_WEIGHTS["correctness"] == controller.floor
        others = sum(w for d, w in weights.items() if d != "correctness")
        assert weights["correctness"] / (weights["correctness"] + others) >= DEFAULT_WEIGHTS["correctness"]


def test_constant_everywhere_and_none_are_tolerated() -> None:
    controller = WeightController(DEFAULT_WEIGHTS)
    table = {
        "correctness": [1.0, None, 0.0, 1.0],
        "efficiency": [None, None, None, None],
        "comment": [0.5, 0.5, 0.5, 0.5],
        "maintainability": [0.2, 0.2, float("nan"), 0.3],
    }
    weights = controller.update(table, [0, 0, 1, 1], ["a", "a", "b", "a"])
    assert weights == pytest.approx(DEFAULT_WEIGHTS)


def test_metrics_log_inputs_and_outputs() -> None:
    rng = random.Random(4)
    controller = WeightController(DEFAULT_WEIGHTS)
    keys = codes(rng)
    controller.update(batch(rng, keys), GIDS, keys)
    for d in DEFAULT_WEIGHTS:
        for part in ("repeats", "noise_var", "group_var", "reliability", "weight"):
            assert math.isfinite(controller.last_metrics[f"{d}/{part}"])


def test_save_load_resumes_identically(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    rng_a = random.Random(5)
    batches = []
    for _ in range(8):
        keys = codes(rng_a)
        batches.append((batch(rng_a, keys), keys))
    straight = WeightController(DEFAULT_WEIGHTS)
    for table, keys in batches:
        straight.update(table, GIDS, keys)
    first = WeightController(DEFAULT_WEIGHTS)
    for table, keys in batches[:5]:
        first.update(table, GIDS, keys)
    path = tmp_path / "ckpt" / "weights.pt"
    first.save(path)
    resumed = WeightController(DEFAULT_WEIGHTS)
    resumed.load(path)
    rebuilt = WeightController.from_file(path)
    assert resumed.step == 5 and resumed.weights == first.weights
    for other in (resumed, rebuilt):
        for table, keys in batches[5:]:
            other.update(table, GIDS, keys)
        assert other.weights == straight.weights and other.step == 8


def test_load_state_dict_mismatch_and_constructor_errors() -> None:
    a = WeightController(DEFAULT_WEIGHTS)
    with pytest.raises(ValueError, match="dimensions"):
        WeightController({"correctness": 1.0}).load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match="unknown reward dimension"):
        WeightController({"style": 1.0})
    with pytest.raises(ValueError):
        WeightController(DEFAULT_WEIGHTS, decay=1.0)
    with pytest.raises(ValueError):
        WeightController({"correctness": -1.0})
    with pytest.raises(ValueError, match="no scores"):
        WeightController(DEFAULT_WEIGHTS).update({"correctness": [1.0]}, [0])
