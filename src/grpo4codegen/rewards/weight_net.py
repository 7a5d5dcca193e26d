"""Learned reward weights: a tiny net that shifts weight towards the dimensions GRPO can learn from.

Why: GRPO's advantage is a completion's reward minus its group's mean (over the group's std). A
dimension on which every completion of a group scores the same (all tests pass, or all fail; every
completion equally commented) contributes nothing to those differences; its weight only dilutes the
dimensions that do discriminate. Following the informativeness idea of SAW (arXiv 2606.07705), we
move weight towards dimensions with within-group spread and away from saturated ones.

Objective, minimised with one SGD step per training step (`WeightController.update`)::

    loss(w) = [ - sum_d w_d * I_d  +  kl_coef * KL(w || p)  +  floor_penalty * relu(floor - w_c)^2 ] / (1 + kl_coef)

* ``w = softmax((mlp(f_d) + b_d) / temperature)``: one MLP shared by all dimensions maps a
  dimension's batch statistics ``f_d`` (mean, within-group std, informativeness, CV, saturated
  fraction; see `FEATURES`) to a logit, plus a learned per-dimension bias ``b_d``. The last MLP
  layer starts at zero and ``b_d = temperature * log p_d``, so the initial weights are exactly the
  prior ``p`` (the fixed weights) whatever the statistics.
* ``I_d``: informativeness = the dimension's mean within-group std, divided by the sum over enabled
  dimensions (so the I_d sum to 1, or are all 0 when every dimension is saturated). It is computed
  from the batch and is a constant to the optimiser: the net learns *which statistics deserve
  weight*, it does not chase its own outputs (minimising the variance of its own outputs, the
  seed's approach, has a trivial optimum and learns nothing about the rewards).
* ``KL(w || p)`` keeps weights near the user's prior; without the floor the optimum is the
  exponential tilt ``w_d ∝ p_d * exp(I_d / kl_coef)``, so ``kl_coef`` sets how far weights may move
  (huge ``kl_coef``: weights stay at the prior; all dimensions saturated: weights return to it).
* The division by ``1 + kl_coef`` leaves the optimum alone and keeps the loss's curvature bounded
  whatever ``kl_coef`` is, so one ``lr`` is stable for all of them with plain SGD, and a huge
  ``kl_coef`` shrinks the informativeness pull towards 0. We use SGD, not Adam, on purpose: Adam
  ignores the gradient's scale, so its first step (where the KL gradient is still 0) would move the
  weights by a full ``lr`` even with ``kl_coef = 1e6``.
* The (squared, so smooth) floor penalty stops the more easily gamed dimensions (comment,
  maintainability) from starving correctness. The floor is ``min(correctness_floor, p_correctness)``
  (a user prior below the floor wins) and is also enforced exactly on the returned weights by
  lifting correctness to the floor and shrinking the other weights proportionally, which is
  exactly the constrained optimum when the tilt above would undercut the floor.

Everything is deterministic: parameters are initialised from ``seed`` under a forked RNG (the
global torch RNG is left untouched), computation is float64 on CPU, and `state_dict` carries the
net, the optimiser state, the step count, the last weights and the hyperparameters, so a resumed run
produces bit-identical weights.
"""

from __future__ import annotations

import math
import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from grpo4codegen.rewards.aggregate import DIMENSIONS, dimension_stats

#: per-dimension input features, in order
FEATURES: tuple[str, ...] = ("mean", "group_std", "informativeness", "cv", "saturated_frac")

#: CV is unbounded when a mean is near zero; clip it so one feature cannot blow up the MLP
CV_CLIP = 10.0

#: a prior weight of 0 would be log(0) = -inf; raise such weights to this before renormalising
MIN_PRIOR = 1e-6

STATE_VERSION = 1
DTYPE = torch.float64


def informativeness(stats: Mapping[str, Mapping[str, float]], dims: Sequence[str]) -> list[float]:
    """Mean within-group std per dimension, normalised to sum 1 over `dims` (all 0 if none varies)."""
    spreads = [max(0.0, stats[d]["group_std"]) for d in dims]
    total = math.fsum(spreads)
    if total <= 0:
        return [0.0] * len(dims)
    return [s / total for s in spreads]


