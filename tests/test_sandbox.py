"""Executor behaviour: verdicts, comparison modes, metrics, stdio tests, worker failures, real references."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grpo4codegen.data import load_problems
from grpo4codegen.sandbox.executor import Executor, Submission
from grpo4codegen.sandbox.types import ExecOutcome, Limits
from grpo4codegen.sandbox.values import canonical, expected_canonical, matches, normalise_tree_list

from .conftest import ADD_REFERENCE, V020, V031, make_problem, needs_data

ALL_METRICS = Limits(metrics=("time", "memory", "steps", "instructions"))
NODE_PREAMBLE = """
class ListNode:
    def __init__(self, val=0, next=None):
        self.val = val
        self.next = next
class TreeNode:
    def __init__(self, val=0, left=None, right=None):
        self.val = val
        self.left = left
        self.right = right
def list_node(values):
    head = None
    for v in reversed(values):
        head = ListNode(v, head)
    return head
def tree_node(values):
    if not values:
        return None
    nodes = [None if v is None else TreeNode(v) for v in values]
    kids = iter(nodes[1:])
    for node in nodes:
        if node is not None:
            node.left, node.right = next(kids, None), next(kids, None)
    return nodes[0]
"""


def test_values_canonical_and_matching():
    assert canonical((1, 2)) == [1, 2]
    assert matches(canonical(0.1 + 0.2), expected_canonical(0.3, "eq"))
    assert matches(canonical(1.000001), 1.0) and not matches(canonical(1.001), 1.0)
    assert matches(canonical(math.inf), math.inf)
    assert not matches(canonical("1"), 1)
    assert matches(canonical({3, 1, 2}), expected_canonical({1, 2, 3}, "eq"))
    assert matches(canonical({1: "a"}), expected_canonical({1: "a"}, "eq"))
    assert not matches(canonical({1: "a"}), expected_canonical({1: "b"}, "eq"))
    assert normalise_tree_list([1, None, 2, None, None]) == [1, None, 2]


_RETURNED = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.frozensets(st.integers() | st.text(max_size=3), max_size=4)
        | st.dictionaries(st.integers() | st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_RETURNED)
def test_a_value_is_encoded_as_json_dumps_writes_it(value):
    # the executor passes a value whose text equals the expected value's json.dumps text without
    # decoding it: the child's encoder must write exactly that text (NaN and infinities included)
    from grpo4codegen.sandbox.harness import value_json

    assert value_json(value) == json.dumps(canonical(value))


def test_reference_passes_and_wrong_answer_is_reported(executor, add_problem):
    assert executor.run(add_problem, ADD_REFERENCE).all_passed
    wrong = ADD_REFERENCE.replace("a + b", "a - b")
    r = executor.run(add_problem, wrong)
    assert [t.exec_outcome for t in r.tests] == [ExecOutcome.WRONG_ANSWER] * 3
    assert r.tests[0].result == "-1" and "expected 3" in r.tests[0].error
    half = ADD_REFERENCE.replace("a + b", "a + b if a > 0 else 0")
    assert [t.passed for t in executor.run(add_problem, half).tests] == [True, True, True]
    half = ADD_REFERENCE.replace("a + b", "a + b if a < 5 else 0")
    assert [t.passed for t in executor.run(add_problem, half).tests] == [True, True, False]


def test_code_that_is_not_text_is_refused_with_a_clear_error(executor, add_problem):
    restarts = executor.stats.worker_restarts
    with pytest.raises(TypeError, match="code must be a str, not bytes"):
        executor.run(add_problem, ADD_REFERENCE.encode())
    assert executor.run(add_problem, ADD_REFERENCE).all_passed  # the pool serves on, no restart
    assert executor.stats.worker_restarts == restarts


def test_compilation_and_missing_entry_point(executor, add_problem):
    r = executor.run(add_problem, "class Solution:\n    def add(self, a, b)\n        return a + b\n")
    assert {t.exec_outcome for t in r.tests} == {ExecOutcome.COMPILATION_ERROR}
    r = executor.run(add_problem, "class Solution:\n    def sub(self, a, b):\n        return a - b\n")
    assert {t.exec_outcome for t in r.tests} == {ExecOutcome.RUNTIME_ERROR}
    assert "Solution.add is not defined" in r.tests[0].error


def test_linked_lists_trees_and_floats(executor):
    reverse = make_problem(
        "reverse",
        [
            "assert is_same_list(candidate(head=list_node([1, 2, 3])), list_node([3, 2, 1]))",
            "assert is_same_list(candidate(head=list_node([])), list_node([]))",
        ],
        preamble=NODE_PREAMBLE,
    )
    code = (
        "class Solution:\n    def reverse(self, head):\n        prev = None\n        while head:\n"
        "            head.next, prev, head = prev, head, head.next\n        return prev\n"
    )
    assert executor.run(reverse, code).all_passed
    assert (
        not executor.run(reverse, "class Solution:\n    def reverse(self, head):\n        return head\n")
        .tests[0]
        .passed
    )

    invert = make_problem(
        "invert",
        [
            "assert is_same_tree(candidate(root=tree_node([4, 2, 7, 1, None])), tree_node([4, 7, 2, None, None, None, 1]))"
        ],
        preamble=NODE_PREAMBLE,
    )
    code = (
        "class Solution:\n    def invert(self, root):\n        if root:\n"
        "            root.left, root.right = self.invert(root.right), self.invert(root.left)\n        return root\n"
    )
    assert executor.run(invert, code).all_passed

    mean = make_problem("mean", ["assert candidate(nums=[1, 2, 2]) == 1.66667"])
    assert executor.run(
        mean, "class Solution:\n    def mean(self, nums):\n        return sum(nums) / len(nums)\n"
    ).all_passed


def test_unsupported_return_type_is_a_wrong_answer(executor, add_problem):
    r = executor.run(add_problem, "class Solution:\n    def add(self, a, b):\n        return object()\n")
    assert {t.exec_outcome for t in r.tests} == {ExecOutcome.WRONG_ANSWER}
    assert "no plain-data form" in r.tests[0].error


def test_stop_on_first_fail(executor, add_problem):
    crash_first = "class Solution:\n    def add(self, a, b):\n        raise ValueError('boom')\n"
    r = executor.run(add_problem, crash_first, Limits(stop_on_first_fail=True))
    assert r.tests[0].exec_outcome is ExecOutcome.RUNTIME_ERROR and not r.tests[0].skipped
    assert all(t.skipped for t in r.tests[1:])


def test_metrics_are_measured_and_deterministic(executor):
    problem = make_problem(
        "total", [f"assert candidate(n={n}) == {sum(range(n))}" for n in (10, 1000, 50000)]
    )
    code = "class Solution:\n    def total(self, n):\n        s = 0\n        for i in range(n):\n            s += i\n        return s\n"
    runs = [executor.run(problem, code, ALL_METRICS) for _ in range(10)]
    for r in runs:
        assert r.all_passed
        assert all(t.time_consumed is not None and t.time_consumed > 0 for t in r.tests)
    # steps: one per loop iteration plus one function entry
    assert [t.steps for t in runs[0].tests] == [11, 1001, 50001]
    assert len({tuple(t.steps for t in r.tests) for r in runs}) == 1
    assert len({tuple(t.tracemalloc_peak for t in r.tests) for r in runs}) == 1
    assert all(t.cpu_time is not None and t.cpu_time >= 0 for r in runs for t in r.tests)
    # (the spread of the time measures is a benchmark figure: `grpo4codegen bench stability`)
    builder = (
        "class Solution:\n    def total(self, n):\n        xs = list(range(n))\n        return sum(xs)\n"
    )
    r = executor.run(problem, builder, ALL_METRICS)
    assert r.tests[2].tracemalloc_peak > 50000 * 8  # the list of 50000 ints is seen by tracemalloc


def test_instruction_counter_degrades_honestly(executor, add_problem):
    r = executor.run(add_problem, ADD_REFERENCE, ALL_METRICS)
    layers = executor.layers()
    assert all(t.cpu_instruction_count is None for t in r.tests)  # never counted inside the child
    if layers["instructions_counter"] == "available":
        assert isinstance(r.instructions_kernel, int) and r.instructions_kernel > 0
    else:
        assert r.instructions_kernel is None


def test_stdio_programs(executor):
    code = "a, b = map(int, input().split())\nprint(a + b)\n"
    r = executor.run_stdio(code, [("1 2\n", "3\n"), ("5 5\n", "10"), ("1 1\n", "3\n")])
    assert [t.exec_outcome for t in r.tests] == [
        ExecOutcome.PASSED,
        ExecOutcome.PASSED,
        ExecOutcome.WRONG_ANSWER,
    ]
    r = executor.run_stdio("print(1/3)", [("", "0.333333")])
    assert r.all_passed
    r = executor.run_stdio("import sys\nsys.exit(3)", [("", "")])
    assert r.tests[0].exec_outcome is ExecOutcome.RUNTIME_ERROR


def test_stdio_programs_may_use_the_byte_streams(executor):
    """Competitive programs read `sys.stdin.buffer` and write `sys.stdout.buffer` for speed, mixed
    with print, or read file descriptor 0 (`open(0).read()`); stdin reads as real stdin does
    (universal newlines). They failed every test (AttributeError, or nothing read): stdin and stdout
    were StringIOs and fd 0 was /dev/null, a correct program judged wrong."""
    fast = (
        "import sys\n"
        "data = sys.stdin.buffer.read().split()\n"
        "n = int(data[0])\n"
        "print('sum', end=' ', flush=True)\n"
        "sys.stdout.buffer.write(str(sum(map(int, data[1:n + 1]))).encode() + b'\\n')\n"
        "sys.stdout.write('done\\n')\n"
    )
    r = executor.run_stdio(fast, [("3\n1 2 3\n", "sum 6\ndone\n"), ("2\r\n5 6\r\n", "sum 11\ndone")])
    assert r.all_passed, [(t.exec_outcome, t.error, t.result) for t in r.tests]
    lines = "import sys\nfor line in sys.stdin:\n    print(repr(line))\n"
    r = executor.run_stdio(lines, [("a\r\nb", "'a\\n'\n'b'\n")])
    assert r.all_passed, [(t.exec_outcome, t.error, t.result) for t in r.tests]
    # file descriptor 0 holds the input too: `open(0)` and `os.read(0, n)`, each test its own
    fd0 = "print(sum(map(int, open(0).read().split())))\n"  # (closes fd 0, as in a process)
    r = executor.run_stdio(fd0, [("1 2 3\n", "6"), ("4\n5\n", "9"), ("", "0")])
    assert r.all_passed, [(t.exec_outcome, t.error, t.result) for t in r.tests]
    r = executor.run_stdio("import os\nprint(os.read(0, 100).decode())", [("ab\n", "ab"), ("cde", "cde")])
    assert r.all_passed, [(t.exec_outcome, t.error, t.result) for t in r.tests]
    r = executor.run_stdio(
        "import sys\nsys.stdout.buffer.write(b'x' * 4096)\n", [("", "x")], Limits(output_bytes=1024)
    )
    assert r.tests[0].exec_outcome is ExecOutcome.RUNTIME_ERROR and "output limit" in r.tests[0].error


def test_stdio_inputs_larger_than_the_scratch_reach_file_descriptor_0(executor):
    """Competitive inputs run to megabytes (2 * 10**5 numbers), and `open(0).read()` is a common way to
    read them. Descriptor 0 was a file in the 1 MiB scratch directory, so a larger input reached
    sys.stdin but not descriptor 0 (/dev/null there): a correct program read nothing and failed."""
    numbers = [str(i * 7919 % 1000003) for i in range(400_000)]  # about 2.8 MB of text
    text = " ".join(numbers) + "\n"
    assert len(text) > 2 << 20
    total = str(sum(int(x) for x in numbers))
    cases = [(text, total), ("1 2 3\n", "6"), (text, total)]
    for program in (
        "print(sum(map(int, open(0).read().split())))\n",
        "import os\nchunks = []\nwhile True:\n    b = os.read(0, 1 << 16)\n    if not b: break\n"
        "    chunks.append(b)\nprint(sum(map(int, b''.join(chunks).split())))\n",
        "import sys\nprint(sum(map(int, sys.stdin.buffer.read().split())))\n",
    ):
        r = executor.run_stdio(program, cases)
        assert r.all_passed, [(t.exec_outcome, t.error, t.result) for t in r.tests]
    # the input is the test's alone, read-only, and fixed in size
    probe = (
        "import os\nfound = []\n"
        "for attempt in (lambda: os.write(0, b'x'), lambda: os.ftruncate(0, 1 << 30), lambda: os.ftruncate(0, 0)):\n"
        "    try:\n        attempt()\n        found.append('changed')\n    except OSError:\n        pass\n"
        "print(found or len(open(0, 'rb').read()))\n"
    )
    r = executor.run_stdio(probe, [("abc", "3"), ("xy", "2")])
    assert r.all_passed, [(t.exec_outcome, t.error, t.result) for t in r.tests]


def _descendants(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        return []
    return kids + [d for k in kids for d in _descendants(k)]


def test_a_killed_caller_leaves_no_candidate_running(tmp_path):
    """A trainer that dies (killed, out of memory) while a job runs: its workers' children were left
    running the candidate until its own limits ended it, minutes of a core each under long limits. The
    supervisor watches the job pipe during a job too, so the child is killed at once."""
    import subprocess
    import sys

    script = tmp_path / "caller.py"
    script.write_text(
        "import os, sys, threading, time\n"
        "from grpo4codegen.data import load_problems\n"
        "from grpo4codegen.sandbox.executor import Executor\n"
        "from grpo4codegen.sandbox.types import Limits\n"
        "problem = load_problems('builtin')[0]\n"
        "ex = Executor(workers=1)\n"
        "ex.run(problem, problem.reference_solution)\n"
        "spin = f'class Solution:\\n    def {problem.method_name}(self, *a, **k):\\n        while True:\\n            pass\\n'\n"
        "limits = Limits(time_s=60.0, total_time_s=120.0, memory_mb=256)\n"
        "threading.Thread(target=ex.run, args=(problem, spin, limits), daemon=True).start()\n"
        "time.sleep(1.0)\n"
        "print(os.getpid(), flush=True)\n"
        "time.sleep(600)\n"
    )
    caller = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert int(caller.stdout.readline()) == caller.pid
        workers = _descendants(caller.pid)
        spinning = [
            p
            for p in workers
            if os.path.exists(f"/proc/{p}") and open(f"/proc/{p}/stat").read().split()[2] == "R"
        ]
        assert workers and spinning, workers  # the candidate runs
    finally:
        caller.kill()
        caller.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in workers):
        time.sleep(0.1)
    left = [p for p in workers if os.path.exists(f"/proc/{p}")]
    assert not left, [open(f"/proc/{p}/stat").read()[:80] for p in left if os.path.exists(f"/proc/{p}")]


def test_dead_worker_is_retried_then_reported(add_problem):
    with Executor(workers=1) as ex:
        assert ex.run(add_problem, ADD_REFERENCE).all_passed
        handle = ex._idle.get()
        os.kill(handle.process.pid, signal.SIGKILL)
        handle.process.wait()
        ex._idle.put(handle)
        r = ex.run(add_problem, ADD_REFERENCE)
        assert r.ok and r.all_passed and ex.stats.worker_restarts == 1
    with Executor(workers=1, retries=0) as ex:
        assert ex.run(add_problem, ADD_REFERENCE).all_passed
        handle = ex._idle.get()
        os.kill(handle.process.pid, signal.SIGKILL)
        handle.process.wait()
        ex._idle.put(handle)
        r = ex.run(add_problem, ADD_REFERENCE)
        assert not r.ok and "executor failure" in r.infra_error and r.tests == []
        assert ex.stats.infra_failures == 1
        assert ex.run(add_problem, ADD_REFERENCE).all_passed  # the pool healed


def test_isolation_layers_are_reported(executor):
    layers = executor.layers()
    for name in ("process_group", "workdir", "environment", "file_descriptors", "resource_limits"):
        assert layers[name] == "active"
    if os.geteuid() == 0:
        for name in ("network_namespace", "minimal_root", "unprivileged_user", "seccomp"):
            assert layers[name] == "active", (name, layers[name])


@needs_data
@pytest.mark.parametrize("path", [V031, V020], ids=["v0.3.1", "v0.2.0"])
def test_real_references_pass(executor, path):
    problems = load_problems(path)
    # a fixed spread of problems, skipping the few whose references need seconds per test
    sample = problems[:: max(1, len(problems) // 40)][:40]
    results = executor.run_many(
        [Submission(p, p.reference_solution, Limits(time_s=20, total_time_s=120)) for p in sample]
    )
    failing = [
        (p.task_id, r.passed, r.total) for p, r in zip(sample, results, strict=True) if not r.all_passed
    ]
    assert failing == [] or failing == [("word-ladder-ii", 1, 2)]


def test_slow_metrics_run_never_costs_the_verdict(executor, add_problem):
    # fast when timed, hangs in the separate traced run: the verdicts stand, only the metrics are lost
    code = (
        "import time, tracemalloc\nclass Solution:\n    def add(self, a, b):\n"
        "        if tracemalloc.is_tracing():\n            time.sleep(30)\n        return a + b\n"
    )
    limits = Limits(time_s=0.1, total_time_s=1.0, metrics=("time", "memory"), traced_tests=(0,))
    r = executor.run(add_problem, code, limits)
    assert [t.exec_outcome for t in r.tests] == [ExecOutcome.PASSED] * 3
    assert r.tests[0].tracemalloc_peak is None and r.tests[0].time_consumed is not None
    assert r.wall_time < 10


def test_matching_untrusted_shapes_never_raises():
    assert not matches({"x": 1, "y": 2}, {"x": 1, "y": 2} | {"z": 3})
    assert not matches([{"a": 1, "b": 2}], [{"a": 1}])
    assert not matches({"__set__": [1]}, [1])
    assert not matches(10**400, 2.5) and not matches([10**400], [1e308])  # no OverflowError


def test_only_an_expected_float_gets_a_tolerance():
    # an int answer is given exactly: as an int, or a float holding exactly that integer
    assert matches(6.0, 6) and matches([2.0, 3], [2, 3])
    assert not matches(6.000009, 6) and not matches(999999999.0, 1000000000)
    assert not matches(1e18 + 1e8, 10**18)
    # a bool answer is a bool, an int answer is not a bool
    assert not matches(1, True) and not matches(True, 1) and not matches(0, False)
    assert matches(True, True) and matches(False, False)
    # a float answer: within 1e-5, from an int too
    assert matches(2, 2.000001) and matches(0.333333, 1 / 3) and not matches(0.3334, 1 / 3)


def test_kernel_figures_cover_the_timed_run_only(executor):
    problem = make_problem("work", [f"assert candidate(n={n}) == {n}" for n in (1, 2, 3)])
    busy = "        s = 0\n        for i in range(1_500_000):\n            s += i\n"
    honest = f"class Solution:\n    def work(self, n):\n{busy}        return n\n"
    r = executor.run(problem, honest)
    assert r.all_passed and r.cpu_time_kernel is not None and r.peak_memory_kernel is not None
    assert r.cpu_time_kernel >= sum(t.cpu_time for t in r.tests) > 0
    assert r.to_dict()["summary"]["cpu_time_kernel"] == r.cpu_time_kernel
    # slow only while traced: the traced runs happen in another child and never reach the timed figures
    traced_only = (
        "import tracemalloc\nclass Solution:\n    def work(self, n):\n"
        "        if tracemalloc.is_tracing():\n            s = 0\n"
        "            for i in range(100_000):\n                s += i\n"
        "        return n\n"
    )
    limits = Limits(metrics=("time", "memory"))
    r_traced = executor.run(problem, traced_only, limits)
    assert r_traced.all_passed and r_traced.traced_discarded == 0
    assert all(t.tracemalloc_peak is not None for t in r_traced.tests)
    assert r_traced.cpu_time_kernel < r.cpu_time_kernel / 3
    # memory: the kernel's high-water mark of the timed run, above the child's start
    big = "class Solution:\n    def work(self, n):\n        xs = list(range(3_000_000))\n        return n\n"
    r_big = executor.run(problem, big)
    assert r_big.peak_memory_kernel > 80 << 20 > r.peak_memory_kernel


def test_traced_run_that_answers_differently_loses_its_figures(executor, add_problem):
    cheat = (
        "import tracemalloc\nclass Solution:\n    def add(self, a, b):\n"
        "        if tracemalloc.is_tracing():\n            return -12345\n"
        "        x = [0] * 100000\n        return a + b\n"
    )
    r = executor.run(add_problem, cheat, Limits(metrics=("time", "memory", "steps")))
    assert r.all_passed
    assert r.traced_discarded == 3 and all(t.tracemalloc_peak is None and t.steps is None for t in r.tests)


def test_stdio_integers_compare_exactly():
    from grpo4codegen.sandbox.executor import stdio_matches

    assert not stdio_matches("1000000000\n", "999999999\n")
    assert not stdio_matches("1 2 100000001", "1 2 100000000")
    assert stdio_matches("0.3333333\n", "0.333333")
    assert stdio_matches("3", "3.0") and stdio_matches("+7", "7")
    assert not stdio_matches("9" * 5000, "9" * 4999 + "8")
    # where the expected token is an integer, the output's must be that integer, not a number near it
    assert not stdio_matches("999999999.0\n", "1000000000\n")
    assert not stdio_matches("123456788.9", "123456789") and not stdio_matches("7.0", "7")


def test_claims_are_checked_against_the_kernel():
    from grpo4codegen.sandbox.executor import check_claims
    from grpo4codegen.sandbox.types import TestResult

    def tests(**claims):
        return [TestResult(ExecOutcome.PASSED, **claims) for _ in range(3)]

    kernel = {"cpu": 0.01, "wall": 0.05, "memory": 1 << 20, "instructions": None, "discarded": 0}
    for bad in (math.nan, math.inf, -1.0, 10**400, "0.1", True):
        ts = tests(time_consumed=bad, cpu_time=bad, tracemalloc_peak=bad, tracemalloc_current=0, steps=bad)
        check_claims(ts, kernel, Limits())
        assert all(
            t.time_consumed is None and t.cpu_time is None and t.tracemalloc_peak is None and t.steps is None
            for t in ts
        ), bad
    ts = tests(time_consumed=0.005, cpu_time=0.005)  # 15 ms of CPU claimed, the kernel saw 10
    check_claims(ts, kernel, Limits())
    assert [t.cpu_time for t in ts] == [None] * 3 and [t.time_consumed for t in ts] == [0.005] * 3
    ts = tests(time_consumed=0.002, cpu_time=0.002, tracemalloc_peak=10, tracemalloc_current=20)
    check_claims(ts, kernel, Limits())
    assert [t.cpu_time for t in ts] == [0.002] * 3
    assert ts[0].tracemalloc_peak == 10 and ts[0].tracemalloc_current is None  # current above peak


def test_watchdog_covers_the_traced_budget():
    from grpo4codegen.sandbox.worker import TRACE_BUDGET_FACTOR, job_seconds_bound

    assert job_seconds_bound(1.0, 20.0, traced=True) > 20.0 * (1 + TRACE_BUDGET_FACTOR)
    assert job_seconds_bound(1.0, 20.0, traced=False) > 20.0


def test_instruction_counter_opened_from_outside_with_a_stand_in(monkeypatch, add_problem):
    """This VM has no counters: a memfd-backed descriptor stands in for perf_event_open's."""
    import struct

    from grpo4codegen.sandbox import worker as worker_mod
    from grpo4codegen.sandbox.isolation import IsolationConfig
    from grpo4codegen.sandbox.perfcount import InstructionCounter

    opened = []

    def fake_counter(pid=0):
        fd = os.memfd_create("fake-perf-counter")
        os.write(fd, struct.pack("q", 123_456))
        opened.append(pid)
        return InstructionCounter(fd), "available"

    monkeypatch.setattr(worker_mod, "open_counter", fake_counter)
    config = IsolationConfig(network=False, filesystem=False, drop_privileges=False, seccomp=False)
    w = worker_mod.Worker(config)
    w.instructions = "available"
    with Executor(workers=1) as ex:
        job, body = ex._job(Submission(add_problem, ADD_REFERENCE), ALL_METRICS)
    header, tail = w.run_job(job, body)
    w.cleanup()
    # every test returned a value (its size; with its traced figures, a dict with the size as "b")
    assert all(type(t) is int or "b" in t for t in header["tests"]), header
    assert header["kernel"]["instructions"] == 123_456
    children = [pid for pid in opened if pid]  # (the worker's own probe at start-up opens pid 0)
    assert len(children) == 1 and children[0] != os.getpid()  # on the child, from outside


