"""What one submission costs the machine, by process: the executor's caller, the worker's supervisor,
its forker (the fork itself) and the children (reaped by the forker), from the kernel's accounting.

One worker runs the same reference N times, for a one-test problem and for the problem with the
median number of tests, after a warm-up; the figures are CPU milliseconds per submission (kernel
ticks, so N should be a few hundred) and the median latency the caller sees. On a pool with as many
workers as cores the pool is CPU-bound, and this CPU is what `bench sandbox` reports as overhead.

    python scripts/experiments/submission_cost.py --dataset PATH [-n 400] [--json]

To compare two checkouts, run it alternately with each one's `src` first on PYTHONPATH: the machine's
speed drifts between runs by more than most changes are worth.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from grpo4codegen.data.loader import load_problems
from grpo4codegen.sandbox.bench import _floor_problem, _payload
from grpo4codegen.sandbox.commands import REFERENCE_LIMITS
from grpo4codegen.sandbox.executor import Executor
from grpo4codegen.sandbox.types import Limits

_TICK = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        kids = []
    return [pid] + [p for k in kids for p in _tree(k)]


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _cpu(pid: int) -> tuple[float, float]:
    """(own CPU seconds, CPU seconds of its reaped children)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK, (int(fields[13]) + int(fields[14])) / _TICK


def measure(problem, n: int) -> dict[str, float]:
    limits = Limits(**{**REFERENCE_LIMITS.__dict__, "metrics": ("time",)})
    with Executor(workers=1, limits=limits) as executor:
        executor.prepare([problem])
        for _ in range(20):
            executor.run(problem, problem.reference_solution)
        time.sleep(0.5)  # the last child is reaped
        me = os.getpid()
        # the worker's processes: [a relay (with a PID namespace),] the forker and its one child, the
        # supervisor (the forker forks every sandboxed child, but none is alive between submissions)
        workers = [p for p in _tree(me) if p != me]
        supervisor = next(p for p in workers if _tree(p) == [p])
        forker = _parent(supervisor)
        before = {p: _cpu(p) for p in (me, forker, supervisor)}
        latencies = [executor.run(problem, problem.reference_solution).wall_time for _ in range(n)]
        after = {p: _cpu(p) for p in (me, forker, supervisor)}

    def per(pid: int, which: int) -> float:
        return (after[pid][which] - before[pid][which]) / n * 1e3

    payload = _payload(problem)
    floor = statistics.median(_floor_problem(payload)[1] for _ in range(50))
    figures = {
        "caller_ms": per(me, 0),
        "supervisor_ms": per(supervisor, 0),
        "forker_ms": per(forker, 0),
        "children_ms": per(forker, 1),
        "latency_ms": statistics.median(latencies) * 1e3,
        "floor_ms": floor * 1e3,
    }
    figures["total_cpu_ms"] = sum(
        figures[k] for k in ("caller_ms", "supervisor_ms", "forker_ms", "children_ms")
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("-n", type=int, default=400, help="submissions per problem")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    problems = load_problems(args.dataset)
    by_size = sorted(problems, key=lambda p: len(p.tests))
    chosen = {"one test": by_size[0], "median tests": by_size[len(by_size) // 2]}
    del problems, by_size  # (a smaller caller)
    out = {
        name: {"task_id": p.task_id, "tests": len(p.tests), **measure(p, args.n)}
        for name, p in chosen.items()
    }
    if args.json:
        print(json.dumps(out))
        return 0
    for name, f in out.items():
        print(
            f"{name:12s} {f['task_id']} ({f['tests']} tests): CPU per submission {f['total_cpu_ms']:.2f} ms "
            f"(caller {f['caller_ms']:.2f}, supervisor {f['supervisor_ms']:.2f}, forker {f['forker_ms']:.2f}, "
            f"children {f['children_ms']:.2f}); latency {f['latency_ms']:.2f} ms; in-process floor {f['floor_ms']:.2f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
