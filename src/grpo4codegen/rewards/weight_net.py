"""Learned reward weights: each quality dimension's prior weight discounted by its measured reliability.

Why not "more within-group variance, more weight" (this module's first version): under GRPO's
group normalisation a dimension that is constant within a group already drops out of that group's
advantages, so saturated dimensions dilute nothing; and the dimension with the most within-group
variance is often the noisiest (timing) or the most gameable. Weighting by variance amplifies noise.

What matters under group normalisation is which part of a dimension's within-group spread is signal
(it differs because the code differs) and which part is measurement noise (it would differ on a re-run
of the same code). A noisy dimension adds advantage that no change of the policy can earn: gradient
noise. The classical answer is Kelley's true-score estimate from classical test theory (Kelley, 1947;
the same shrinkage as a Wiener filter or empirical Bayes): the best linear estimate of a measurement's
noise-free deviation from its mean is the observed deviation times the reliability
``rho = 1 - noise variance / total variance``. GRPO only sees deviations from the group mean, so the
advantage that best estimates the user's intended reward ``sum_d p_d * signal_d`` is the weighted sum
with weights ``w_d = p_d * rho_d``, where ``p`` are the fixed weights (the prior) and ``rho_d`` is
estimated inside groups:

* noise variance: the spread of a dimension over repeated completions of the same code in the same
  group (GRPO samples duplicates often), pooled over the batch: ``sum (x - mean_dup)^2 / sum (n_dup - 1)``,
  with `prior_pairs` pseudo-pairs of zero noise so a handful of repeats cannot swing a weight;
* total variance: the pooled within-group variance ``sum (x - mean_group)^2 / sum (n_group - 1)``;
* both as exponential moving averages over steps (`decay`).

Guarantees, by construction: a weight never exceeds its prior (``0 <= rho <= 1``), so pure noise (values
uncorrelated with the code) never gains weight, and loses it as soon as repeats expose it; correctness is
the verifier (reliability 1 by definition): its weight never moves, so the correctness rule of
`aggregate.gate_quality` holds (the correctness floor is the prior itself); a dimension constant within
every group keeps its prior weight and, contributing nothing within groups, leaves the advantages
unchanged; other dimensions' weights never depend on it. The weights are not renormalised: with TRL's
``scale_rewards`` "group" or "batch" (the default) only their ratios matter; with "none" a noisier
reward gives proportionally smaller steps, which is what an estimate of lower reliability should do.

Our own dimensions are deterministic per code within a run (executions are cached by code, the static
comment and maintainability scores are pure functions, judge answers are cached), so with them the
weights stay at the prior unless a dimension disagrees with itself on repeated code (a sampled judge
behind a cache miss, a remote scorer without cache). GDPO (Liu et al., 2026, arXiv 2601.05242)
reports that reweighting alone does not make GRPO respect a harder reward; the `normalize_then_sum`
aggregation is its decoupled normalisation.

`WeightController.update` returns the weights and keeps, in ``last_metrics``, its inputs and outputs
(reliability, noise and within-group variance, repeat count per dimension) for the step's log.
"""

from __future__ import annotations

import math
import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

from grpo4codegen.rewards.aggregate import parse_fixed_weights

#: a prior weight of 0 stays 0; weights are validated by `aggregate.parse_fixed_weights` upstream
STATE_VERSION = 2
#: the verifier: never discounted
ANCHOR = "correctness"


def _pooled(values: Sequence[float | None], keys: Sequence[Hashable | None]) -> tuple[float, float]:
    """(sum of squared deviations from each key's mean, degrees of freedom) over keys seen twice or more."""
    by_key: dict[Hashable, list[float]] = {}
    for x, k in zip(values, keys, strict=True):
        if x is not None and k is not None:
            by_key.setdefault(k, []).append(float(x))
    ss = df = 0.0
    for xs in by_key.values():
        if len(xs) > 1:
            m = math.fsum(xs) / len(xs)
            ss += math.fsum((x - m) ** 2 for x in xs)
            df += len(xs) - 1
    return ss, df