def features_from_stats(stats: Mapping[str, Mapping[str, float]], dims: Sequence[str]) -> torch.Tensor:
    """The (len(dims), len(FEATURES)) float64 input of `RewardWeightNet`."""
    info = informativeness(stats, dims)
    rows = [
        [
            stats[d]["mean"],
            stats[d]["group_std"],
            info[k],
            min(stats[d]["cv"], CV_CLIP) / CV_CLIP,
            stats[d]["saturated_frac"],
        ]
        for k, d in enumerate(dims)
    ]
    return torch.tensor(rows, dtype=DTYPE)


def _normalised_prior(prior: Sequence[float]) -> list[float]:
    if not prior:
        raise ValueError("the weight net needs at least one dimension")
    if any((not math.isfinite(p)) or p < 0 for p in prior):
        raise ValueError(f"prior weights must be finite and >= 0, got {list(prior)}")
    clipped = [max(float(p), MIN_PRIOR) for p in prior]
    total = math.fsum(clipped)
    return [p / total for p in clipped]


class RewardWeightNet(nn.Module):
    """Per-dimension statistics -> softmax weights; starts out returning the prior exactly."""

    def __init__(
        self,
        prior: Sequence[float],
        hidden: int = 16,
        temperature: float = 1.0,
        n_features: int = len(FEATURES),
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {hidden}")
        self.temperature = float(temperature)
        log_prior = torch.tensor(_normalised_prior(prior), dtype=DTYPE).log()
        self.register_buffer("log_prior", log_prior)
        self.mlp = nn.Sequential(
            nn.Linear(n_features, hidden, dtype=DTYPE),
            nn.Tanh(),
            nn.Linear(hidden, 1, dtype=DTYPE),
        )
        last = self.mlp[-1]
        assert isinstance(last, nn.Linear)
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()
        self.bias = nn.Parameter(self.temperature * log_prior.clone())

    def log_weights(self, features: torch.Tensor) -> torch.Tensor:
        """Log-softmax weights, (D,), from features (D, F); log form keeps the KL term stable."""
        logits = self.mlp(features).squeeze(-1) + self.bias
        return torch.log_softmax(logits / self.temperature, dim=-1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Weights over the dimensions, (D,), summing to 1."""
        return self.log_weights(features).exp()


class WeightController:
    """Owns a `RewardWeightNet` and its optimiser; one `update` per GRPO step yields the new weights."""

    def __init__(
        self,
        prior: Mapping[str, float],
        *,
        kl_coef: float = 0.5,
        correctness_floor: float = 0.3,
        floor_penalty: float = 10.0,
        temperature: float = 1.0,
        lr: float = 0.5,
        momentum: float = 0.0,
        hidden: int = 16,
        seed: int = 0,
    ) -> None:
        unknown = [d for d in prior if d not in DIMENSIONS]
        if unknown:
            raise ValueError(f"unknown reward dimension(s) {unknown}; choose from {list(DIMENSIONS)}")
        if kl_coef < 0 or floor_penalty < 0 or lr <= 0 or not 0 <= momentum < 1:
            raise ValueError("need kl_coef >= 0, floor_penalty >= 0, lr > 0 and 0 <= momentum < 1")
        if not 0 <= correctness_floor <= 1:
            raise ValueError(f"correctness_floor must be in [0, 1], got {correctness_floor}")
        self.dimensions: tuple[str, ...] = tuple(d for d in DIMENSIONS if d in prior)
        prior_vec = _normalised_prior([float(prior[d]) for d in self.dimensions])
        self.prior: dict[str, float] = dict(zip(self.dimensions, prior_vec, strict=True))
        self.kl_coef = float(kl_coef)
        self.correctness_floor = float(correctness_floor)
        self.floor_penalty = float(floor_penalty)
        self.temperature = float(temperature)
        self.lr = float(lr)
        self.momentum = float(momentum)
        self.hidden = int(hidden)
        self.seed = int(seed)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net = RewardWeightNet(prior_vec, hidden=self.hidden, temperature=self.temperature)
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=self.lr, momentum=self.momentum)
        self.step = 0
        self._weights: list[float] = self._apply_floor(prior_vec)
        #: loss terms and informativeness of the last update, for logging
        self.last_metrics: dict[str, float] = {}

    # ------------------------------------------------------------------ weights

    @property
    def floor(self) -> float | None:
        """The effective correctness floor, or None when correctness is not a dimension."""
        if "correctness" not in self.prior:
            return None
        return min(self.correctness_floor, self.prior["correctness"])

    @property
    def weights(self) -> dict[str, float]:
        """The weights from the last update (the prior before the first one)."""
        return dict(zip(self.dimensions, self._weights, strict=True))

    def _apply_floor(self, weights: Sequence[float]) -> list[float]:
        """Lift correctness to the floor, shrinking the others proportionally; a no-op above it."""
        out = [float(w) for w in weights]
        floor = self.floor
        if floor is None:
            return out
        c = self.dimensions.index("correctness")
        if out[c] >= floor:
            return out
        rest = 1.0 - out[c]
        scale = (1.0 - floor) / rest if rest > 0 else 0.0
        out = [w * scale for w in out]
        out[c] = floor
        return out

    # ------------------------------------------------------------------ learning

    def update(
        self, scores: Mapping[str, Sequence[float | None]], group_ids: Sequence[Hashable] | None
    ) -> dict[str, float]:
        """One optimiser step on this batch's statistics; returns (and keeps) the new weights."""
        missing = [d for d in self.dimensions if d not in scores]
        if missing:
            raise ValueError(f"no scores for dimension(s) {missing}")
        stats = dimension_stats({d: scores[d] for d in self.dimensions}, group_ids)
        feats = features_from_stats(stats, self.dimensions)
        info = feats[:, FEATURES.index("informativeness")]

        self.net.train()
        self.optimizer.zero_grad(set_to_none=True)
        log_w = self.net.log_weights(feats)
        w = log_w.exp()
        gain = (w * info).sum()
        kl = (w * (log_w - self.net.log_prior)).sum()
        floor = self.floor
        shortfall = torch.zeros((), dtype=DTYPE)
        if floor is not None:
            shortfall = torch.relu(floor - w[self.dimensions.index("correctness")])
        loss = (-gain + self.kl_coef * kl + self.floor_penalty * shortfall**2) / (1.0 + self.kl_coef)
        loss.backward()
        self.optimizer.step()
        self.step += 1

        with torch.no_grad():
            new_w = self.net(feats).tolist()
        self._weights = self._apply_floor(new_w)
        self.last_metrics = {
            "loss": float(loss.item()),
            "gain": float(gain.item()),
            "kl": float(kl.item()),
            "floor_shortfall": float(shortfall.item()),
            **{f"informativeness/{d}": float(x) for d, x in zip(self.dimensions, info.tolist(), strict=True)},
        }
        return self.weights

    # ------------------------------------------------------------------ checkpoints

    def _config(self) -> dict[str, Any]:
        return {
            "dimensions": list(self.dimensions),
            "prior": [self.prior[d] for d in self.dimensions],
            "kl_coef": self.kl_coef,
            "correctness_floor": self.correctness_floor,
            "floor_penalty": self.floor_penalty,
            "temperature": self.temperature,
            "lr": self.lr,
            "momentum": self.momentum,
            "hidden": self.hidden,
            "seed": self.seed,
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue bit-identically."""
        return {
            "version": STATE_VERSION,
            "config": self._config(),
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "weights": list(self._weights),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a `state_dict`; the checkpoint's hyperparameters replace this controller's."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported weight-controller state version {state.get('version')!r}")
        config = state["config"]
        if tuple(config["dimensions"]) != self.dimensions:
            raise ValueError(
                f"checkpoint weights dimensions {list(config['dimensions'])}, "
                f"this run enables {list(self.dimensions)}"
            )
        if int(config["hidden"]) != self.hidden:
            raise ValueError(f"checkpoint net has hidden={config['hidden']}, this run hidden={self.hidden}")
        self.prior = dict(zip(self.dimensions, (float(p) for p in config["prior"]), strict=True))
        self.kl_coef = float(config["kl_coef"])
        self.correctness_floor = float(config["correctness_floor"])
        self.floor_penalty = float(config["floor_penalty"])
        self.temperature = float(config["temperature"])
        self.lr = float(config["lr"])
        self.momentum = float(config["momentum"])
        self.seed = int(config["seed"])
        self.net.temperature = self.temperature
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self._weights = [float(w) for w in state["weights"]]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write `state_dict` with torch.save, atomically (a crash never leaves half a checkpoint)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, path)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore from a file written by `save`."""
        self.load_state_dict(torch.load(Path(path), map_location="cpu", weights_only=True))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> WeightController:
        """A controller rebuilt entirely from a checkpoint (no need to repeat its configuration)."""
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
        config = dict(state["config"])
        dims = config.pop("dimensions")
        prior = dict(zip(dims, config.pop("prior"), strict=True))
        controller = cls(prior, **config)
        controller.load_state_dict(state)
        return controller
