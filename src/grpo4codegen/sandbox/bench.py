"""`bench sandbox`: the executor against a process-per-test baseline and an in-process floor, one run.

(1)  ours, full isolation, verdicts only      (1m) ours, every metric on every test
(1r) ours, with the traced claims the reward layer asks for under `--trace_claims` (memory and steps on
     its traced tests; by default candidates get time and the instruction count only, as (1) plus a
     counter where one exists)
(2)  a fresh interpreter per test case (the ExecEval model)
(3)  the floor: the same tests in-process, no isolation, no metrics, one process per core
Every configuration runs the same reference solutions on the same tests; figures are tests per second.

`overhead_ms_per_submission` is the median over problems of (1)'s time minus (3)'s, each run about a
minute apart: drift in the machine's speed between the two lands in the difference. With `paired`,
the floor and (1) also run block by block, alternating which goes first, and the same median over
those adjacent runs is reported beside it (`overhead_ms_per_submission_paired`).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from ..data.problems import Problem
from .commands import REFERENCE_LIMITS
from .executor import Executor, Submission
from .harness import build_args, encode_args, load_solution
from .types import ExecutionResult, Limits
from .values import canonical, expected_canonical, matches

#: one test in a fresh interpreter, as ExecEval runs it: the program (preamble, solution, call) and a
#: printed result. It imports only the value converter, not the sandbox harness, so the baseline pays
#: for nothing but the interpreter, the program and the JSON it prints.
_PER_TEST_SCRIPT = """
import json, sys
sys.setrecursionlimit(1000)
from grpo4codegen.sandbox.values import canonical
job = json.load(open(sys.argv[1]))
ns = {"__name__": "solution"}
exec(job["preamble"], ns)
exec(job["code"], ns)
args, kwargs = [], {}
for name, value, kind in json.loads(job["args"]):
    value = value if kind == "value" else ns[kind](value)
    (args.append(value) if name is None else kwargs.__setitem__(name, value))
print(json.dumps(canonical(getattr(ns[job["cls"]](), job["method"])(*args, **kwargs))))
"""


def _floor_problem(payload: tuple[str, str, str, str, list[str], list[Any]]) -> tuple[int, float]:
    """In-process run of one problem's tests: load once, call each test, compare. (passed, seconds)."""
    code, preamble, cls, method, encoded, expected = payload
    t0 = time.perf_counter()
    passed = 0
    try:
        ns = load_solution(
            code, compile(preamble, "<preamble>", "exec", dont_inherit=True) if preamble else None
        )
    except Exception:
        return 0, time.perf_counter() - t0
    for raw, exp in zip(encoded, expected, strict=True):
        try:
            args, kwargs = build_args(raw, ns)
            passed += matches(canonical(getattr(ns[cls](), method)(*args, **kwargs)), exp)
        except Exception:
            pass
    return passed, time.perf_counter() - t0


def _payload(p: Problem, code: str | None = None) -> tuple[str, str, str, str, list[str], list[Any]]:
    encoded = [encode_args(t) for t in p.tests]
    expected = [expected_canonical(t.expected, t.compare) for t in p.tests]
    return code or p.reference_solution, p.preamble, p.class_name, p.method_name, encoded, expected


def run_floor(
    problems: list[Problem], workers: int, codes: list[str] | None = None
) -> tuple[float, list[float], int]:
    """Wall seconds, per-problem seconds and tests passed for the in-process floor (references by default)."""
    ctx = mp.get_context("fork")
    payloads = [_payload(p, c) for p, c in zip(problems, codes or [None] * len(problems), strict=True)]
    t0 = time.perf_counter()
    with ctx.Pool(workers) as pool:
        out = pool.map(_floor_problem, payloads, chunksize=1)
    return time.perf_counter() - t0, [s for _, s in out], sum(n for n, _ in out)