@pytest.mark.parametrize("metrics", [("time",), ("time", "memory", "steps")])
def test_annotations_are_evaluated_as_plain_python_does(executor, add_problem, metrics):
    """Our modules use `from __future__ import annotations`; compile() passes that on unless told not
    to. A solution annotated with a name that does not exist fails to load, as in plain Python."""
    code = "class Solution:\n    def add(self, a: NoSuchType, b):\n        return a + b\n"
    r = executor.run(add_problem, code, Limits(metrics=metrics))
    assert [t.exec_outcome for t in r.tests] == [ExecOutcome.RUNTIME_ERROR] * 3
    assert "NameError" in r.tests[0].error
    assert executor.run(add_problem, code.replace("NoSuchType", "int"), Limits(metrics=metrics)).all_passed


def test_warming_runs_only_imports_of_loaded_modules(monkeypatch):
    """WARM text comes from a job's preamble: the forker runs it only if it is nothing but imports of
    modules it has loaded already, of names they hold; nothing else runs, no module is loaded, and
    nothing raised while checking escapes (it runs in the process that forks every child)."""
    import sys
    import types

    from grpo4codegen.sandbox.worker import warm_namespace

    odd = types.ModuleType("g4c_odd_module")
    odd.__getattr__ = lambda name: 1 / 0  # a module-level __getattr__ that fails oddly
    monkeypatch.setitem(sys.modules, "g4c_odd_module", odd)
    assert warm_namespace("from g4c_odd_module import anything") is None

    module = warm_namespace("import math\nfrom collections import *\nfrom heapq import heappush")
    assert module.math.pi > 3 and module.deque and module.heappush and module.__name__ == "solution"
    for text in (
        "import math\nprint('ran')",  # not an import
        "import math\nX = 1",
        "import not_a_module_anywhere",  # not loaded
        "import grpo4codegen.nothing",
        "from math import no_such_name",
        "from . import sibling",  # relative
        "from __future__ import annotations",
        "import math\nif 1: import os",
        "import math as m",  # an `as` name could carry any text: never sent, never run
        "import math\n" * 1000,  # too long
        "import (",  # does not parse
    ):
        assert warm_namespace(text) is None, text


