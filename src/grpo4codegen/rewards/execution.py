"""Correctness and efficiency from one execution per (problem, code), shared and cached.

Correctness is the APPS "test case average" (fraction of tests passed) with a strict variant.
Efficiency compares the candidate with the problem's reference solution, measured by the same
executor (cached per problem), on the tests both pass, per metric as in EffiBench-X:
`min(1, (reference + eps) / (candidate + eps))` over summed costs, where `eps` (a small per-test
allowance) keeps micro-second noise from deciding the ratio. Metrics: the calling thread's CPU time
(steadier than wall time under load; within a 10% band of the reference counts as equal), tracemalloc peak,
deterministic steps, and hardware instructions where counters exist. The combined ratio is scaled by
the pass rate, so failing code never outscores passing code.

Memory and steps need a second, traced run of a test (tracemalloc is slow); only up to `traced_tests`
tests per problem get it: the heaviest tests that together fit in 15% of the reference's total cost,
measured in its `steps` (`traced_tests_for`; deterministic, so repeated scorings compare the same
tests, and cost-aware, so tracing stays cheap where time grows faster than input size). Time covers
every test.
"""

from __future__ import annotations

import json
import logging
import statistics
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ..data.problems import Problem
from ..sandbox.executor import Submission
from ..sandbox.types import ExecutionResult, Limits, TestResult

log = logging.getLogger(__name__)

#: per-test allowance added to both sides of a ratio, so tiny workloads compare as equal
METRIC_EPSILON = {"time": 50e-6, "memory": 1024.0, "steps": 1.0, "instructions": 10_000.0}
#: weights of the metric ratios in the efficiency score (renormalised over the metrics available)
METRIC_WEIGHTS = {"time": 0.3, "memory": 0.3, "steps": 0.4, "instructions": 0.2}
#: share of the reference's total steps that a problem's traced (memory/steps) tests may take
TRACE_SHARE = 0.15
#: time ratios within this band of the reference count as equal: repeated runs of one solution vary that much
TIME_NOISE_BAND = 0.10
_FIELDS = {
    "time": "cpu_time",
    "memory": "tracemalloc_peak",
    "steps": "steps",
    "instructions": "cpu_instruction_count",
}


class Runner(Protocol):
    """The embedded Executor or the HTTP client: anything that runs submissions in order."""

    def run_many(self, submissions: Sequence[Submission]) -> list[ExecutionResult]: ...


@dataclass
class ReferenceProfile:
    """Per-test costs of the reference solution (median over repeats) and the limits derived from them."""

    passed: list[bool]
    costs: dict[str, list[float | None]]
    limits: Limits
    error: str | None = None


@dataclass
class ExecutionScore:
    """What one execution says about a candidate: both correctness variants, efficiency and its parts."""

    result: ExecutionResult | None
    correctness: float | None
    correctness_strict: float | None
    efficiency: float | None
    ratios: dict[str, float] = field(default_factory=dict)

    @property
    def infra_failure(self) -> bool:
        return self.result is not None and not self.result.ok