def run_ours(
    problems: list[Problem], workers: int, limits: Limits | list[Limits]
) -> tuple[float, list[float], int, list]:
    per_problem = limits if isinstance(limits, list) else [limits] * len(problems)
    subs = [Submission(p, p.reference_solution, lim) for p, lim in zip(problems, per_problem, strict=True)]
    with Executor(workers=workers, limits=per_problem[0]) as executor:
        executor.run(problems[0], problems[0].reference_solution)  # start the pool outside the timing
        # each problem's tests encoded outside the timing, as the floor's are: a per-problem cost (once
        # per GRPO group), not a per-submission one
        executor.prepare(problems)
        t0 = time.perf_counter()
        results = executor.run_many(subs)
        wall = time.perf_counter() - t0
    return wall, [r.wall_time for r in results], sum(r.passed for r in results), results


def reward_traced_tests(problem: Problem, reference: ExecutionResult) -> tuple[int, ...]:
    """The tests the reward layer traces for this problem, from a reference run with steps."""
    from ..rewards.execution import traced_tests_for

    return traced_tests_for(problem, reference)


def run_paired(
    problems: list[Problem], workers: int, limits: Limits, block: int
) -> tuple[list[tuple[float, float]], int, int]:
    """(floor seconds, ours seconds) per problem, the two run seconds apart (blocks of `block`
    problems, the floor first in even blocks and ours first in odd ones, both pools kept warm), and
    the tests each side passed."""
    ctx = mp.get_context("fork")
    payloads = [_payload(p) for p in problems]
    floor: list[float] = []
    ours: list[float] = []
    floor_passed = ours_passed = 0
    with ctx.Pool(workers) as pool, Executor(workers=workers, limits=limits) as executor:
        executor.run(problems[0], problems[0].reference_solution)
        executor.prepare(problems)
        for k, start in enumerate(range(0, len(problems), block)):
            subs = [Submission(p, p.reference_solution, limits) for p in problems[start : start + block]]
            for side in ("floor", "ours") if k % 2 == 0 else ("ours", "floor"):
                if side == "floor":
                    done = pool.map(_floor_problem, payloads[start : start + block], chunksize=1)
                    floor.extend(seconds for _, seconds in done)
                    floor_passed += sum(n for n, _ in done)
                else:
                    results = executor.run_many(subs)
                    ours.extend(r.wall_time for r in results)
                    ours_passed += sum(r.passed for r in results)
    return list(zip(floor, ours, strict=True)), floor_passed, ours_passed


def run_process_per_test(problems: list[Problem], workers: int) -> tuple[float, int]:
    """A fresh interpreter for every test case; the parent compares what it prints."""
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.dirname(__file__)))}
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "run_one.py")
        with open(script, "w") as f:
            f.write(_PER_TEST_SCRIPT)
        jobs = []
        for pi, p in enumerate(problems):
            for ti, t in enumerate(p.tests):
                path = os.path.join(tmp, f"{pi}_{ti}.json")
                with open(path, "w") as f:
                    json.dump(
                        {
                            "code": p.reference_solution,
                            "preamble": p.preamble,
                            "cls": p.class_name,
                            "method": p.method_name,
                            "args": encode_args(t),
                        },
                        f,
                    )
                jobs.append((path, expected_canonical(t.expected, t.compare)))

        def one(job: tuple[str, Any]) -> bool:
            proc = subprocess.run(
                [sys.executable, script, job[0]], capture_output=True, text=True, env=env, timeout=600
            )
            try:
                return proc.returncode == 0 and matches(json.loads(proc.stdout), job[1])
            except ValueError:
                return False

        t0 = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            passed = sum(pool.map(one, jobs))
        return time.perf_counter() - t0, passed


