"""TRL reward functions: one per dimension, all fed by one scoring pass per batch.

TRL calls each reward function in turn with the same batch; the first call scores every dimension
(`RewardScorer`), the others read the cached columns. TRL logs each function as `rewards/<dim>/mean`;
executor outcome counts, infrastructure failures, the strict pass rate, the aggregation weights and
the reward time as a share of wall time go through TRL's `log_metric`. With `--use_weight_net`,
the `WeightController` updates the trainer's `reward_weights` in place before TRL aggregates, from
statistics gathered over all processes, so every rank applies identical weights.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..data.problems import Problem
from .aggregate import constant_fallback
from .execution import summarise
from .extract import completion_text
from .scorer import CompletionScore, RewardConfig, RewardScorer

log = logging.getLogger(__name__)
WEIGHT_NET_FILE = "reward_weight_net.pt"


class TrlRewardAdapter:
    """Holds the scorer, the per-batch cache and (optionally) the weight controller."""

    def __init__(
        self, scorer: RewardScorer, use_weight_net: bool = False, weight_net_options: dict | None = None
    ):
        self.scorer = scorer
        self.dims = list(scorer.config.reward_dimensions)
        self.fixed = scorer.config.weights() if self.dims else {}
        self.controller = None
        if use_weight_net and self.dims:
            from .weight_net import WeightController

            self.controller = WeightController(self.fixed, **(weight_net_options or {}))
        self.trainer: Any = None
        self._key: str | None = None
        self._scores: list[CompletionScore] = []
        self._last_call: float | None = None
        self.infra_failures = 0
        self._retimed_logged = 0

    # -- wiring -----------------------------------------------------------------------------------
    def reward_funcs(self) -> list[Callable[..., list[float | None]]]:
        if not self.dims:
            return [_constant_reward]
        return [self._make(dim) for dim in self.dims]

    def reward_weights(self) -> list[float] | None:
        return [self.current_weights()[d] for d in self.dims] if self.dims else None

    def current_weights(self) -> dict[str, float]:
        return dict(self.controller.weights) if self.controller else dict(self.fixed)

    def attach(self, trainer: Any) -> None:
        """Give the adapter the trainer whose `reward_weights` the weight net updates."""
        self.trainer = trainer
        self._push_weights()

    def _make(self, dim: str) -> Callable[..., list[float | None]]:
        def reward(prompts: list, completions: list, task_id: list[str], **kwargs: Any) -> list[float | None]:
            scores = self._batch(prompts, completions, task_id, kwargs.get("log_metric"))
            return [s.dimensions.get(dim) for s in scores]

        reward.__name__ = dim
        reward.__qualname__ = dim
        return reward

    # -- one scoring pass per batch ---------------------------------------------------------------
    def _batch(
        self, prompts: list, completions: list, task_ids: list[str], log_metric: Callable | None
    ) -> list[CompletionScore]:
        key = _batch_key(completions, task_ids)
        if key == self._key:
            return self._scores
        now = time.perf_counter()
        scores = self.scorer.dimension_scores(task_ids, completions)
        reward_seconds = time.perf_counter() - now
        self._key, self._scores = key, scores
        failures = sum(s.infra_failure for s in scores)
        self.infra_failures += failures
        if failures:
            log.warning(
                "%d of %d completions could not be scored (infrastructure failure)", failures, len(scores)
            )
        training = self.trainer is None or getattr(self.trainer.model, "training", True)
        if self.controller is not None and training:  # evaluation batches never move the weights
            self._update_weights(scores, task_ids)
        if log_metric is not None:
            self._log(scores, failures, reward_seconds, now, log_metric)
        self._last_call = now
        return scores

    def _update_weights(self, scores: list[CompletionScore], task_ids: list[str]) -> None:
        table = {d: [s.dimensions.get(d) for s in scores] for d in self.dims}
        groups = list(task_ids)
        keys = [s.code for s in scores]  # repeats of the same code in a group expose measurement noise
        table, groups, keys = _gather(table, groups, keys)
        self.controller.update(table, groups, keys)  # type: ignore[union-attr]
        self._push_weights()

    def _push_weights(self) -> None:
        if self.trainer is None or not self.dims:
            return
        import torch

        weights = self.current_weights()
        self.trainer.reward_weights = torch.tensor([weights[d] for d in self.dims], dtype=torch.float32)

    def _log(
        self, scores: list[CompletionScore], failures: int, seconds: float, now: float, log_metric: Callable
    ) -> None:
        for outcome, count in summarise([s.execution for s in scores if s.execution]).items():
            log_metric(f"exec/{outcome}", float(count))
        log_metric("exec/infra_failures", float(failures))
        retimed = self.scorer.execution.retimed
        log_metric("exec/retimed", float(retimed - self._retimed_logged))  # extra timed runs this batch
        self._retimed_logged = retimed
        strict = [s.dimensions.get("correctness_strict") for s in scores]
        strict = [v for v in strict if v is not None]
        if strict:
            log_metric("correctness_strict", sum(strict) / len(strict))
        log_metric("reward_seconds", seconds)
        if self._last_call is not None and now > self._last_call:
            log_metric("reward_time_share", min(1.0, seconds / (now - self._last_call + seconds)))
        for dim, weight in self.current_weights().items():
            log_metric(f"weights/{dim}", weight)
        if self.controller is not None:  # the weight net's inputs and outputs of this step
            for name, value in self.controller.last_metrics.items():
                log_metric(f"weight_net/{name}", value)

    # -- checkpoints ------------------------------------------------------------------------------
    def save(self, checkpoint_dir: str) -> None:
        if self.controller is not None:
            self.controller.save(os.path.join(checkpoint_dir, WEIGHT_NET_FILE))

    def load(self, checkpoint_dir: str) -> None:
        path = os.path.join(checkpoint_dir, WEIGHT_NET_FILE)
        if self.controller is not None:
            if not os.path.exists(path):
                raise FileNotFoundError(f"{path}: checkpoint has no RewardWeightNet state")
            self.controller.load(path)
            self._push_weights()


def _constant_reward(prompts: list, completions: list, **kwargs: Any) -> list[float]:
    return constant_fallback(len(completions))


def _batch_key(completions: Sequence[Any], task_ids: Sequence[str]) -> str:
    h = hashlib.sha1()
    for c, t in zip(completions, task_ids, strict=True):
        h.update(t.encode())
        h.update(b"\0")
        # surrogatepass: a lone surrogate (a tokenizer's broken decode) must not crash the training step
        h.update(completion_text(c).encode("utf-8", "surrogatepass"))
        h.update(b"\1")
    return h.hexdigest()


def _gather(table: dict[str, list], groups: list, keys: list) -> tuple[dict[str, list], list, list]:
    """All processes' scores (same order on every rank), so the weight update is identical everywhere."""
    try:
        from accelerate import PartialState
        from accelerate.utils import gather_object
    except ImportError:
        return table, groups, keys
    if PartialState().num_processes <= 1:
        return table, groups, keys
    rows = gather_object(
        [(g, k, {d: table[d][i] for d in table}) for i, (g, k) in enumerate(zip(groups, keys, strict=True))]
    )
    return {d: [r[2][d] for r in rows] for d in table}, [r[0] for r in rows], [r[1] for r in rows]