class WeightController:
    """Owns the reliability estimates; one `update` per GRPO step yields the new weights."""

    def __init__(self, prior: Mapping[str, float], *, decay: float = 0.9, prior_pairs: float = 8.0) -> None:
        if not prior:
            raise ValueError("the weight controller needs at least one dimension")
        if not 0.0 <= decay < 1.0 or prior_pairs < 0:
            raise ValueError("need 0 <= decay < 1 and prior_pairs >= 0")
        checked = parse_fixed_weights(dict(prior), list(prior))  # the one weight validation
        self.dimensions: tuple[str, ...] = tuple(checked)
        self.prior: dict[str, float] = checked
        self.decay = float(decay)
        self.prior_pairs = float(prior_pairs)
        self.step = 0
        #: per dimension: EMA of [noise ss, noise df, group ss, group df]
        self.stats: dict[str, list[float]] = {d: [0.0, 0.0, 0.0, 0.0] for d in self.dimensions}
        self._weights = dict(self.prior)
        self.last_metrics: dict[str, float] = {}

    @property
    def weights(self) -> dict[str, float]:
        """The weights from the last update (the prior before the first one)."""
        return dict(self._weights)

    @property
    def floor(self) -> float | None:
        """Correctness never loses weight: its floor is its prior (None when it is not a dimension)."""
        return self.prior.get(ANCHOR)

    def reliability(self, dim: str) -> float:
        """Estimated share of the dimension's within-group variance that is signal, in [0, 1]."""
        if dim == ANCHOR:
            return 1.0
        noise_ss, noise_df, group_ss, group_df = self.stats[dim]
        if group_df <= 0 or group_ss <= 0:
            return 1.0  # no within-group spread: the weight changes no advantage; keep the prior
        noise_var = noise_ss / (noise_df + self.prior_pairs) if noise_df + self.prior_pairs > 0 else 0.0
        group_var = group_ss / group_df
        return min(1.0, max(0.0, 1.0 - noise_var / group_var))

    def update(
        self,
        scores: Mapping[str, Sequence[float | None]],
        group_ids: Sequence[Hashable] | None,
        keys: Sequence[Hashable | None] | None = None,
    ) -> dict[str, float]:
        """Fold this batch into the estimates and return the new weights.

        `keys` identify the code of each completion (e.g. the extracted code): completions with the
        same key in the same group are repeats, whose disagreement is measurement noise. Without keys
        nothing can be learned about noise and the weights stay where the evidence left them.
        """
        missing = [d for d in self.dimensions if d not in scores]
        if missing:
            raise ValueError(f"no scores for dimension(s) {missing}")
        n = len(scores[self.dimensions[0]])
        groups = list(group_ids) if group_ids is not None else [0] * n
        if len(groups) != n or (keys is not None and len(keys) != n):
            raise ValueError("scores, group ids and keys must have one entry per completion")
        repeat_keys = (
            [None if k is None else (g, k) for g, k in zip(groups, keys, strict=True)]
            if keys is not None
            else [None] * n
        )
        metrics: dict[str, float] = {}
        for d in self.dimensions:
            values = [None if v is None or not math.isfinite(float(v)) else float(v) for v in scores[d]]
            batch = (*_pooled(values, repeat_keys), *_pooled(values, groups))
            self.stats[d] = [self.decay * old + new for old, new in zip(self.stats[d], batch, strict=True)]
            noise_ss, noise_df, group_ss, group_df = self.stats[d]
            metrics[f"{d}/repeats"] = batch[1]
            metrics[f"{d}/noise_var"] = (
                noise_ss / (noise_df + self.prior_pairs) if noise_df + self.prior_pairs else 0.0
            )
            metrics[f"{d}/group_var"] = group_ss / group_df if group_df else 0.0
            metrics[f"{d}/reliability"] = self.reliability(d)
        self._weights = {d: self.prior[d] * self.reliability(d) for d in self.dimensions}
        for d, w in self._weights.items():
            metrics[f"{d}/weight"] = w
        self.step += 1
        self.last_metrics = metrics
        return self.weights

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue identically (plain Python values)."""
        return {
            "version": STATE_VERSION,
            "config": {
                "dimensions": list(self.dimensions),
                "prior": [self.prior[d] for d in self.dimensions],
                "decay": self.decay,
                "prior_pairs": self.prior_pairs,
            },
            "stats": {d: list(v) for d, v in self.stats.items()},
            "step": self.step,
            "weights": [self._weights[d] for d in self.dimensions],
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
        self.prior = dict(zip(self.dimensions, (float(p) for p in config["prior"]), strict=True))
        self.decay = float(config["decay"])
        self.prior_pairs = float(config["prior_pairs"])
        self.stats = {d: [float(x) for x in state["stats"][d]] for d in self.dimensions}
        self.step = int(state["step"])
        self._weights = dict(zip(self.dimensions, (float(w) for w in state["weights"]), strict=True))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write `state_dict` with torch.save, atomically (a crash never leaves half a checkpoint)."""
        import torch

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, path)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore from a file written by `save`."""
        import torch

        self.load_state_dict(torch.load(Path(path), map_location="cpu", weights_only=True))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> WeightController:
        """A controller rebuilt entirely from a checkpoint (no need to repeat its configuration)."""
        import torch

        state = torch.load(Path(path), map_location="cpu", weights_only=True)
        config = dict(state["config"])
        prior = dict(zip(config["dimensions"], config["prior"], strict=True))
        controller = cls(prior, decay=config["decay"], prior_pairs=config["prior_pairs"])
        controller.load_state_dict(state)
        return controller