def run_benchmark(
    problems: list[Problem],
    limit: int | None,
    workers: int | None,
    skip_baseline: bool,
    skip_metrics: bool = False,
    paired: bool = False,
) -> int:
    problems = problems[:limit] if limit else problems
    workers = workers or os.cpu_count() or 1
    tests = sum(len(p.tests) for p in problems)
    print(f"bench sandbox: {len(problems)} problems, {tests} tests, {workers} workers/processes", flush=True)
    verdict_limits = Limits(**{**REFERENCE_LIMITS.__dict__, "metrics": ("time",)})
    metric_limits = Limits(
        **{**REFERENCE_LIMITS.__dict__, "metrics": ("time", "memory", "steps", "instructions")}
    )

    floor_s, floor_per, floor_passed = run_floor(problems, workers)
    print(
        f"(3)  floor, in-process            {tests / floor_s:9.1f} tests/s  {floor_s:7.2f} s  passed {floor_passed}",
        flush=True,
    )
    ours_s, ours_per, ours_passed, ours_results = run_ours(problems, workers, verdict_limits)
    print(
        f"(1)  ours, isolated, verdicts     {tests / ours_s:9.1f} tests/s  {ours_s:7.2f} s  passed {ours_passed}",
        flush=True,
    )
    nan = float("nan")
    met_s, met_passed, met_results = nan, 0, []
    heavy_s, heavy_passed, heavy_results = nan, 0, []
    if not skip_metrics:
        met_s, _, met_passed, met_results = run_ours(problems, workers, metric_limits)
        print(
            f"(1m) ours, isolated, all metrics  {tests / met_s:9.1f} tests/s  {met_s:7.2f} s  passed {met_passed}",
            flush=True,
        )
        heavy_limits = [
            replace(metric_limits, traced_tests=reward_traced_tests(p, r))
            for p, r in zip(problems, met_results, strict=True)
        ]
        heavy_s, _, heavy_passed, heavy_results = run_ours(problems, workers, heavy_limits)
        print(
            f"(1r) ours, traced claims        {tests / heavy_s:9.1f} tests/s  {heavy_s:7.2f} s  passed {heavy_passed}"
            "  (time on every test; memory and steps on the tests --trace_claims traces)",
            flush=True,
        )
    if skip_baseline:
        ppt_s, ppt_passed = float("nan"), 0
    else:
        ppt_s, ppt_passed = run_process_per_test(problems, workers)
        print(
            f"(2)  process per test             {tests / ppt_s:9.1f} tests/s  {ppt_s:7.2f} s  passed {ppt_passed}",
            flush=True,
        )
    overhead_ms = statistics.median((o - f) * 1000 for o, f in zip(ours_per, floor_per, strict=True))
    paired_ms = None
    if paired:
        pairs, floor_again, ours_again = run_paired(problems, workers, verdict_limits, block=4 * workers)
        paired_ms = statistics.median((o - f) * 1000 for f, o in pairs)
        print(
            f"paired: (3) and (1) block by block, overhead {paired_ms:.2f} ms/submission (median); "
            f"passed {floor_again} and {ours_again}",
            flush=True,
        )
    summary = {
        "problems": len(problems),
        "tests": tests,
        "workers": workers,
        "ours_tests_per_s": tests / ours_s,
        "ours_metrics_tests_per_s": None if skip_metrics else tests / met_s,
        "process_per_test_tests_per_s": tests / ppt_s if not skip_baseline else None,
        "floor_tests_per_s": tests / floor_s,
        "speedup_vs_process_per_test": ppt_s / ours_s if not skip_baseline else None,
        "floor_over_ours": ours_s / floor_s,
        "floor_over_ours_metrics": None if skip_metrics else met_s / floor_s,
        "ours_reward_metrics_tests_per_s": None if skip_metrics else tests / heavy_s,
        "floor_over_ours_reward_metrics": None if skip_metrics else heavy_s / floor_s,
        "overhead_ms_per_submission": overhead_ms,
        "overhead_ms_per_submission_paired": paired_ms,
        "traced_discarded": {
            "ours_metrics": sum(r.traced_discarded for r in met_results),
            "ours_reward_metrics": sum(r.traced_discarded for r in heavy_results),
        },
        "passed": {
            "floor": floor_passed,
            "ours": ours_passed,
            "ours_metrics": met_passed,
            "process_per_test": ppt_passed,
        },
    }
    print(
        f"ratios: (1)/(2) = {summary['speedup_vs_process_per_test'] or float('nan'):.1f}x faster, "
        f"(3)/(1) = {summary['floor_over_ours']:.3f}, (3)/(1m) = {met_s / floor_s:.3f}, "
        f"(3)/(1r) = {heavy_s / floor_s:.3f}, "
        f"overhead {overhead_ms:.2f} ms/submission (median)"
    )
    print(json.dumps(summary))
    return 0


