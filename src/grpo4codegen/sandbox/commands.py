"""`grpo4codegen exec | verify-references | sandbox doctor | bench sandbox`."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from ..data.commands import add_dataset_args, problems_from_args
from ..data.problems import Problem
from ..errors import UserError
from .executor import Executor, Submission
from .types import METRICS, ExecutionResult, Limits

#: reference solutions get generous limits: a few need seconds per test on this class of machine
REFERENCE_LIMITS = Limits(time_s=30.0, total_time_s=900.0, memory_mb=2048)


def add_limit_args(p: argparse.ArgumentParser, defaults: Limits = Limits()) -> None:
    p.add_argument("--time-limit", type=float, default=defaults.time_s, help="seconds per test")
    p.add_argument(
        "--total-time-limit", type=float, default=defaults.total_time_s, help="seconds per submission"
    )
    p.add_argument("--memory-limit", type=int, default=defaults.memory_mb, help="MiB per submission")
    p.add_argument("--metrics", default=",".join(defaults.metrics), help=f"comma list of {','.join(METRICS)}")
    p.add_argument("--stop-on-first-fail", action="store_true")
    p.add_argument("--workers", type=int, default=None, help="sandbox workers (default: one per core)")


def add_isolation_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--require_isolation",
        "--require-isolation",
        dest="require_isolation",
        action="store_true",
        help="refuse to run unless every sandbox isolation layer is active here (see `sandbox doctor`)",
    )


def limits_from_args(args: argparse.Namespace) -> Limits:
    try:
        return Limits(
            time_s=args.time_limit,
            total_time_s=args.total_time_limit,
            memory_mb=args.memory_limit,
            metrics=tuple(m for m in args.metrics.split(",") if m),
            stop_on_first_fail=args.stop_on_first_fail,
        )
    except ValueError as e:
        raise UserError(str(e)) from None


def progress(total: int, description: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="sub", leave=False, dynamic_ncols=True)


def verify(problems: list[Problem], executor: Executor, limits: Limits) -> dict[str, Any]:
    """Run every problem's reference solution; the summary the verify-references command prints."""
    with progress(len(problems), "references") as bar:
        results = executor.run_many(
            [Submission(p, p.reference_solution, limits) for p in problems],
            on_result=lambda i, r: bar.update(),
        )
    outcomes: Counter[str] = Counter(t.exec_outcome.value for r in results for t in r.tests)
    failures = []
    incomplete = 0
    for problem, result in zip(problems, results, strict=True):
        if problem.incomplete:  # its reference cannot be verified in full
            incomplete += 1
            why = problem.unparsed_tests[0] if problem.unparsed_tests else None
            failures.append(
                {
                    "task_id": problem.task_id,
                    "passed": result.passed,
                    "total": result.total,
                    "infra_error": None,
                    "first_failure": {
                        "exec_outcome": "UNPARSED",
                        "error": f"{len(problem.unparsed_tests)} asserts not parsed: "
                        + (why.reason if why else "no test"),
                        "assert": why.source[:300] if why else "",
                    },
                }
            )
            continue
        if result.all_passed:
            continue
        first = next((i for i, t in enumerate(result.tests) if not t.passed), None)
        failures.append(
            {
                "task_id": problem.task_id,
                "passed": result.passed,
                "total": result.total,
                "infra_error": result.infra_error,
                "first_failure": None
                if first is None
                else {
                    "index": first,
                    "assert": problem.tests[first].source[:300],
                    **{
                        k: v
                        for k, v in result.tests[first].to_dict().items()
                        if k in ("exec_outcome", "error", "result")
                    },
                },
            }
        )
    n = len(problems)
    return {
        "problems": n,
        "all_passed": n - len(failures),
        "all_passed_fraction": (n - len(failures)) / n if n else 0.0,
        "tests": sum(r.total for r in results),
        "tests_passed": sum(r.passed for r in results),
        "outcomes": dict(outcomes),
        "infra_failures": sum(not r.ok for r in results),
        "incomplete": incomplete,
        "seconds_max_problem": max((r.wall_time for r in results), default=0.0),
        "failures": failures,
    }


def _verify_references(args: argparse.Namespace) -> int:
    problems = problems_from_args(args, keep_incomplete=True)  # (each one reported as a failure)
    with Executor(workers=args.workers, require_isolation=args.require_isolation) as executor:
        summary = verify(problems, executor, limits_from_args(args))
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{summary['all_passed']}/{summary['problems']} problems fully pass "
            f"({summary['all_passed_fraction']:.2%}); tests {summary['tests_passed']}/{summary['tests']}"
        )
        print("outcomes: " + ", ".join(f"{k}={v}" for k, v in sorted(summary["outcomes"].items())))
        for f in summary["failures"]:
            first = f["first_failure"] or {}
            print(
                f"FAIL {f['task_id']}: {f['passed']}/{f['total']} {f['infra_error'] or ''}"
                f" first: {first.get('exec_outcome')} {first.get('error', '')[:150]} | {first.get('assert', '')[:150]}"
            )
    return 0 if not summary["failures"] else 1