def test_a_preamble_runs_on_the_namespace_warmed_with_its_imports():
    """The executor splits a preamble into its leading imports and the rest; the process that forks the
    children warms a namespace with the imports once, and each child runs only the rest on its own
    copy of it. Nothing a child does to that namespace reaches the next child."""
    from grpo4codegen.sandbox import protocol
    from grpo4codegen.sandbox import worker as worker_mod
    from grpo4codegen.sandbox.isolation import IsolationConfig

    preamble = 'import math\nfrom collections import *\n\n"""Not the module\'s docstring."""\nLIMIT = 7\n'
    assert protocol.split_preamble(preamble)[0] == "import math\nfrom collections import *"
    assert protocol.split_preamble("from __future__ import annotations\nimport math\n") is None
    assert protocol.split_preamble("import math\n")[1] is None  # nothing but imports: no rest to run
    code = (
        "class Solution:\n    def add(self, a, b):\n"
        "        global LIMIT, WARMED\n        seen = (WARMED, LIMIT, isinstance(deque(), deque), __doc__)\n"
        "        LIMIT, WARMED = -1, 'changed by an earlier child'\n        return list(seen)\n"
    )
    problem = make_problem("add", ["assert candidate(a=1, b=2) == 3"], ADD_REFERENCE, preamble=preamble)
    config = IsolationConfig(network=False, filesystem=False, drop_privileges=False, seccomp=False)
    w = worker_mod.Worker(config)
    with Executor(workers=1) as ex:
        job, body = ex._job(Submission(problem, code), Limits())
    assert job["preamble_imports"] == "import math\nfrom collections import *"
    # the first job warms the namespace; a marker put in it afterwards shows the children use it
    for k in range(3):
        header, tail = w.run_job(job, body)
        w.cleanup()
        if k == 0:
            w.warm_namespaces[job["preamble_imports"]].WARMED = "warm"
        else:
            assert json.loads(tail[protocol.VALUE_HEAD.size :]) == ["warm", 7, True, None]
    assert w.spawner.warm(job["preamble_imports"])  # (the forker's answer: it has it)