class ExecutionRewards:
    """Runs completions (deduplicated and cached), profiles references, and scores both dimensions."""

    def __init__(
        self,
        runner: Runner,
        base_limits: Limits | None = None,
        reference_repeats: int = 3,
        time_factor: float = 5.0,
        traced_tests: int = 8,
        cache_size: int = 20_000,
    ) -> None:
        self.runner = runner
        self.base_limits = base_limits or Limits(time_s=1.0, total_time_s=20.0)
        self.reference_repeats = reference_repeats
        self.time_factor = time_factor
        self.traced_tests = traced_tests
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], ExecutionResult] = OrderedDict()
        self._profiles: dict[str, ReferenceProfile] = {}
        self._lock = threading.Lock()
        self.infra_failures = 0

    # -- references ----------------------------------------------------------------------------
    def profiles(self, problems: Sequence[Problem]) -> list[ReferenceProfile]:
        """Reference profiles, measuring the problems not yet seen (all at once, in parallel).

        Two phases: `reference_repeats` time-only runs (median per test), then one traced run on the
        tests that candidates will be traced on (memory and steps are deterministic: one run is enough).
        """
        missing = list({p.task_id: p for p in problems if p.task_id not in self._profiles}.values())
        if missing:
            generous = Limits(
                time_s=30.0, total_time_s=900.0, memory_mb=2048, metrics=("time", "instructions")
            )
            repeats = self.reference_repeats
            # the first repeat also counts steps on every test: the deterministic cost that picks the traced tests
            counted = replace(generous, metrics=("time", "instructions", "steps"))
            timed = self.runner.run_many(
                [
                    Submission(p, p.reference_solution, counted if k == 0 else generous)
                    for p in missing
                    for k in range(repeats)
                ]
            )
            runs = {p.task_id: timed[k * repeats : (k + 1) * repeats] for k, p in enumerate(missing)}
            chosen = {p.task_id: traced_tests_for(p, runs[p.task_id][0], self.traced_tests) for p in missing}
            traced = self.runner.run_many(
                [
                    Submission(
                        p,
                        p.reference_solution,
                        replace(
                            generous, metrics=("time", "memory", "steps"), traced_tests=chosen[p.task_id]
                        ),
                    )
                    for p in missing
                ]
            )
            for problem, traced_run in zip(missing, traced, strict=True):
                self._profiles[problem.task_id] = self._profile(
                    problem, runs[problem.task_id], traced_run, chosen[problem.task_id]
                )
        return [self._profiles[p.task_id] for p in problems]

    def _profile(
        self, problem: Problem, runs: list[ExecutionResult], traced: ExecutionResult, chosen: tuple[int, ...]
    ) -> ReferenceProfile:
        failed = [r.infra_error for r in (*runs, traced) if not r.ok]
        if failed or not problem.reference_solution:
            error = failed[0] if failed else "problem has no reference solution"
            return ReferenceProfile([], {}, self.base_limits, error)
        n = len(problem.tests)
        passed = [all(r.tests[i].passed for r in (*runs, traced)) for i in range(n)]
        costs: dict[str, list[float | None]] = {}
        for metric, name in _FIELDS.items():
            source = [traced] if metric in ("memory", "steps") else runs
            values = []
            for i in range(n):
                samples = [getattr(r.tests[i], name) for r in source]
                values.append(None if any(s is None for s in samples) else statistics.median(samples))
            costs[metric] = values
        times = [t for t in costs["time"] if t is not None] or [0.0]
        limits = Limits(
            time_s=max(self.base_limits.time_s, self.time_factor * max(times)),
            total_time_s=max(self.base_limits.total_time_s, self.time_factor * sum(times)),
            memory_mb=self.base_limits.memory_mb,
            metrics=("time", "memory", "steps", "instructions"),
            traced_tests=chosen,
        )
        if not all(passed):
            log.warning("reference of %s fails %d of %d tests", problem.task_id, n - sum(passed), n)
        return ReferenceProfile(passed, costs, limits)

    # -- candidates ----------------------------------------------------------------------------
    def execute(
        self, problems: Sequence[Problem], codes: Sequence[str | None]
    ) -> list[ExecutionResult | None]:
        """One result per (problem, code); None where there is no code. Cached, deduplicated, parallel."""
        profiles = self.profiles(problems)
        keys = [(p.task_id, c) if c is not None else None for p, c in zip(problems, codes, strict=True)]
        todo: dict[tuple[str, str], Submission] = {}
        with self._lock:
            for key, problem, profile in zip(keys, problems, profiles, strict=True):
                if key is not None and key not in self._cache and key not in todo:
                    todo[key] = Submission(problem, key[1], profile.limits)
        if todo:
            results = self.runner.run_many(list(todo.values()))
            with self._lock:
                for key, result in zip(todo, results, strict=True):
                    if result.ok:  # an infrastructure failure is not cached: a retry may succeed
                        self._cache[key] = result
                    else:
                        self.infra_failures += 1
                        log.warning("execution failed for %s: %s", key[0], result.infra_error)
                    todo[key] = result  # type: ignore[assignment]
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        out: list[ExecutionResult | None] = []
        with self._lock:
            for key in keys:
                if key is None:
                    out.append(None)
                else:
                    out.append(self._cache.get(key) or todo[key])  # type: ignore[arg-type]
        return out

    def score(self, problems: Sequence[Problem], codes: Sequence[str | None]) -> list[ExecutionScore]:
        results = self.execute(problems, codes)
        profiles = self.profiles(problems)
        return [_score(r, p) for r, p in zip(results, profiles, strict=True)]