def make_callback(adapter: TrlRewardAdapter):
    """A TrainerCallback that saves the weight-net state with every checkpoint (main process only)."""
    from transformers import TrainerCallback

    class RewardWeightCallback(TrainerCallback):
        def __init__(self) -> None:
            self.adapter = adapter

        def attach(self, trainer: Any) -> None:
            adapter.attach(trainer)

        def on_save(self, args, state, control, **kwargs):  # noqa: ANN001
            if state.is_world_process_zero:
                adapter.save(os.path.join(args.output_dir, f"checkpoint-{state.global_step}"))
            return control

    return RewardWeightCallback()


def reward_config_from(options: Any) -> tuple[RewardConfig, bool]:
    """The RewardConfig (and its weight-net switch); `train` parses the same type, so no conversion."""
    if not isinstance(options, RewardConfig):
        raise TypeError(f"expected a RewardConfig, got {type(options).__name__}")
    return options, options.use_weight_net


def build_reward_funcs(
    problems: Sequence[Problem],
    reward_options: Any,
    use_weight_net: bool | None = None,
    weight_net_options: dict | None = None,
    runner: Any = None,
) -> tuple[list[Callable], list[float] | None, list[Any]]:
    """Reward functions for GRPOTrainer, their weights (GRPOConfig.reward_weights), and callbacks.

    `reward_options` is the RewardConfig (`train` parses it as its reward options). Call `callback.attach(trainer)`
    on each returned callback once the trainer exists, and `callback.adapter.load(checkpoint_dir)`
    before resuming.
    """
    config, weight_net = reward_config_from(reward_options)
    weight_net = weight_net if use_weight_net is None else use_weight_net
    options = config.weight_net_options() | (weight_net_options or {})
    adapter = TrlRewardAdapter(RewardScorer(problems, config, runner), weight_net, options)
    return adapter.reward_funcs(), adapter.reward_weights(), [make_callback(adapter)]