def test_the_forker_warms_on_request():
    """The supervisor's WARM request reaches the forker, which answers whether it warmed a namespace."""
    import _socket
    import threading

    from grpo4codegen.sandbox import worker as worker_mod
    from grpo4codegen.sandbox.isolation import IsolationConfig

    w = worker_mod.Worker(
        IsolationConfig(network=False, filesystem=False, drop_privileges=False, seccomp=False)
    )
    theirs, ours = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    forker = threading.Thread(target=worker_mod._forker, args=(w, ours), daemon=True)
    forker.start()
    remote = worker_mod.RemoteSpawner(theirs, 0)
    assert remote.warm("from math import *") and "from math import *" in w.warm_namespaces
    assert not remote.warm("import math\nprint('not an import')")
    assert not remote.warm("x" * (1 << 17))  # over the message size: not even sent
    theirs.close()
    forker.join(5)
    assert not forker.is_alive()


def _spin_or_sleep(body: str) -> str:
    return f"import time\nclass Solution:\n    def add(self, a, b):\n{body}        return a + b\n"


def test_time_limits_are_cpu_time_with_a_wall_clock_backstop(executor, add_problem):
    """A test may use `time_s` of CPU, read from the kernel's clock of the child: computing past it
    times out even within the old wall-clock slack; waiting (not computing) passes until the
    wall-clock backstop, WALL_FACTOR times the limit."""
    from grpo4codegen.sandbox.worker import FRAME_SLACK_S, WALL_FACTOR

    limits = Limits(time_s=0.3, total_time_s=5.0)
    spin = "        end = time.process_time() + 0.45\n        while time.process_time() < end:\n            pass\n"
    r = executor.run(add_problem, _spin_or_sleep(spin), limits)
    assert r.ok and [t.exec_outcome for t in r.tests] == [ExecOutcome.TIME_LIMIT_EXCEEDED] * 3
    assert "CPU time" in r.tests[0].error
    assert 0.45 < 0.3 + FRAME_SLACK_S  # (the old wall-clock rule would have let it pass)
    r = executor.run(add_problem, _spin_or_sleep("        time.sleep(0.45)\n"), limits)
    assert r.all_passed, [t.error for t in r.tests]
    r = executor.run(add_problem, _spin_or_sleep("        time.sleep(30)\n"), limits)
    assert [t.exec_outcome for t in r.tests] == [ExecOutcome.TIME_LIMIT_EXCEEDED] * 3
    assert "wall-clock" in r.tests[0].error
    assert r.wall_time < 0.3 * WALL_FACTOR + FRAME_SLACK_S + 3