def traced_tests_for(
    problem: Problem, reference: ExecutionResult | None = None, most: int = 8
) -> tuple[int, ...]:
    """The tests candidates get traced on, chosen by the reference's steps (a deterministic cost, so
    every scoring picks the same tests); by input size where the reference run has no steps."""
    steps = [t.steps for t in reference.tests] if reference is not None and reference.ok else []
    if len(steps) == len(problem.tests) and all(s is not None for s in steps):
        costs = [float(s) for s in steps]  # type: ignore[arg-type]
    else:
        costs = [float(len(json.dumps([a.value for a in t.args]))) for t in problem.tests]
    return tuple(select_traced_tests(costs, most))


def select_traced_tests(times: Sequence[float], most: int = 8, share: float = TRACE_SHARE) -> list[int]:
    """Tests that get the traced (memory/steps) run: the heaviest that fit in `share` of the total cost.

    `times` is any per-test cost; the reward layer passes the reference's steps, which are deterministic.

    Tracing slows allocation-heavy code several times over, so tracing the very heaviest tests would
    cost about as much as tracing all of them; tests near the budget still show complexity differences.
    """
    budget = share * sum(times)
    chosen: list[int] = []
    spent = 0.0
    for i in sorted(range(len(times)), key=lambda i: times[i], reverse=True):
        if len(chosen) == most:
            break
        if spent + times[i] <= budget:
            chosen.append(i)
            spent += times[i]
    if not chosen and times:
        chosen = [min(range(len(times)), key=lambda i: times[i])]
    return sorted(chosen)


def _score(result: ExecutionResult | None, profile: ReferenceProfile) -> ExecutionScore:
    if result is None:  # no code could be extracted: the candidate's failure
        return ExecutionScore(None, 0.0, 0.0, 0.0)
    if not result.ok or result.total == 0:
        return ExecutionScore(result, None, None, None)
    correctness = result.pass_rate
    if profile.error is not None:  # correctness needs no reference; efficiency does
        return ExecutionScore(result, correctness, float(result.all_passed), None)
    ratios = efficiency_ratios(result.tests, profile)
    weights = {m: METRIC_WEIGHTS[m] for m in ratios}
    raw = sum(ratios[m] * w for m, w in weights.items()) / sum(weights.values()) if weights else 0.0
    return ExecutionScore(result, correctness, float(result.all_passed), raw * correctness, ratios)


def efficiency_ratios(tests: list[TestResult], profile: ReferenceProfile) -> dict[str, float]:
    """Per-metric min(1, reference/candidate) over the tests both the candidate and the reference pass."""
    common = [i for i, t in enumerate(tests) if t.passed and i < len(profile.passed) and profile.passed[i]]
    if not common:
        return {}
    ratios: dict[str, float] = {}
    for metric, name in _FIELDS.items():
        # tests where both sides measured this metric (memory/steps: the traced tests only)
        pairs = [(profile.costs[metric][i], getattr(tests[i], name)) for i in common]
        pairs = [(r, c) for r, c in pairs if r is not None and c is not None]
        if not pairs:
            continue  # metric not measured (e.g. no hardware counters): left out, not faked
        ref, cand = [r for r, _ in pairs], [c for _, c in pairs]
        eps = METRIC_EPSILON[metric] * len(pairs)
        ratio = (sum(ref) + eps) / (sum(cand) + eps)  # type: ignore[arg-type]
        if metric == "time":
            ratio /= 1.0 - TIME_NOISE_BAND
        ratios[metric] = min(1.0, ratio)
    return ratios


def summarise(scores: Sequence[ExecutionScore]) -> dict[str, Any]:
    """Outcome counts over a batch, for logging."""
    counts: dict[str, int] = {}
    for s in scores:
        if s.result is not None:
            for t in s.result.tests:
                counts[t.exec_outcome.value] = counts.get(t.exec_outcome.value, 0) + 1
    return counts