def _exec(args: argparse.Namespace) -> int:
    problems = problems_from_args(args)
    matches = [p for p in problems if p.task_id == args.task_id]
    if not matches:
        raise UserError(f"task_id {args.task_id!r} not in {args.dataset}")
    try:
        code = Path(args.code).read_text("utf-8") if args.code != "-" else __import__("sys").stdin.read()
    except OSError as e:
        raise UserError(f"{args.code}: cannot read ({e.strerror})") from None
    with Executor(workers=1, require_isolation=args.require_isolation) as executor:
        result = executor.run(matches[0], code, limits_from_args(args))
    _print_result(result, args.json)
    return 0 if result.ok else 3


def _print_result(result: ExecutionResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_dict()))
        return
    if result.infra_error:
        print(f"executor failure: {result.infra_error}")
        return
    for i, t in enumerate(result.tests):
        metrics = " ".join(
            f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in (
                ("time", t.time_consumed),
                ("peak", t.tracemalloc_peak),
                ("steps", t.steps),
                ("instructions", t.cpu_instruction_count),
            )
            if v is not None
        )
        print(f"test {i:3d} {t.exec_outcome.value:22s} {metrics} {t.error[:100]}")
    print(f"passed {result.passed}/{result.total} in {result.wall_time:.3f} s")
    if result.cpu_time_kernel is not None:  # measured by the worker, outside the candidate's process
        print(
            f"kernel: cpu {result.cpu_time_kernel:.6f} s, peak memory {result.peak_memory_kernel} bytes"
            + (
                f", instructions {result.instructions_kernel}"
                if result.instructions_kernel is not None
                else ""
            )
        )


def _doctor(args: argparse.Namespace) -> int:
    with Executor(workers=1, require_isolation=args.require_isolation) as executor:
        layers = executor.layers()
    if args.json:
        print(json.dumps(layers))
        return 0
    for name, status in layers.items():
        mark = "ok " if status in ("active", "available") else "   " if status.startswith("n/a") else "-- "
        print(f"{mark}{name:22s} {status}")
    print(
        "metrics: time (always), memory (tracemalloc), steps (deterministic), instructions (counters above)"
    )
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import run_benchmark

    return run_benchmark(
        problems_from_args(args),
        limit=args.limit,
        workers=args.workers,
        skip_baseline=args.skip_process_per_test,
        skip_metrics=args.skip_metrics,
        paired=args.paired,
    )


def _stability(args: argparse.Namespace) -> int:
    from .bench import run_stability

    problems = problems_from_args(args)
    return run_stability(problems[: args.limit] if args.limit else problems, args.repeats, args.workers)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exec", help="run one submission against one problem's tests")
    add_dataset_args(p)
    p.add_argument("--task-id", required=True)
    p.add_argument("--code", required=True, help="file with the solution (- for stdin)")
    p.add_argument("--json", action="store_true")
    add_limit_args(p, Limits(metrics=("time", "memory", "steps", "instructions")))
    add_isolation_arg(p)
    p.set_defaults(handler=_exec)

    p = sub.add_parser("verify-references", help="run every problem's reference solution")
    add_dataset_args(p)
    p.add_argument("--json", action="store_true")
    add_limit_args(p, REFERENCE_LIMITS)
    add_isolation_arg(p)
    p.set_defaults(handler=_verify_references)

    from ..cli import subcommand_group

    sandbox_sub = subcommand_group(sub, "sandbox", "sandbox tools")
    p = sandbox_sub.add_parser("doctor", help="which isolation layers and metrics are available here")
    p.add_argument("--json", action="store_true")
    add_isolation_arg(p)
    p.set_defaults(handler=_doctor)

    bench_sub = subcommand_group(sub, "bench", "benchmarks")
    p = bench_sub.add_parser("sandbox", help="executor vs process-per-test vs in-process floor")
    add_dataset_args(p)
    p.add_argument("--limit", type=int, default=None, help="first N problems only")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--skip-process-per-test", action="store_true", help="skip the slow baseline")
    p.add_argument(
        "--skip-metrics",
        action="store_true",
        help="skip (1m) and (1r), the runs with metrics (informative; the targets use (1), (2) and (3))",
    )
    p.add_argument(
        "--paired",
        action="store_true",
        help="also run the floor and (1) block by block, alternating, and report the overhead over those "
        "adjacent runs: drift in the machine's speed between the two full runs does not reach it",
    )
    p.set_defaults(handler=_bench)
    p = bench_sub.add_parser(
        "stability", help="the same solutions run N times: outcome, memory, steps, time spread"
    )
    add_dataset_args(p)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--workers", type=int, default=None)
    p.set_defaults(handler=_stability)