def test_a_cpu_deadline_carries_its_reason_before_it_passes(monkeypatch):
    """The worker compares the deadline it gets with the clock a moment later: a CPU deadline a few
    microseconds ahead is then already past, and the child is killed on it. Its reason must be the
    CPU time, not the generic text (a flaky "time limit exceeded" under load, before)."""
    from grpo4codegen.sandbox import protocol
    from grpo4codegen.sandbox import worker as worker_mod
    from grpo4codegen.sandbox.isolation import IsolationConfig

    w = worker_mod.Worker(IsolationConfig())
    now = time.monotonic()
    w._deadline, w._cpu_budget, w._cpu = now + 100.0, 100.0, 0.0
    st = worker_mod._ChildState(pid=1, order=[0], forked_at=now, traced=False)
    st.begun, st.page, st.mark, st.mark_cpu = True, (0, protocol.PHASE_CALL, now), (0, True), 0.0
    job = {"time_s": 0.5}
    for used, reason in ((0.5 - 1e-9, "(CPU time)"), (0.6, "(CPU time)"), (100.0 - 1e-9, "(total CPU time)")):
        monkeypatch.setattr(worker_mod, "_child_cpu", lambda pid, used=used: used)
        st.mark_cpu = 0.0 if used < 1 else used - 0.1  # (the last one: this test has used 0.1 s only)
        deadline = w._cpu_deadline(job, st, 0)
        assert deadline <= time.monotonic() + 1e-3 and st.timeout_why.endswith(reason), (used, st.timeout_why)
    # a sleeper near the wall-clock backstop (1.5 s here, with 0.5 s of CPU still unused): the wall decides
    monkeypatch.setattr(worker_mod, "_child_cpu", lambda pid: 0.0)
    st.page, st.mark, st.mark_cpu = (0, protocol.PHASE_CALL, time.monotonic() - 1.8), None, 0.0
    assert w._cpu_deadline(job, st, 0) > time.monotonic() and "wall-clock" in st.timeout_why


