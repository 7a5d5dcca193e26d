"""Every reward dimension for a batch of completions, computed once, in one place.

The TRL reward functions, the `rewards` command and the evaluation scorer all call `RewardScorer`:
code extraction, one sandboxed execution per distinct (problem, code), the static scores, the
optional judge, the correctness rule (`aggregate.gate_quality`: efficiency, comment and
maintainability count only for code that passes every test), and aggregation. An infrastructure
failure (executor or server down) makes every dimension of that completion None, never 0.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..data.problems import Problem
from ..errors import UserError
from ..sandbox.types import Limits
from ..server.runners import make_runner
from .aggregate import aggregate, constant_fallback, gate_quality
from .comments import comment_score
from .config import RewardConfig
from .execution import ExecutionRewards, ExecutionScore, Runner
from .extract import extract_code
from .judge import CommentJudge, blend_comment_scores
from .maintainability import maintainability_score

log = logging.getLogger(__name__)


@dataclass
class CompletionScore:
    """One completion's scores: every dimension (None where it could not be computed) and the reward."""

    task_id: str
    code: str | None
    dimensions: dict[str, float | None]
    reward: float | None = None
    execution: ExecutionScore | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def infra_failure(self) -> bool:
        return self.execution is not None and self.execution.infra_failure

    def to_row(self) -> dict[str, Any]:
        result = self.execution.result if self.execution else None
        row: dict[str, Any] = {"task_id": self.task_id, **self.dimensions, "reward": self.reward}
        row["infra_failure"] = self.infra_failure
        row["efficiency_ratios"] = self.execution.ratios if self.execution else {}
        if result is not None:
            row["passed"], row["total"] = result.passed, result.total
            row["outcomes"] = _outcome_counts(result.tests)
            row["infra_error"] = result.infra_error
        row.update(self.extras)
        return row


def _outcome_counts(tests: list) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in tests:
        counts[t.exec_outcome.value] = counts.get(t.exec_outcome.value, 0) + 1
    return counts


class RewardScorer:
    """Scores completions against problems. Thread-compatible; one per training process."""

    def __init__(
        self,
        problems: Sequence[Problem] | Mapping[str, Problem],
        config: RewardConfig,
        runner: Runner | None = None,
    ):
        self.problems = dict(problems) if isinstance(problems, Mapping) else {p.task_id: p for p in problems}
        self.config = config
        if runner is None:
            runner, self._owns_runner = make_runner(config)
        else:
            self._owns_runner = False
        self.runner = runner
        base = Limits(
            time_s=config.time_limit_s,
            total_time_s=config.total_time_limit_s,
            memory_mb=config.memory_limit_mb,
        )
        self.execution = ExecutionRewards(
            self.runner,
            base_limits=base,
            reference_repeats=config.reference_repeats,
            cache_size=config.execution_cache_size,
            profiles_path=config.profiles_path,
            trace_claims=config.trace_claims,
            retimes=config.efficiency_retimes,
        )
        self.judge = (
            CommentJudge(config.judge) if config.judge and "comment" in config.reward_dimensions else None
        )
        self.last_seconds = 0.0

    def close(self) -> None:
        """Close what this scorer opened (an HTTP client; the shared embedded executor stays)."""
        if self._owns_runner and hasattr(self.runner, "close"):
            self.runner.close()
        if self.judge is not None:
            self.judge.close()

    def problem(self, task_id: str) -> Problem:
        try:
            return self.problems[task_id]
        except KeyError:
            raise UserError(f"unknown task_id {task_id!r}: not in the loaded problems") from None

    def dimension_scores(self, task_ids: Sequence[str], completions: Sequence[Any]) -> list[CompletionScore]:
        """Every enabled dimension for every completion (not aggregated)."""
        started = time.perf_counter()
        dims = self.config.reward_dimensions
        problems = [self.problem(t) for t in task_ids]
        codes = [extract_code(c, p.entry_point) for c, p in zip(completions, problems, strict=True)]
        needs_run = bool({"correctness", "efficiency", "comment", "maintainability"} & set(dims))
        executions = self.execution.score(problems, codes) if needs_run else [None] * len(codes)
        # only code that passes every test can earn a comment score: the judge reads nothing else
        passing = [ex is None or ex.correctness_strict == 1.0 for ex in executions]
        comments = (
            self._comment_scores([c if ok else None for c, ok in zip(codes, passing, strict=True)])
            if "comment" in dims
            else None
        )
        scores = []
        for i, (task_id, code, ex) in enumerate(zip(task_ids, codes, executions, strict=True)):
            values: dict[str, float | None] = {}
            # None: infrastructure failure, every dimension unknown (never the candidate's fault)
            failed = ex is not None and ex.correctness is None
            if "correctness" in dims:
                values["correctness"] = ex.correctness if ex else None
                values["correctness_strict"] = ex.correctness_strict if ex else None
            if "efficiency" in dims:
                values["efficiency"] = ex.efficiency if ex else None
            if "comment" in dims:
                values["comment"] = None if failed else (comments[i] if code else 0.0)  # type: ignore[index]
            if "maintainability" in dims:
                values["maintainability"] = None if failed else (maintainability_score(code) if code else 0.0)
            all_passed = None if failed or ex is None else ex.correctness_strict == 1.0
            scores.append(CompletionScore(task_id, code, gate_quality(values, all_passed), execution=ex))
        self.last_seconds = time.perf_counter() - started
        return scores

    def _comment_scores(self, codes: Sequence[str | None]) -> list[float]:
        """Static comment scores, lowered by the judge where one is configured.

        The judge's ``reward_scores`` are 0 where the program itself kept the judge from scoring it
        (no usable answer, input rejected) and None only where the judge failed on its own.
        """
        static = [comment_score(c) if c else 0.0 for c in codes]
        if self.judge is None:
            return static
        asked = [i for i, c in enumerate(codes) if c and static[i] > 0]  # the judge can only lower
        judged: list[float | None] = [None] * len(codes)
        for i, score in zip(asked, self.judge.reward_scores([codes[i] for i in asked]), strict=True):  # type: ignore[misc]
            judged[i] = score
        return blend_comment_scores(static, judged, self.config.judge_weight)

    def score(
        self,
        task_ids: Sequence[str],
        completions: Sequence[Any],
        group_ids: Sequence[Any] | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> list[CompletionScore]:
        """Dimension scores plus the aggregated reward (fixed weights unless `weights` is given)."""
        scores = self.dimension_scores(task_ids, completions)
        dims = list(self.config.reward_dimensions)
        if not dims:
            for s, value in zip(scores, constant_fallback(len(scores)), strict=True):
                s.reward = value
            return scores
        table = {d: [s.dimensions[d] for s in scores] for d in dims}
        rewards = aggregate(
            table,
            weights or self.config.weights(),
            group_ids=group_ids or list(task_ids),
            mode=self.config.aggregation,
        )
        for s, r in zip(scores, rewards, strict=True):
            s.reward = r
        return scores