def run_stability(problems: list[Problem], repeats: int, workers: int | None) -> int:
    """The same reference solutions run `repeats` times with every metric: what changes between runs."""
    limits = Limits(**{**REFERENCE_LIMITS.__dict__, "metrics": ("time", "memory", "steps", "instructions")})
    with Executor(workers=workers) as executor:
        runs = [
            executor.run_many([Submission(p, p.reference_solution, limits) for p in problems])
            for _ in range(repeats)
        ]
    same_outcomes = same_peaks = same_steps = 0
    time_cv, cpu_cv, kernel_cv, memory_cv = [], [], [], []
    for i, _ in enumerate(problems):
        results = [run[i] for run in runs]
        same_outcomes += len({tuple(t.exec_outcome for t in r.tests) for r in results}) == 1
        same_peaks += len({tuple(t.tracemalloc_peak for t in r.tests) for r in results}) == 1
        same_steps += len({tuple(t.steps for t in r.tests) for r in results}) == 1
        for field, out in (("time_consumed", time_cv), ("cpu_time", cpu_cv)):
            totals = [sum(getattr(t, field) or 0.0 for t in r.tests) for r in results]
            if statistics.mean(totals) > 0:
                out.append(statistics.pstdev(totals) / statistics.mean(totals))
        for field, out in (("cpu_time_kernel", kernel_cv), ("peak_memory_kernel", memory_cv)):
            figures = [getattr(r, field) for r in results]
            if None not in figures and statistics.mean(figures) > 0:
                out.append(statistics.pstdev(figures) / statistics.mean(figures))
    n = len(problems)
    summary = {
        "problems": n,
        "repeats": repeats,
        "identical_outcomes": same_outcomes / n,
        "identical_tracemalloc_peak": same_peaks / n,
        "identical_steps": same_steps / n,
        "time_consumed_cv_median": statistics.median(time_cv),
        "time_consumed_cv_max": max(time_cv),
        "cpu_time_cv_median": statistics.median(cpu_cv),
        "cpu_time_cv_max": max(cpu_cv),
        "cpu_time_kernel_cv_median": statistics.median(kernel_cv) if kernel_cv else None,
        "cpu_time_kernel_cv_max": max(kernel_cv, default=None),
        "peak_memory_kernel_cv_median": statistics.median(memory_cv) if memory_cv else None,
        "peak_memory_kernel_cv_max": max(memory_cv, default=None),
        "steps_cv_max": 0.0 if same_steps == n else None,
    }
    print(
        f"{n} problems x {repeats} runs: identical outcomes {summary['identical_outcomes']:.1%}, "
        f"identical tracemalloc peaks {summary['identical_tracemalloc_peak']:.1%}, identical steps "
        f"{summary['identical_steps']:.1%}; spread of a problem's summed time (coefficient of variation): "
        f"wall median {summary['time_consumed_cv_median']:.3f} max {summary['time_consumed_cv_max']:.3f}, "
        f"cpu median {summary['cpu_time_cv_median']:.3f} max {summary['cpu_time_cv_max']:.3f}, "
        f"kernel cpu median {summary['cpu_time_kernel_cv_median'] or 0:.3f} "
        f"max {summary['cpu_time_kernel_cv_max'] or 0:.3f}, "
        f"kernel peak memory median {summary['peak_memory_kernel_cv_median'] or 0:.3f} "
        f"max {summary['peak_memory_kernel_cv_max'] or 0:.3f}"
    )
    print(json.dumps(summary))
    return 0