def test_a_wait_for_a_core_moves_only_its_own_tests_deadline(monkeypatch):
    """A timed test's wall-clock deadline moves on by the time the kernel saw the child wait for a
    core during that test (counted from when it has run `DELAY_BASE_AFTER_S`), and by nothing else: a
    wait earned in an earlier test (with the child's own threads, paid for with that test's CPU) does
    not move a later test's deadline. Carried over, it let a later test sleep past its backstop and
    pass (ten tests of hashing threads, then a test that slept 5.5 s with a 3.5 s backstop)."""
    from grpo4codegen.sandbox import protocol
    from grpo4codegen.sandbox import worker as worker_mod
    from grpo4codegen.sandbox.isolation import IsolationConfig

    w = worker_mod.Worker(IsolationConfig())
    now = time.monotonic()
    w._deadline, w._cpu_budget, w._cpu = now + 100.0, 100.0, 0.0
    waited = [10.0]  # the kernel's figure for the child's main thread, seconds
    monkeypatch.setattr(worker_mod, "_child_cpu", lambda pid: 0.0)  # (a sleeper: no CPU)
    monkeypatch.setattr(worker_mod, "_run_delay", lambda pid: waited[0])
    st = worker_mod._ChildState(pid=1, order=[0, 1], forked_at=now, traced=False)
    # test 0 started 5 s ago, test 1 3 s ago: with 1 s of CPU unused, the wall-clock backstop (3.5 s,
    # plus what is credited) decides while it is less than a second away
    st.begun, st.page = True, (0, protocol.PHASE_CALL, now - 5.0)
    backstop = 1.0 * worker_mod.WALL_FACTOR + worker_mod.FRAME_SLACK_S
    job = {"time_s": 1.0}
    assert w._cpu_deadline(job, st, 0) == pytest.approx(now - 5.0 + backstop)  # no base read yet
    assert not worker_mod._waited_for_a_core(st)  # (nothing to credit before the base is read)
    st.mark_at -= worker_mod.DELAY_BASE_AFTER_S  # it has run a while: the base is read
    w._cpu_deadline(job, st, 0)
    assert st.delay_base == 10.0
    waited[0] = 12.0  # it then waited 2 s for a core
    assert worker_mod._waited_for_a_core(st)
    assert w._cpu_deadline(job, st, 0) == pytest.approx(now - 5.0 + backstop + 2.0)
    st.next, later = 1, time.monotonic() - 3.0  # test 0 reported; test 1 runs
    st.page = (1, protocol.PHASE_CALL, later)
    assert w._cpu_deadline(job, st, 1) == pytest.approx(later + backstop)  # the 2 s stayed with test 0
    assert not worker_mod._waited_for_a_core(st) and st.run_delay == 0.0


