"""Correctness and efficiency from one execution per (problem, code), shared and cached.

Correctness is the APPS "test case average" (fraction of tests passed) with a strict variant.

Efficiency compares a candidate that passes every test with the problem's reference solution,
measured by the same executor (cached per problem, or precomputed: `profiles.py`), on the whole test
set. It trusts only figures measured outside the candidate's process, by the sandbox worker from the
kernel (`ExecutionResult.cpu_time_kernel`, `peak_memory_kernel`; anything the candidate's own process
reports can be forged):

    trusted = sum_m w_m * min(1, band_m * (ref_m + eps_m) / (cand_m + eps_m)) ** EXPONENT

over m in (kernel CPU time, kernel peak memory) where measured; `band_m` (1 / (1 - noise band))
makes repeated runs of the same code count as equal, `eps_m` keeps tiny workloads from deciding the
ratio, and the square root (EXPONENT) turns a 4x slower solution into 0.5 and halves the effect of
timing noise on the score. The per-test figures the candidate's process reports (steps,
tracemalloc peaks) are claims the candidate can forge or withhold: they are reported in the ratios
(`claimed_*`) and never scored (as a one-sided `min(trusted, claimed)` they still made the score
depend on whether the claims arrived, which the candidate and the machine's load decide). Every
figure is validated first (a real, finite, non-negative number); an invalid one is dropped, never
turned into 1.0 or an exception. Without a trusted figure (an executor that measures
none, or no usable reference) efficiency is None: not measured, never the candidate's fault.

A passing candidate whose first run lands outside the noise band is timed `retimes` more times and
keeps its lowest figures: contention only ever adds CPU time, so a single slow draw is not scored as slow code.

Code that fails a test gets efficiency 0 (and `aggregate.gate_quality` says the same for every
quality dimension): skipping a heavy input cannot buy speed.

Memory and steps need a second, traced run of a test (tracemalloc is slow). Candidates get it only with
`trace_claims` (detail, never scored); references always do, on up to `traced_tests` tests per problem: the heaviest tests that together fit in 15% of the reference's total cost,
measured in its `steps` (`traced_tests_for`; deterministic, so repeated scorings compare the same
tests, and cost-aware, so tracing stays cheap where time grows faster than input size).

Reference profiles that fail for an infrastructure reason are retried with exponential backoff and
never cached as final; the execution cache is an LRU that never loses a result the current batch holds.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ..data.problems import Problem
from ..sandbox.executor import Submission
from ..sandbox.types import ExecOutcome, ExecutionResult, Limits, TestResult
from .profiles import ProfileStore, limits_from_dict, limits_to_dict, problem_key

log = logging.getLogger(__name__)

#: trusted, submission-level figures measured by the worker from the kernel: metric -> ExecutionResult field
TRUSTED_FIELDS = {"time": "cpu_time_kernel", "memory": "peak_memory_kernel"}
#: their weights in the trusted score (renormalised over the figures measured)
TRUSTED_WEIGHTS = {"time": 0.7, "memory": 0.3}
#: allowance added to both sides of a trusted ratio: 50 ms of CPU, 4 MiB of resident memory. Measured on
#: a 2-core machine loaded 7x over: kernel CPU times of whole LeetCode test sets are 4-25 ms and wobble
#: by +-5 ms between runs of the same code; with 50 ms such a wobble stays inside the noise band, while a
#: real complexity difference (0.02 s vs 0.8 s) still scores 0.3
TRUSTED_EPSILON = {"time": 0.05, "memory": 4.0 * (1 << 20)}
#: ratios within this band of the reference count as equal (repeated runs of one program vary this much)
NOISE_BAND = {"time": 0.15, "memory": 0.10}
#: scores are ratio ** EXPONENT: compresses the scale (4x slower -> 0.5) and halves the effect of noise
EXPONENT = 0.5
#: per-test claims of the candidate's process (deterministic ones only): metric -> TestResult field
CLAIM_FIELDS = {"steps": "steps", "memory": "tracemalloc_peak"}
CLAIM_WEIGHTS = {"steps": 0.6, "memory": 0.4}
#: per-test allowance added to both sides of a claim ratio
CLAIM_EPSILON = {"steps": 1_000.0, "memory": 64 * 1024.0}
#: share of the reference's total steps that a problem's traced (memory/steps) tests may take
TRACE_SHARE = 0.15
#: per-test figures kept in a profile (detail and traced-test choice): metric -> TestResult field
_FIELDS = {
    "time": "cpu_time",
    "memory": "tracemalloc_peak",
    "steps": "steps",
    "instructions": "cpu_instruction_count",
}
#: backoff between attempts to profile a reference that failed for an infrastructure reason
RETRY_BASE_S = 2.0
RETRY_MAX_S = 300.0


def valid_figure(value: Any) -> float | None:
    """A measured figure as a float if it is a real, finite, non-negative number; otherwise None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else None


