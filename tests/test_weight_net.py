"""The learned weight controller: moves weight to discriminating dimensions, respects its limits, resumes exactly."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from grpo4codegen.rewards.aggregate import DEFAULT_WEIGHTS, dimension_stats  # noqa: E402
from grpo4codegen.rewards.weight_net import (  # noqa: E402
    FEATURES,
    RewardWeightNet,
    WeightController,
    features_from_stats,
    informativeness,
)

GROUPS, PER_GROUP = 8, 4
GIDS = [g for g in range(GROUPS) for _ in range(PER_GROUP)]


def batch(rng: random.Random) -> dict[str, list[float | None]]:
    """maintainability constant everywhere, correctness constant within each group (all pass or all
    fail), efficiency varying a lot within groups, comment a little."""
    return {
        "correctness": [float(g % 2) for g in GIDS],
        "efficiency": [rng.random() for _ in GIDS],
        "comment": [0.4 + 0.1 * rng.random() for _ in GIDS],
        "maintainability": [0.7 for _ in GIDS],
    }


def run(controller: WeightController, steps: int, seed: int = 0) -> dict[str, float]:
    rng = random.Random(seed)
    weights = controller.weights
    for _ in range(steps):
        weights = controller.update(batch(rng), GIDS)
    return weights


def test_initial_weights_equal_prior_for_any_features() -> None:
    c = WeightController(DEFAULT_WEIGHTS)
    assert c.weights == pytest.approx(DEFAULT_WEIGHTS, abs=1e-15)
    feats = torch.rand(4, len(FEATURES), dtype=torch.float64)
    assert c.net(feats).tolist() == pytest.approx(list(DEFAULT_WEIGHTS.values()), abs=1e-12)


def test_net_temperature_keeps_prior_at_init() -> None:
    net = RewardWeightNet([0.7, 0.3], temperature=3.0)
    assert net(torch.zeros(2, len(FEATURES), dtype=torch.float64)).tolist() == pytest.approx([0.7, 0.3])


def test_varying_dimension_gains_saturated_loses() -> None:
    c = WeightController(DEFAULT_WEIGHTS)
    w = run(c, 40)
    assert math.isclose(sum(w.values()), 1.0)
    assert w["efficiency"] > DEFAULT_WEIGHTS["efficiency"] + 0.1
    assert w["maintainability"] < DEFAULT_WEIGHTS["maintainability"]
    assert w["correctness"] < DEFAULT_WEIGHTS["correctness"]  # saturated in every group
    assert c.step == 40
    assert c.last_metrics["informativeness/maintainability"] == 0.0


def test_converges_to_exponential_tilt() -> None:
    """On a fixed batch (no floor) the optimum is w_d ∝ p_d exp(I_d / kl_coef)."""
    scores = batch(random.Random(1))
    c = WeightController(DEFAULT_WEIGHTS, correctness_floor=0.0, kl_coef=0.5)
    for _ in range(400):
        w = c.update(scores, GIDS)
    info = informativeness(dimension_stats(scores, GIDS), c.dimensions)
    tilt = [DEFAULT_WEIGHTS[d] * math.exp(i / 0.5) for d, i in zip(c.dimensions, info, strict=True)]
    assert list(w.values()) == pytest.approx([t / sum(tilt) for t in tilt], abs=1e-4)


def test_correctness_floor_holds() -> None:
    c = WeightController(DEFAULT_WEIGHTS, kl_coef=0.01, correctness_floor=0.3)
    rng = random.Random(0)
    for _ in range(40):
        w = c.update(batch(rng), GIDS)
        assert w["correctness"] >= 0.3
        assert math.isclose(sum(w.values()), 1.0)
    assert w["correctness"] == pytest.approx(0.3)  # the floor binds here
    assert w["efficiency"] > 0.5


def test_floor_never_exceeds_prior() -> None:
    c = WeightController({"correctness": 0.1, "efficiency": 0.9}, correctness_floor=0.3)
    assert c.floor == pytest.approx(0.1)
    assert c.weights == pytest.approx({"correctness": 0.1, "efficiency": 0.9})
    assert WeightController({"comment": 1.0}).floor is None


def test_huge_kl_keeps_prior() -> None:
    c = WeightController(DEFAULT_WEIGHTS, kl_coef=1e9)
    w = run(c, 20)
    assert w == pytest.approx(DEFAULT_WEIGHTS, abs=1e-6)


def test_all_saturated_stays_at_prior() -> None:
    c = WeightController(DEFAULT_WEIGHTS)
    const = {d: [0.5] * len(GIDS) for d in DEFAULT_WEIGHTS}
    for _ in range(5):
        w = c.update(const, GIDS)
    assert w == pytest.approx(DEFAULT_WEIGHTS, abs=1e-12)


def test_none_scores_are_tolerated() -> None:
    c = WeightController(DEFAULT_WEIGHTS)
    scores = batch(random.Random(0))
    scores["efficiency"][0] = None
    scores["comment"] = [None] * len(GIDS)
    w = c.update(scores, GIDS)
    assert all(math.isfinite(x) for x in w.values())


def test_features_shape_and_clipping() -> None:
    stats = dimension_stats({"correctness": [0.0, 1e-9, 0.0, 1.0]}, [0, 0, 1, 1])
    f = features_from_stats(stats, ["correctness"])
    assert f.shape == (1, len(FEATURES)) and f.dtype == torch.float64
    assert 0.0 <= f[0, FEATURES.index("cv")].item() <= 1.0


def test_deterministic_given_seed_and_global_rng_untouched() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = WeightController(DEFAULT_WEIGHTS, seed=7)
    after = torch.rand(1)
    assert torch.equal(before, after)  # construction does not consume the global RNG
    b = WeightController(DEFAULT_WEIGHTS, seed=7)
    for pa, pb in zip(a.net.parameters(), b.net.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert run(a, 5) == run(b, 5)
    c = WeightController(DEFAULT_WEIGHTS, seed=8)
    assert not torch.equal(c.net.mlp[0].weight, a.net.mlp[0].weight)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_save_load_resumes_bit_identically(tmp_path: Path, momentum: float) -> None:
    rng_a, rng_b = random.Random(3), random.Random(3)
    batches = [batch(rng_a) for _ in range(8)]
    assert batches == [batch(rng_b) for _ in range(8)]

    straight = WeightController(DEFAULT_WEIGHTS, momentum=momentum, seed=1)
    for s in batches:
        straight.update(s, GIDS)

    first = WeightController(DEFAULT_WEIGHTS, momentum=momentum, seed=1)
    for s in batches[:5]:
        first.update(s, GIDS)
    path = tmp_path / "ckpt" / "weights.pt"
    first.save(path)

    resumed = WeightController(DEFAULT_WEIGHTS, momentum=momentum, seed=99)  # different init on purpose
    resumed.load(path)
    assert resumed.step == 5 and resumed.weights == first.weights
    for s in batches[5:]:
        resumed.update(s, GIDS)

    rebuilt = WeightController.from_file(path)
    for s in batches[5:]:
        rebuilt.update(s, GIDS)

    for other in (resumed, rebuilt):
        assert other.weights == straight.weights  # exact float equality
        assert other.step == straight.step == 8
        for (name, p), q in zip(
            straight.net.state_dict().items(), other.net.state_dict().values(), strict=True
        ):
            assert torch.equal(p, q), name


def test_load_state_dict_in_memory_and_mismatch() -> None:
    a = WeightController(DEFAULT_WEIGHTS)
    run(a, 3)
    b = WeightController(DEFAULT_WEIGHTS, seed=5)
    b.load_state_dict(a.state_dict())
    assert b.weights == a.weights
    with pytest.raises(ValueError, match="dimensions"):
        WeightController({"correctness": 1.0}).load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match="hidden"):
        WeightController(DEFAULT_WEIGHTS, hidden=4).load_state_dict(a.state_dict())


def test_constructor_errors() -> None:
    with pytest.raises(ValueError, match="unknown reward dimension"):
        WeightController({"style": 1.0})
    with pytest.raises(ValueError):
        WeightController(DEFAULT_WEIGHTS, lr=0.0)
    with pytest.raises(ValueError):
        WeightController(DEFAULT_WEIGHTS, correctness_floor=1.5)
    with pytest.raises(ValueError, match="temperature"):
        WeightController(DEFAULT_WEIGHTS, temperature=0.0)
    with pytest.raises(ValueError, match="no scores"):
        WeightController(DEFAULT_WEIGHTS).update({"correctness": [1.0]}, [0])