def test_total_time_limit_is_cpu_time(executor):
    """The submission's total is CPU time too: many tests that each stay under the per-test limit
    still time out once together they used `total_time_s` of CPU."""
    many = make_problem("add", [f"assert candidate(a={k}, b=1) == {k + 1}" for k in range(12)], ADD_REFERENCE)
    spin = "        end = time.process_time() + 0.1\n        while time.process_time() < end:\n            pass\n"
    r = executor.run(many, _spin_or_sleep(spin), Limits(time_s=0.5, total_time_s=0.55))
    outcomes = [t.exec_outcome for t in r.tests]
    assert r.ok and ExecOutcome.TIME_LIMIT_EXCEEDED in outcomes and outcomes[0] is ExecOutcome.PASSED
    assert 4 <= outcomes.index(ExecOutcome.TIME_LIMIT_EXCEEDED) <= 6


@contextlib.contextmanager
def _one_busy_core(busy: int):
    """This process (and the pool it starts) on one core, shared with `busy` processes that spin, each
    its own session (one scheduling group each, as a child is)."""
    import subprocess
    import sys

    core = min(os.sched_getaffinity(0))
    saved = os.sched_getaffinity(0)
    hog = "import os, sys\nos.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True:\n    pass\n"
    hogs = [
        subprocess.Popen([sys.executable, "-c", hog, str(core)], start_new_session=True) for _ in range(busy)
    ]
    try:
        os.sched_setaffinity(0, {core})  # the pool's processes inherit it
        yield
    finally:
        os.sched_setaffinity(0, saved)
        for h in hogs:
            h.kill()
            h.wait()


def test_a_loaded_machine_slows_a_solution_without_failing_it(add_problem):
    """Four busy processes (each its own session, as the child is: one scheduling group each) share the one core the pool runs on: the solution's wall time grows past
    what the old wall-clock limit allowed, its verdicts do not change (the CPU time it needs is under
    the limit)."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("needs sched_setaffinity")
    spin = "        end = time.process_time() + 0.3\n        while time.process_time() < end:\n            pass\n"
    with _one_busy_core(busy=4), Executor(workers=1) as ex:
        r = ex.run(add_problem, _spin_or_sleep(spin), Limits(time_s=0.5, total_time_s=5.0))
    assert r.all_passed, [t.error for t in r.tests]
    from grpo4codegen.sandbox.worker import FRAME_SLACK_S

    assert max(t.time_consumed for t in r.tests) > 0.5 + FRAME_SLACK_S  # past the old wall-clock limit


def test_a_solution_kept_from_the_core_by_its_neighbours_is_not_timed_out():
    """Nine busy processes, each its own session, share the pool's one core: the child gets about a
    tenth of it, and a test that needs 0.2 s of CPU (limit 0.25 s) takes about 2 s, past the
    wall-clock backstop (3 x 0.25 + 0.5 s). The kernel saw the child wait for the core all that time,
    so the backstop moved on by that wait: PASSED, where it used to be TIME_LIMIT_EXCEEDED (what a
    neighbour that keeps the cores busy, where the kernel does not group its threads by session, made
    of an honest solution). A sleeper under the same load still meets the backstop: sleeping is not
    waiting for a core."""
    if not hasattr(os, "sched_setaffinity") or not os.path.exists("/proc/self/schedstat"):
        pytest.skip("needs sched_setaffinity and the kernel's scheduler statistics")
    one = make_problem("add", ["assert candidate(a=1, b=2) == 3"], ADD_REFERENCE)
    limits = Limits(time_s=0.25, total_time_s=5.0)
    spin = "        end = time.process_time() + 0.2\n        while time.process_time() < end:\n            pass\n"
    with _one_busy_core(busy=9), Executor(workers=1) as ex:
        starved = ex.run(one, _spin_or_sleep(spin), limits)
        sleeper = ex.run(one, _spin_or_sleep("        time.sleep(3)\n"), limits)
    from grpo4codegen.sandbox.worker import FRAME_SLACK_S, WALL_FACTOR

    assert starved.all_passed, [t.error for t in starved.tests]
    assert starved.tests[0].time_consumed > 0.25 * WALL_FACTOR + FRAME_SLACK_S  # past the backstop
    assert sleeper.tests[0].exec_outcome is ExecOutcome.TIME_LIMIT_EXCEEDED
    assert "wall-clock" in sleeper.tests[0].error


LOADING_HOG = """
import hashlib, threading, time
_stop = threading.Event()
_data = b"x" * (4 << 20)
def _hash():
    while not _stop.is_set():
        hashlib.sha256(_data).digest()  # (outside the GIL: the threads keep both cores busy)