def trusted_figures(result: ExecutionResult) -> dict[str, float | None]:
    """The kernel-side figures of a submission, validated (None where absent or invalid)."""
    return {m: valid_figure(getattr(result, name, None)) for m, name in TRUSTED_FIELDS.items()}


class Runner(Protocol):
    """The embedded Executor or the HTTP client: anything that runs submissions in order."""

    def run_many(self, submissions: Sequence[Submission]) -> list[ExecutionResult]: ...


@dataclass
class ReferenceProfile:
    """The reference solution's trusted figures (median over repeats), per-test costs, derived limits."""

    passed: list[bool]
    costs: dict[str, list[float | None]]
    limits: Limits
    error: str | None = None
    #: kernel-side figures of the whole timed run (TRUSTED_FIELDS), median over the timed repeats
    kernel: dict[str, float | None] = field(default_factory=dict)
    #: an infrastructure failure: retried later, never final
    transient: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "costs": self.costs,
            "limits": limits_to_dict(self.limits),
            "error": self.error,
            "kernel": self.kernel,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReferenceProfile:
        return cls(
            passed=[bool(x) for x in d["passed"]],
            costs={m: [valid_figure(v) for v in vs] for m, vs in d["costs"].items()},
            limits=limits_from_dict(d["limits"]),
            error=d.get("error"),
            kernel={m: valid_figure(v) for m, v in d.get("kernel", {}).items()},
        )


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
        profiles_path: str | None = None,
        trace_claims: bool = False,
        retimes: int = 2,
    ) -> None:
        self.runner = runner
        self.base_limits = base_limits or Limits(time_s=1.0, total_time_s=20.0)
        self.reference_repeats = reference_repeats
        self.time_factor = time_factor
        self.traced_tests = traced_tests
        self.cache_size = cache_size
        self.trace_claims = trace_claims
        self.retimes = retimes
        #: timed runs spent confirming a slow figure (`_retime`)
        self.retimed = 0
        self._cache: OrderedDict[tuple[str, str], ExecutionResult] = OrderedDict()
        self._profiles: dict[str, ReferenceProfile] = {}
        #: task_id -> (failed attempts, monotonic time before which no retry is made)
        self._retry: dict[str, tuple[int, float]] = {}
        self.store = ProfileStore(profiles_path)
        self._lock = threading.Lock()
        self.infra_failures = 0
        self.clock = time.monotonic

    # -- references ----------------------------------------------------------------------------
    def profiles(self, problems: Sequence[Problem]) -> list[ReferenceProfile]:
        """Reference profiles: cached, from the profiles file, or measured now (all at once, in parallel).

        Measuring has two phases: `reference_repeats` time-only runs (median per test and of the kernel
        figures), then one traced run on the tests that candidates will be traced on (memory and steps
        are deterministic: one run is enough). An infrastructure failure gives a transient error
        profile for now (efficiency None, default limits) and is retried after a backoff.
        """
        now = self.clock()
        wanted = {p.task_id: p for p in problems}
        missing = []
        for task_id, problem in wanted.items():
            if task_id in self._profiles:
                continue
            stored = self.store.get(problem_key(problem))
            if stored is not None:
                self._profiles[task_id] = ReferenceProfile.from_dict(stored)
                continue
            attempts, not_before = self._retry.get(task_id, (0, 0.0))
            if now >= not_before:
                missing.append(problem)
        if missing:
            self._measure(missing)
        return [self._profiles.get(p.task_id) or self._pending(p) for p in problems]

    def _pending(self, problem: Problem) -> ReferenceProfile:
        return ReferenceProfile(
            [], {}, self.base_limits, "reference profile not available yet", transient=True
        )

    def _measure(self, missing: list[Problem]) -> None:
        generous = Limits(time_s=30.0, total_time_s=900.0, memory_mb=2048, metrics=("time", "instructions"))
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
                    replace(generous, metrics=("time", "memory", "steps"), traced_tests=chosen[p.task_id]),
                )
                for p in missing
            ]
        )
        new_entries: dict[str, dict[str, Any]] = {}
        for problem, traced_run in zip(missing, traced, strict=True):
            profile = self._profile(problem, runs[problem.task_id], traced_run, chosen[problem.task_id])
            if profile.transient:
                attempts = self._retry.get(problem.task_id, (0, 0.0))[0] + 1
                delay = min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (attempts - 1))
                self._retry[problem.task_id] = (attempts, self.clock() + delay)
                log.warning(
                    "reference profile of %s failed (%s); attempt %d, retrying in %.0f s",
                    problem.task_id,
                    profile.error,
                    attempts,
                    delay,
                )
                continue
            self._retry.pop(problem.task_id, None)
            self._profiles[problem.task_id] = profile
            new_entries[problem_key(problem)] = profile.to_dict()
        self.store.add(new_entries)

    def _profile(
        self, problem: Problem, runs: list[ExecutionResult], traced: ExecutionResult, chosen: tuple[int, ...]
    ) -> ReferenceProfile:
        if not problem.reference_solution:
            return ReferenceProfile([], {}, self.base_limits, "problem has no reference solution")
        failed = [r.infra_error for r in (*runs, traced) if not r.ok]
        if failed:
            return ReferenceProfile([], {}, self.base_limits, failed[0], transient=True)
        n = len(problem.tests)
        if any(len(r.tests) != n for r in (*runs, traced)):
            return ReferenceProfile(
                [], {}, self.base_limits, "reference run returned the wrong number of tests"
            )
        passed = [all(r.tests[i].passed for r in (*runs, traced)) for i in range(n)]
        costs: dict[str, list[float | None]] = {}
        for metric, name in _FIELDS.items():
            source = [traced] if metric in ("memory", "steps") else runs
            values = []
            for i in range(n):
                samples = [valid_figure(getattr(r.tests[i], name)) for r in source]
                values.append(None if any(s is None for s in samples) else statistics.median(samples))  # type: ignore[type-var]
            costs[metric] = values
        kernel: dict[str, float | None] = {}
        for metric in TRUSTED_FIELDS:
            samples = [trusted_figures(r)[metric] for r in runs]
            valid = [s for s in samples if s is not None]
            kernel[metric] = statistics.median(valid) if valid else None
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
            timed_out = any(
                t.exec_outcome is ExecOutcome.TIME_LIMIT_EXCEEDED for r in (*runs, traced) for t in r.tests
            )
            flaky = any(r.tests[i].passed for r in (*runs, traced) for i in range(n) if not passed[i])
            if timed_out or flaky:  # a loaded machine, not the reference: measure again later
                return ReferenceProfile(
                    passed, costs, limits, "reference timed out or was flaky", kernel=kernel, transient=True
                )
        return ReferenceProfile(passed, costs, limits, kernel=kernel)

    # -- candidates ----------------------------------------------------------------------------
    def execute(
        self, problems: Sequence[Problem], codes: Sequence[str | None]
    ) -> list[ExecutionResult | None]:
        """One result per (problem, code); None where there is no code. Cached (LRU), deduplicated, parallel.

        The batch keeps its own references to every result it returns, so an eviction (a tiny cache,
        or another thread's batch) can never lose one.
        """
        profiles = self.profiles(problems)
        keys = [(p.task_id, c) if c is not None else None for p, c in zip(problems, codes, strict=True)]
        held: dict[tuple[str, str], ExecutionResult] = {}
        todo: dict[tuple[str, str], Submission] = {}
        with self._lock:
            for key, problem, profile in zip(keys, problems, profiles, strict=True):
                if key is None or key in held or key in todo:
                    continue
                cached = self._cache.get(key)
                if cached is not None:
                    self._cache.move_to_end(key)
                    held[key] = cached
                else:
                    todo[key] = Submission(problem, key[1], self.candidate_limits(profile.limits))
        if todo:
            results = self.runner.run_many(list(todo.values()))
            by_task = {p.task_id: prof for p, prof in zip(problems, profiles, strict=True)}
            results = self._retime(list(todo.values()), results, [by_task[k[0]] for k in todo])
            with self._lock:
                for key, result in zip(todo, results, strict=True):
                    held[key] = result
                    if result.ok:  # an infrastructure failure is not cached: a retry may succeed
                        self._cache[key] = result
                        self._cache.move_to_end(key)
                    else:
                        self.infra_failures += 1
                        log.warning("execution failed for %s: %s", key[0], result.infra_error)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return [None if key is None else held[key] for key in keys]

    def _retime(
        self, submissions: list[Submission], results: list[ExecutionResult], profiles: list[ReferenceProfile]
    ) -> list[ExecutionResult]:
        """Time again, `retimes` more runs each, the results that pass every test but whose trusted
        figures land outside the noise band; each keeps its lowest figure per metric.

        Contention for a shared core, cache or memory bus only ever adds CPU time, and on a busy host
        it adds a lot: the same loop varies 2x from one half-second to the next on the 2-core VM this
        was built on, and a 20 s run varies by 10-20%. The reference's figure is a median of repeats; a
        single candidate run that drew a slow moment would be scored as slower code. The extra runs
        go out as one wave, when the batch's first runs are done and workers are free, so they add
        the wall time of one run; they cost only passing code that looks slower than the reference
        and can only raise its score. The verdict stays the first run's; an extra run that does not
        pass every test (flaky code) contributes nothing.
        """
        results = list(results)
        pending = [i for i, r in enumerate(results) if _out_of_band(r, profiles[i])]
        if not pending or self.retimes < 1:
            return results
        again = self.runner.run_many([submissions[i] for i in pending for _ in range(self.retimes)])
        with self._lock:  # batches may be scored from several threads
            self.retimed += len(again)
        for k, rerun in enumerate(again):
            i = pending[k // self.retimes]
            if rerun.ok and rerun.all_passed and len(rerun.tests) == len(results[i].tests):
                results[i] = _fastest(results[i], rerun)
        return results

    def candidate_limits(self, limits: Limits) -> Limits:
        """A candidate's limits: without `trace_claims`, no traced run (its figures are claims, never
        scored, and the extra run costs as much as the timed one or more)."""
        if self.trace_claims:
            return limits
        return replace(limits, metrics=("time", "instructions"), traced_tests=None)

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
    if not result.all_passed:  # efficiency is only ever compared on the whole test set
        return ExecutionScore(result, correctness, 0.0, 0.0)
    efficiency, ratios = efficiency_score(result, profile)
    return ExecutionScore(result, correctness, 1.0, efficiency, ratios)


def _out_of_band(result: ExecutionResult, profile: ReferenceProfile) -> bool:
    """Whether a result that passes every test has a trusted figure scored below 1 (slower than the
    reference by more than the noise band)."""
    if not result.ok or not result.all_passed:
        return False
    efficiency, parts = efficiency_score(result, profile)
    return efficiency is not None and any(parts.get(m, 1.0) < 1.0 for m in TRUSTED_FIELDS)


def _fastest(first: ExecutionResult, other: ExecutionResult) -> ExecutionResult:
    """`first` (its verdicts and detail) with the lower of each trusted figure of the two runs."""
    low = {}
    for name in TRUSTED_FIELDS.values():
        figures = [v for v in (getattr(first, name), getattr(other, name)) if valid_figure(v) is not None]
        if figures:
            low[name] = min(figures)
    return replace(first, **low)


def _ratio_score(ref: float, cand: float, eps: float, band: float = 0.0) -> float:
    ratio = (ref + eps) / (cand + eps) / (1.0 - band)
    return min(1.0, ratio) ** EXPONENT


def efficiency_score(
    result: ExecutionResult, profile: ReferenceProfile
) -> tuple[float | None, dict[str, float]]:
    """(efficiency, its parts) of a result that passes every test; None when no trusted figure compares.

    Parts: `time`/`memory` (trusted, kernel-side), `claimed_steps`/`claimed_memory` (the candidate
    process's own per-test figures, which may only lower the score), `trusted`, `claimed`.
    """
    if profile.error is not None or not profile.passed or not all(profile.passed):
        return None, {}  # no yardstick: the reference could not be measured, or fails tests itself
    if len(result.tests) != len(profile.passed):
        return None, {}
    parts: dict[str, float] = {}
    cand = trusted_figures(result)
    for metric in TRUSTED_FIELDS:
        ref = valid_figure(profile.kernel.get(metric))
        if ref is not None and cand[metric] is not None:
            parts[metric] = _ratio_score(ref, cand[metric], TRUSTED_EPSILON[metric], NOISE_BAND[metric])  # type: ignore[arg-type]
    if not parts:
        return None, {}
    trusted = _weighted(parts, TRUSTED_WEIGHTS)
    # the candidate process's own claims are reported for inspection but not scored: whether they
    # arrive at all depends on the candidate (and on the load: traced runs hit their budget), so even
    # as a one-sided min() they made the score noisy and rewarded code that got its claims dropped
    claims = claimed_ratios(result.tests, profile)
    parts.update({f"claimed_{m}": v for m, v in claims.items()})
    parts["trusted"] = trusted
    return trusted, parts


def _weighted(scores: dict[str, float], weights: dict[str, float]) -> float:
    used = {m: weights[m] for m in scores if m in weights}
    return math.fsum(scores[m] * w for m, w in used.items()) / math.fsum(used.values())


def claimed_ratios(tests: list[TestResult], profile: ReferenceProfile) -> dict[str, float]:
    """Per-claim-metric scores over the tests where both sides report a valid figure.

    A claim is only used when every traced test reports it validly: a candidate cannot pick which
    tests are compared by withholding figures (withholding drops the claim, which can only raise the
    score to the trusted one, never above it).
    """
    out: dict[str, float] = {}
    for metric, name in CLAIM_FIELDS.items():
        ref_costs = profile.costs.get(metric, [])
        measured = [i for i, r in enumerate(ref_costs) if r is not None and i < len(tests)]
        if not measured:
            continue
        cand = [valid_figure(getattr(tests[i], name, None)) for i in measured]
        if any(c is None for c in cand):
            continue
        ref_sum = math.fsum(ref_costs[i] for i in measured)  # type: ignore[misc]
        out[metric] = _ratio_score(ref_sum, math.fsum(cand), CLAIM_EPSILON[metric] * len(measured))  # type: ignore[arg-type]
    return out


def summarise(scores: Sequence[ExecutionScore]) -> dict[str, Any]:
    """Outcome counts over a batch, for logging."""
    counts: dict[str, int] = {}
    for s in scores:
        if s.result is not None:
            for t in s.result.tests:
                counts[t.exec_outcome.value] = counts.get(t.exec_outcome.value, 0) + 1
    return counts