_threads = [threading.Thread(target=_hash, daemon=True) for _ in range(12)]
for _t in _threads:
    _t.start()
_end = time.monotonic() + 4.0
while time.monotonic() < _end:  # the main thread runnable, behind its own threads: it waits for a core
    pass
_stop.set()
for _t in _threads:
    _t.join()
class Solution:
    def add(self, a, b):
        time.sleep(30)
        return a + b
"""


def test_waits_a_candidate_made_while_loading_are_not_credited_to_its_tests(executor):
    """Loading the solution has a wall-clock limit only, so a wait for a core there may be one the
    candidate made itself (its own threads busy, its main thread behind them): it does not move the
    deadlines of its tests. Here 4 s of loading with twelve hashing threads (about 1.6 s of waiting
    for a core), then a test that sleeps: timed out at the usual backstop (3 x 1 s + 0.5 s) after
    7.6 s in all, where crediting the wait took 9.2 s."""
    one = make_problem("add", ["assert candidate(a=1, b=2) == 3"], ADD_REFERENCE)
    r = executor.run(one, LOADING_HOG, Limits(time_s=1.0, total_time_s=20.0))
    assert [t.exec_outcome for t in r.tests] == [ExecOutcome.TIME_LIMIT_EXCEEDED], r.tests[0].error
    assert "wall-clock" in r.tests[0].error
    assert r.wall_time < 4.0 + 3.5 + 1.0, r.wall_time  # loading, the backstop, slack (9.2 s when credited)


def test_bench_sandbox_reports_its_figures(capsys):
    """`bench sandbox` on a few built-in problems, without the slow runs: the target figures come out
    as numbers, the skipped runs as null, and every configuration passes every test."""
    import json

    from grpo4codegen.cli import main

    argv = ["bench", "sandbox", "--dataset", "builtin", "--limit", "3"]
    assert main([*argv, "--skip-process-per-test", "--skip-metrics", "--paired"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out.strip().splitlines()[-1])
    assert math.isfinite(summary["overhead_ms_per_submission_paired"])
    assert f"passed {summary['tests']} and {summary['tests']}" in out  # the paired runs pass every test
    assert (
        summary["problems"] == 3
        and summary["passed"]["ours"] == summary["passed"]["floor"] == summary["tests"]
    )
    assert summary["floor_over_ours"] > 0 and math.isfinite(summary["overhead_ms_per_submission"])
    assert summary["speedup_vs_process_per_test"] is None and summary["floor_over_ours_metrics"] is None


def test_children_start_from_the_same_state(executor, add_problem):
    """Children are forked without CPython's at-fork hooks (`bare_fork`), from a forker that rehearsed
    the harness: each starts from the same `random` state (the same submission draws the same
    numbers on every run, on every worker), and with no namespace left over from the rehearsal."""
    code = (
        "import random, sys\nclass Solution:\n    def add(self, a, b):\n"
        "        return [random.random(), random.randrange(10**9), sorted(sys.modules['solution'].__dict__)]\n"
    )
    runs = [[t.result for t in executor.run(add_problem, code).tests] for _ in range(4)]
    assert all(run == runs[0] for run in runs), runs  # test by test, the same draws in every run
    assert len(set(runs[0])) == 3  # (the tests of a run share one child: its draws go on)
    assert all('"Pair"' not in shown for shown in runs[0])  # (a name the rehearsal's preamble defines)


def test_the_forker_forks_each_child_ahead_of_its_job(add_problem):
    """The forker's spawner forks the next child before its job comes (`LocalSpawner.prepare`) and
    hands the job to it; a standby child that died or was stopped meanwhile is reaped, and the job
    gets a child forked there and then. Either way the job runs as it would have."""
    from grpo4codegen.sandbox import worker as worker_mod
    from grpo4codegen.sandbox.isolation import IsolationConfig

    w = worker_mod.Worker(
        IsolationConfig(network=False, filesystem=False, drop_privileges=False, seccomp=False)
    )
    spawner = worker_mod.LocalSpawner(w, forker=True)
    w.spawner = spawner
    with Executor(workers=1) as ex:
        job, body = ex._job(Submission(add_problem, ADD_REFERENCE), Limits())
    try:
        for damage in (None, signal.SIGKILL, signal.SIGSTOP):
            spawner.prepare()
            standby = spawner._standby[0]
            if damage is not None:
                os.kill(standby, damage)
                time.sleep(0.05)
            header, tail = w.run_job(job, body)
            child = w._alive[0].pid
            w.cleanup()
            assert all(type(t) is int for t in header["tests"]), header  # every test returned a value
            assert (child == standby) == (damage is None)
            assert spawner._standby is None  # (used, or reaped: the next comes at the next prepare)
            with pytest.raises(ChildProcessError):
                os.waitpid(standby, os.WNOHANG)  # the standby was reaped, not left a zombie
    finally:
        spawner.close()


def test_text_of_a_str_subclass_runs_as_plain_text(executor, add_problem):
    """A problem or a submission may hold its text as a subclass of str (numpy's str_, from a parquet
    file): the job, which travels marshalled, carries it as plain text."""
    import dataclasses

    class Text(str):
        pass

    problem = dataclasses.replace(
        add_problem, entry_point=Text(add_problem.entry_point), preamble=Text(add_problem.preamble)
    )
    assert executor.run(problem, Text(ADD_REFERENCE)).all_passed
