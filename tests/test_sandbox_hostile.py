"""Hostile submissions: each is contained with the right outcome while the pool keeps serving others."""

from __future__ import annotations

import os
import socket
import textwrap
import threading

import pytest

from grpo4codegen.sandbox.types import ExecOutcome, Limits

from .conftest import ADD_REFERENCE, make_problem

FAST = Limits(time_s=1.0, total_time_s=10.0, memory_mb=256)


def solution(body: str, header: str = "") -> str:
    """A `Solution.add(a, b)` whose body is `body` (indented for the method)."""
    return (
        textwrap.dedent(header)
        + "class Solution:\n    def add(self, a, b):\n"
        + textwrap.indent(textwrap.dedent(body), "        ")
    )


def outcomes(result) -> list[str]:
    return [t.exec_outcome.value for t in result.tests]


@pytest.fixture(autouse=True)
def pool_still_serves(executor, add_problem):
    """After every hostile submission, an honest one still passes and no worker had to be restarted."""
    restarts = executor.stats.worker_restarts
    yield
    honest = executor.run(add_problem, ADD_REFERENCE, FAST)
    assert honest.ok and honest.all_passed, honest
    assert executor.stats.worker_restarts == restarts


def test_infinite_loop_is_time_limited(executor, add_problem):
    r = executor.run(add_problem, solution("while True:\n    pass\n"), Limits(time_s=0.5, total_time_s=5))
    assert r.ok
    assert outcomes(r) == ["TIME_LIMIT_EXCEEDED"] * 3
    assert [t.skipped for t in r.tests] == [False, True, True]  # after a time-out the rest are not run
    assert r.wall_time < 3


def test_ignoring_sigterm_does_not_help(executor, add_problem):
    code = solution(
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n", "import signal\n"
    )
    r = executor.run(add_problem, code, Limits(time_s=0.5, total_time_s=5))
    assert outcomes(r)[0] == "TIME_LIMIT_EXCEEDED"


def test_fork_bomb_is_denied(executor, add_problem):
    code = solution("while True:\n    os.fork()\n", "import os\n")
    r = executor.run(add_problem, code, FAST)
    assert set(outcomes(r)) == {"RUNTIME_ERROR"}
    assert "Operation not permitted" in r.tests[0].error or "PermissionError" in r.tests[0].error


def test_subprocess_is_denied(executor, add_problem):
    code = solution("return int(subprocess.check_output(['echo', str(a + b)]))\n", "import subprocess\n")
    r = executor.run(add_problem, code, FAST)
    assert set(outcomes(r)) == {"RUNTIME_ERROR"}


def test_memory_bomb_is_memory_limit_exceeded(executor, add_problem):
    code = solution("x = bytearray(8 * 1024 ** 3)\nreturn a + b\n")
    r = executor.run(add_problem, code, FAST)
    assert set(outcomes(r)) == {"MEMORY_LIMIT_EXCEEDED"}


def test_growing_memory_is_memory_limit_exceeded(executor, add_problem):
    code = solution("x = []\nwhile True:\n    x.append([0] * 100000)\n")
    r = executor.run(
        add_problem, code, Limits(time_s=10.0, total_time_s=30.0, memory_mb=256)
    )  # (slow under load)
    assert outcomes(r)[0] == "MEMORY_LIMIT_EXCEEDED"


def test_deep_recursion_is_a_runtime_error(executor, add_problem):
    code = solution("def f(n):\n    return f(n + 1) + 1\nreturn f(0)\n")
    r = executor.run(add_problem, code, FAST)
    assert set(outcomes(r)) == {"RUNTIME_ERROR"}
    assert "RecursionError" in r.tests[0].error


def test_unbounded_c_recursion_crash_is_contained(executor, add_problem):
    code = solution(
        "sys.setrecursionlimit(10 ** 9)\ndef f(n):\n    return eval('f(n + 1)') + 1\nreturn f(0)\n",
        "import sys\n",
    )
    r = executor.run(add_problem, code, FAST)
    assert ExecOutcome.PASSED.value not in outcomes(r)


def test_segfault_through_ctypes_fails_only_that_test(executor, add_problem):
    # crashes on the first test only; the child is re-forked for the remaining tests
    code = solution("if a == 1:\n    ctypes.string_at(0)\nreturn a + b\n", "import ctypes\n")
    r = executor.run(add_problem, code, FAST)
    assert outcomes(r) == ["RUNTIME_ERROR", "PASSED", "PASSED"]
    assert "SIGSEGV" in r.tests[0].error


def test_huge_output_is_contained(executor, add_problem):
    printing = solution("for _ in range(200):\n    print('x' * 100000)\nreturn a + b\n")
    assert outcomes(executor.run(add_problem, printing, FAST)) == ["PASSED"] * 3  # stdout goes nowhere
    huge_result = solution("return 'x' * (50 * 1024 * 1024)\n")
    r = executor.run(
        add_problem, huge_result, Limits(time_s=10.0, total_time_s=30.0, memory_mb=512)
    )  # (slow under load)
    assert outcomes(r)[0] == "RUNTIME_ERROR" and "output limit" in r.tests[0].error


def test_writing_outside_the_workdir_fails(executor, add_problem, tmp_path):
    target = tmp_path / "pwned.txt"
    os.chmod(tmp_path, 0o777)
    code = solution(
        f"open({str(target)!r}, 'w').write('x')\nopen('/etc/pwned', 'w').write('x')\nreturn a + b\n"
    )
    r = executor.run(add_problem, code, FAST)
    assert set(outcomes(r)) == {"RUNTIME_ERROR"}
    assert not target.exists() and not os.path.exists("/etc/pwned")


def test_writing_inside_the_workdir_works(executor, add_problem):
    code = solution("open('scratch.txt', 'w').write(str(a + b))\nreturn int(open('scratch.txt').read())\n")
    assert outcomes(executor.run(add_problem, code, FAST)) == ["PASSED"] * 3


def test_reading_private_and_hidden_files_fails(executor, tmp_path):
    # the answer is in a file the candidate could read if the sandbox let it
    secret = tmp_path / "answer.txt"
    secret.write_text("SECRET-4242")
    os.chmod(tmp_path, 0o755)
    os.chmod(secret, 0o644)  # world-readable, but /tmp is hidden from the sandbox
    problem = make_problem("add", ["assert candidate(a=1, b=2) == 'SECRET-4242'"])
    code = solution(f"return open({str(secret)!r}).read()\n")
    assert outcomes(executor.run(problem, code, FAST)) == ["RUNTIME_ERROR"]
    shadow = solution("return open('/etc/shadow').read()[:0] + 'SECRET-4242'\n")
    assert outcomes(executor.run(problem, shadow, FAST)) == ["RUNTIME_ERROR"]  # root-only file


def test_expected_values_are_not_in_the_sandbox_memory(executor):
    problem = make_problem("add", ["assert candidate(a=1, b=2) == 'SECRET-77c1e5'"])
    code = solution(
        "import gc\nfor o in gc.get_objects():\n"
        "    if isinstance(o, str) and o.startswith('SECRET-') and len(o) == 13:\n        return o\n"
        "    if isinstance(o, (list, dict, tuple)):\n"
        "        for x in (o.values() if isinstance(o, dict) else o):\n"
        "            if isinstance(x, str) and x.startswith('SECRET-') and len(x) == 13:\n                return x\n"
        "return ''\n"
    )
    assert outcomes(executor.run(problem, code, FAST)) == ["WRONG_ANSWER"]


def test_network_is_unreachable(executor, add_problem):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    code = solution(
        f"s = socket.create_connection(('127.0.0.1', {port}), timeout=1)\nreturn a + b\n", "import socket\n"
    )
    r = executor.run(add_problem, code, FAST)
    assert set(outcomes(r)) == {"RUNTIME_ERROR"}
    with pytest.raises(TimeoutError):
        server.accept()
    server.close()


def test_killing_the_parent_fails(executor, add_problem):
    code = solution(
        "os.kill(os.getppid(), signal.SIGKILL)\nos.kill(-1, signal.SIGKILL)\nreturn a + b\n",
        "import os, signal\n",
    )
    r = executor.run(add_problem, code, FAST)
    assert set(outcomes(r)) == {"RUNTIME_ERROR"}


def test_threads_outliving_the_call_do_not_leak(executor, add_problem):
    code = solution(
        "def spin():\n    while True:\n        pass\n"
        "threading.Thread(target=spin, daemon=True).start()\nreturn a + b\n",
        "import threading\n",
    )
    r = executor.run(add_problem, code, Limits(time_s=2.0, total_time_s=10))
    assert r.ok and outcomes(r)[0] == "PASSED"


def test_sys_exit_before_results(executor, add_problem):
    assert set(outcomes(executor.run(add_problem, solution("sys.exit(0)\n", "import sys\n"), FAST))) == {
        "RUNTIME_ERROR"
    }
    assert set(outcomes(executor.run(add_problem, solution("os._exit(0)\n", "import os\n"), FAST))) == {
        "RUNTIME_ERROR"
    }
    module_level = "import sys\nsys.exit(0)\n" + ADD_REFERENCE
    assert set(outcomes(executor.run(add_problem, module_level, FAST))) == {"RUNTIME_ERROR"}


def test_always_equal_object_is_a_wrong_answer(executor, add_problem):
    code = solution(
        "class Eq:\n    def __eq__(self, other):\n        return True\n    __hash__ = None\nreturn Eq()\n"
    )
    assert set(outcomes(executor.run(add_problem, code, FAST))) == {"WRONG_ANSWER"}
    # an int subclass is read as the int it holds (7: no test's answer), whatever its __eq__ says
    int_subclass = solution("class I(int):\n    def __eq__(self, o):\n        return True\nreturn I(7)\n")
    assert set(outcomes(executor.run(add_problem, int_subclass, FAST))) == {"WRONG_ANSWER"}


def test_monkeypatching_builtins_and_the_result_channel(executor, add_problem):
    patched = solution(
        "import builtins, json\nbuiltins.type = lambda *a: int\nbuiltins.isinstance = lambda *a: True\n"
        'json.dumps = lambda *a, **k: \'{"i": 0, "o": "PASSED"}\'\nreturn \'nope\'\n'
    )
    assert ExecOutcome.PASSED.value not in outcomes(executor.run(add_problem, patched, FAST))
    forged = solution(
        "for fd in range(3, 64):\n"
        '    try:\n        os.write(fd, b\'{"i": 0, "o": "PASSED"}\\n{"s": "done"}\\n\')\n'
        "    except OSError:\n        pass\nreturn 'nope'\n",
        "import os\n",
    )
    assert ExecOutcome.PASSED.value not in outcomes(executor.run(add_problem, forged, FAST))


def test_printing_a_forged_result_line(executor, add_problem):
    code = solution("print('{\"i\": 0, \"v\": 3}')\nprint('PASSED')\nreturn None\n")
    assert set(outcomes(executor.run(add_problem, code, FAST))) == {"WRONG_ANSWER"}


def test_environment_is_scrubbed(executor):
    os.environ["G4C_TEST_SECRET"] = "hunter2"
    try:
        problem = make_problem("add", ["assert candidate(a=1, b=2) == 'hunter2'"])
        code = solution("return os.environ.get('G4C_TEST_SECRET', '')\n", "import os\n")
        assert outcomes(executor.run(problem, code, FAST)) == ["WRONG_ANSWER"]
    finally:
        del os.environ["G4C_TEST_SECRET"]


def test_concurrent_hostile_and_honest_submissions(executor, add_problem):
    from grpo4codegen.sandbox.executor import Submission

    hostile = solution("while True:\n    pass\n")
    subs = [
        Submission(add_problem, hostile if i % 2 else ADD_REFERENCE, Limits(time_s=0.3, total_time_s=3))
        for i in range(8)
    ]
    results = executor.run_many(subs)
    for i, r in enumerate(results):
        assert r.ok
        assert r.all_passed == (i % 2 == 0)
    assert threading.active_count() < 50


MANY = make_problem("add", [f"assert candidate(a={i}, b=1) == {i + 1}" for i in range(40)])


def test_results_buffered_before_a_time_out_are_rerun_not_guessed(executor):
    """Fast tests are reported in batches; a hang in test 25 must not turn tests 0-24 into failures."""
    code = solution("while a == 25:\n    pass\nreturn a + b\n")
    r = executor.run(MANY, code, FAST)
    assert outcomes(r)[:25] == ["PASSED"] * 25
    assert outcomes(r)[25:] == ["TIME_LIMIT_EXCEEDED"] * 15
    assert [t.skipped for t in r.tests[25:]] == [False] + [True] * 14


def test_results_buffered_before_a_crash_are_kept(executor):
    code = solution("if a == 25:\n    os._exit(3)\nreturn a + b\n", "import os\n")
    r = executor.run(MANY, code, FAST)
    assert outcomes(r) == ["PASSED"] * 25 + ["RUNTIME_ERROR"] + ["PASSED"] * 14
    assert "status 3" in r.tests[25].error


def test_forged_records_cannot_pass_or_hang_the_worker(executor, add_problem):
    """The wire format is public: forged VALUE/DONE records, then spinning, gain nothing and stall nothing."""
    forge = solution(
        """
        from grpo4codegen.sandbox import protocol
        payload = protocol.value_payload(0.0, 0.0, None, '{"x": 1, "y": 2}')
        for fd in range(3, 64):
            try:
                os.write(fd, protocol.RECORD.pack(protocol.VALUE, 0, len(payload)) + payload)
                os.write(fd, protocol.RECORD.pack(protocol.DONE, 0, 0))
            except OSError:
                pass
        while True:
            pass
        """,
        "import os\n",
    )
    r = executor.run(add_problem, forge, FAST)
    assert r.ok and ExecOutcome.PASSED.value not in outcomes(r)
    assert r.wall_time < 5  # DONE ended the job; the spinning child was killed, not waited for


# -- the trust boundary is the process: clocks, counters, the protocol and the progress page ----------
BUSY = "s = 0\nfor i in range(1_000_000):\n    s += i\n"
REBIND_CLOCKS = """
import gc, sys, time, types
zero = lambda *args, **kwargs: 0.0
names = ("perf_counter", "thread_time", "process_time", "monotonic", "time", "perf_counter_ns",
         "thread_time_ns", "process_time_ns", "_perf", "_cpu", "_process_cpu", "_getrusage")
for module in list(sys.modules.values()):
    for name in names:
        if isinstance(getattr(module, name, None), (types.BuiltinFunctionType, types.FunctionType)):
            try:
                setattr(module, name, zero)
            except Exception:
                pass
for obj in gc.get_objects():  # harness state the modules do not name: functions' globals
    if isinstance(obj, dict) and "_perf" in obj and "_cpu" in obj:
        obj["_perf"] = obj["_cpu"] = zero
"""


def test_rebinding_every_clock_does_not_lower_the_kernel_cpu(executor, add_problem):
    honest = executor.run(add_problem, solution(BUSY + "return a + b\n"), FAST)
    forged = executor.run(add_problem, solution(BUSY + "return a + b\n", REBIND_CLOCKS), FAST)
    assert honest.all_passed and forged.all_passed  # the answers are right: only the figures were attacked
    assert sum(t.cpu_time or 0.0 for t in forged.tests) < 0.01  # the claims were forged to nothing...
    # ...the kernel's figure was not (CPU time of the same work varies by tens of percent on a loaded
    # machine, so the bound is half the honest run's: the forgery aimed at zero; the honest figure is
    # well above the forged claims, 25 to 60 ms on the machines this runs on)
    assert honest.cpu_time_kernel > 0.02
    assert forged.cpu_time_kernel >= 0.5 * honest.cpu_time_kernel


def test_rebinding_tracemalloc_and_steps_does_not_lower_the_kernel_memory(executor, add_problem):
    code = solution(
        "globals()['__g4c_tick__'] = int\nx = list(range(2_000_000))\nreturn a + b\n",
        """
        import _tracemalloc, gc, tracemalloc
        for obj in gc.get_objects():
            if isinstance(obj, dict) and "_tm_get" in obj:
                obj["_tm_get"] = lambda: (0, 0)
        _tracemalloc.get_traced_memory = tracemalloc.get_traced_memory = lambda: (0, 0)
        """,
    )
    r = executor.run(
        add_problem, code, Limits(time_s=2.0, total_time_s=10.0, metrics=("time", "memory", "steps"))
    )
    assert r.all_passed
    assert r.peak_memory_kernel > 50 << 20  # 2 million ints: the kernel saw them whatever tracemalloc says


def record(kind: str, payload: str = "") -> str:
    """Source of a function writing one raw protocol record to every descriptor the child may hold."""
    return f"""
def forge():
    import os, struct
    data = {payload.encode()!r}
    raw = struct.pack("<cII", {kind.encode()!r}, 0, len(data)) + data
    for fd in range(3, 64):
        try:
            os.write(fd, raw)
        except OSError:
            pass
"""


FORGED = {
    "INFRA": record("I", '{"e": "not my fault"}'),
    "LAYERS": record("L", '{"seccomp": "active"}'),
    "SETUP": record("S", '{"o": "COMPILATION_ERROR", "e": "x"}'),
    "BEGIN": record("B", "\0" * 16),
    "METRICS": record("M", '{"mc": 0, "mp": 0, "st": 0}'),
    "DONE": record("D"),
}


@pytest.mark.parametrize("kind", sorted(FORGED))
@pytest.mark.parametrize("where", ["call", "module"])
def test_forged_records_after_begin_are_the_candidates_failure(executor, add_problem, kind, where):
    """After BEGIN only values, errors and DONE are accepted: a forged INFRA never becomes an
    infrastructure failure, a forged SETUP never a compilation error, and nothing passes."""
    if where == "call":
        code = solution("forge()\nreturn a + b\n", FORGED[kind])
    else:
        code = FORGED[kind] + "forge()\n" + ADD_REFERENCE
    r = executor.run(add_problem, code, FAST)
    assert r.ok, r.infra_error
    assert "PASSED" not in outcomes(r) and "COMPILATION_ERROR" not in outcomes(r)


def test_closing_the_result_pipe_and_spinning(executor, add_problem):
    code = solution(
        "for fd in range(3, 64):\n    try:\n        os.close(fd)\n    except OSError:\n        pass\n"
        "while True:\n    pass\n",
        "import os\n",
    )
    r = executor.run(add_problem, code, FAST)
    assert r.ok and set(outcomes(r)) == {"RUNTIME_ERROR"} and r.wall_time < 5


def find_page() -> str:
    return """
import gc, mmap, struct, time
from grpo4codegen.sandbox import protocol
PAGE = next(o for o in gc.get_objects() if type(o).__name__ == "RecordWriter").page
def write_page(test, phase, started, check=None):
    if check is None:
        check = protocol._check(test, phase, started)
    struct.pack_into("<iidQ", PAGE, 0, test, phase, started, check)
"""


PAGE_ATTACKS = {
    "backwards": "write_page(-1, protocol.PHASE_LOADING, time.monotonic())",
    "future": "write_page(a if a > 0 else 0, protocol.PHASE_CALL, time.monotonic() + 1000)",
    "rewritten_start": "write_page(0, protocol.PHASE_CALL, time.monotonic())",
    "nan": "write_page(1, protocol.PHASE_CALL, float('nan'), 12345)",
    "inf": "write_page(1, protocol.PHASE_CALL, float('inf'), 12345)",
    "out_of_order": "write_page(99, protocol.PHASE_CALL, time.monotonic())",
    "garbage": "PAGE[:24] = b'\\xff' * 24",
}


@pytest.mark.parametrize("attack", sorted(PAGE_ATTACKS))
def test_forging_the_progress_page(executor, add_problem, attack):
    """The page is the candidate's claim after BEGIN: a page moved backwards, into the future, out of
    the test order, to NaN or garbage is ignored, so the candidate's test times out; it never crashes
    the worker, never turns into an infrastructure failure, never extends the limits."""
    # (after a moment: the worker has seen the first test start; see the next test for the other case)
    code = solution("time.sleep(0.2)\n" + PAGE_ATTACKS[attack] + "\nwhile True:\n    pass\n", find_page())
    r = executor.run(add_problem, code, Limits(time_s=0.5, total_time_s=5.0, memory_mb=256))
    assert r.ok, r.infra_error
    assert outcomes(r) == ["TIME_LIMIT_EXCEEDED"] * 3 and "CPU time" in r.tests[0].error
    assert r.wall_time < 3.5  # one test's limit at most, never the total


@pytest.mark.parametrize("attack", ["backwards", "garbage"])
def test_forging_the_progress_page_before_the_first_test_is_seen(executor, add_problem, attack):
    """Before the worker has seen a first test start, "still loading" cannot be told from a forged
    page: the first test then has the loading allowance (which module-level code may use anyway),
    measured by the worker's clock from BEGIN, never the submission's total."""
    from grpo4codegen.sandbox.worker import FRAME_SLACK_S, SETUP_ALLOWANCE_S

    code = solution(PAGE_ATTACKS[attack] + "\nwhile True:\n    pass\n", find_page())
    r = executor.run(add_problem, code, Limits(time_s=0.5, total_time_s=30.0, memory_mb=256))
    assert r.ok and "PASSED" not in outcomes(r)
    assert outcomes(r) == ["TIME_LIMIT_EXCEEDED"] * 3
    assert r.wall_time < SETUP_ALLOWANCE_S + 0.5 + FRAME_SLACK_S + 1.5


def test_moving_the_progress_page_forward_cannot_outlast_the_total(executor):
    """A thread that keeps claiming the next test started cannot be told from buffered results; it
    can stretch one test only within the submission's total (and one rerun allowance)."""
    code = solution(
        "def advance():\n    for k in range(1, 40):\n        time.sleep(0.3)\n"
        "        write_page(k, protocol.PHASE_CALL, time.monotonic())\n"
        "threading.Thread(target=advance, daemon=True).start()\nwhile True:\n    pass\n",
        find_page() + "import threading\n",
    )
    from grpo4codegen.sandbox.worker import WALL_FACTOR

    r = executor.run(MANY, code, Limits(time_s=0.5, total_time_s=3.0, memory_mb=256))
    assert r.ok and "PASSED" not in outcomes(r)
    # the limits are CPU time (4.5 s here, unloaded): the total, one rerun allowance, slack; the wall
    # clock only within its backstop, since a loaded machine stretches it (12.8 s under load 4)
    assert r.cpu_time_kernel is not None and r.cpu_time_kernel < 3.0 + 6.5 + 2, r.cpu_time_kernel
    assert r.wall_time < (3.0 + 6.5) * WALL_FACTOR + 2, r.wall_time


def test_rebinding_the_progress_clock(executor, add_problem):
    """The clock the child stamps the page with is rebound before the first test, which then spins:
    a start at 0, in the future or NaN is ignored, so the page still shows the solution loading: the
    test times out within the loading allowance, never later."""
    from grpo4codegen.sandbox.worker import FRAME_SLACK_S, SETUP_ALLOWANCE_S

    for clock in ("lambda: 0.0", "lambda: real() + 1000", "lambda: float('nan')"):
        code = (
            "from grpo4codegen.sandbox import protocol\n"
            f"real = protocol._monotonic\nprotocol._monotonic = {clock}\n"
            + solution("while True:\n    pass\n")
        )
        r = executor.run(add_problem, code, Limits(time_s=0.5, total_time_s=5.0))
        # (a NaN start breaks the harness's own page write in the child: its runtime error)
        assert r.ok and set(outcomes(r)) <= {"TIME_LIMIT_EXCEEDED", "RUNTIME_ERROR"}, (clock, outcomes(r))
        assert r.wall_time < SETUP_ALLOWANCE_S + 0.5 + FRAME_SLACK_S + 1.5


def test_patching_the_job_in_the_child_changes_no_limit(executor, add_problem):
    code = solution(
        "while True:\n    pass\n",
        """
        import gc
        for obj in gc.get_objects():
            if isinstance(obj, dict) and "time_s" in obj and "tests" in obj:
                obj.update(time_s=1000.0, total_time_s=1000.0, stop_on_first_fail=False)
        """,
    )
    r = executor.run(add_problem, code, Limits(time_s=0.5, total_time_s=5.0))
    assert outcomes(r)[0] == "TIME_LIMIT_EXCEEDED" and r.wall_time < 3


def test_compiler_bombs_are_compilation_errors(executor, add_problem):
    for code in (
        "x = " + "(" * 5000 + ")" * 5000,
        "x = " + "1 + " * 200_000 + "1",
        "x = [" * 3000 + "]" * 3000,
    ):
        r = executor.run(add_problem, code + "\n" + ADD_REFERENCE, FAST)
        assert r.ok and set(outcomes(r)) == {"COMPILATION_ERROR"}, (code[:20], outcomes(r), r.tests[0].error)


HOLD_200_MIB = """
x = bytearray(200 << 20)
for i in range(0, len(x), 4096):
    x[i] = 1
del x
"""


@pytest.mark.parametrize(
    "forgery",
    [
        # the process name is the first line of /proc/<pid>/status, where the worker reads VmHWM
        "ctypes.CDLL(None).prctl(15, b'VmHWM:\\t0 kB', 0, 0, 0)",
        "ctypes.CDLL(None).prctl(15, b'x\\nVmHWM:\\t0 kB', 0, 0, 0)",
        # dumpable again, its /proc files would be its own: clear_refs 5 resets the peak RSS
        "ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)\ntry:\n    open('/proc/self/clear_refs', 'w').write('5')\n"
        "except OSError:\n    pass",
    ],
    ids=["name", "name-newline", "clear-refs"],
)
def test_the_kernel_peak_memory_cannot_be_forged(executor, add_problem, forgery):
    code = solution("return a + b\n", "import ctypes\n" + HOLD_200_MIB + forgery + "\n")
    r = executor.run(add_problem, code, Limits(time_s=2.0, total_time_s=10.0, memory_mb=512))
    assert r.all_passed, r
    assert r.peak_memory_kernel > 150 << 20


def test_memory_files_are_denied(executor, add_problem):
    # memory in a memory file is outside the address-space limit and the peak-memory figure
    code = solution("return a + b\n", "import os\nfd = os.memfd_create('m')\n")
    r = executor.run(add_problem, code, FAST)
    assert set(outcomes(r)) == {"RUNTIME_ERROR"}
    assert "PermissionError" in r.tests[0].error


def test_a_value_the_comparison_cannot_handle_is_a_wrong_answer(executor):
    # 10**400 is valid JSON with 401 digits; compared with a float it overflows the conversion
    problem = make_problem(
        "avg",
        ["assert candidate(a=1) == 2.5"],
        "class Solution:\n    def avg(self, a):\n        return 2.5\n",
    )
    r = executor.run(problem, "class Solution:\n    def avg(self, a):\n        return 10**400\n", FAST)
    assert r.ok and outcomes(r) == ["WRONG_ANSWER"], r


def test_all_tests_output_together_is_capped_as_the_candidates_failure(executor, monkeypatch):
    # each value is under the per-test cap, together over the reply's: the candidate's failure, never
    # a frame the executor cannot read (an infrastructure failure, unscored)
    problem = make_problem("big", [f"assert candidate(a={i}) == 'x'" for i in range(6)], "")
    code = "class Solution:\n    def big(self, a):\n        return 'y' * (30 << 20)\n"
    r = executor.run(
        problem, code, Limits(time_s=5.0, total_time_s=30.0, memory_mb=1024, output_bytes=32 << 20)
    )
    assert r.ok, r.infra_error
    assert set(outcomes(r)) <= {"WRONG_ANSWER", "RUNTIME_ERROR"}
    assert "output limit" in r.tests[-1].error or any("output limit" in t.error for t in r.tests)


def test_a_very_deep_directory_tree_is_cleaned_up(executor, add_problem):
    code = solution(
        "return a + b\n", "import os\nfor _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\n"
    )
    for metrics in (("time",), ("time", "memory")):  # (with memory, cleaned before the traced run too)
        r = executor.run(add_problem, code, Limits(time_s=2.0, total_time_s=10.0, metrics=metrics))
        assert r.ok and r.all_passed, r


def test_setting_a_descriptors_owner_cannot_signal_the_supervisor(executor, add_problem):
    """F_SETOWN and F_SETSIG on a pipe with O_ASYNC: once data is ready, the kernel sends the chosen
    signal to the owner, checking only the uid (without root: the supervisor's). Denied, whichever
    pid it names, while honest siblings run."""
    attack = solution(
        "return a + b\n",
        """
        import fcntl, os, signal
        for pid in range(2, os.getpid()):
            try:
                r, w = os.pipe()  # (denied too, since round 4: then nothing here can be tried)
            except PermissionError:
                break
            try:
                fcntl.fcntl(r, fcntl.F_SETOWN, pid)
                fcntl.fcntl(r, 10, signal.SIGKILL)  # F_SETSIG
                fcntl.fcntl(r, fcntl.F_SETFL, fcntl.fcntl(r, fcntl.F_GETFL) | os.O_ASYNC)
                os.write(w, b"x")
            except PermissionError:
                pass
            finally:
                os.close(r)
                os.close(w)
        """,
    )
    from grpo4codegen.sandbox.executor import Submission

    failures = executor.stats.infra_failures
    results = executor.run_many(
        [Submission(add_problem, attack, FAST)] + [Submission(add_problem, ADD_REFERENCE, FAST)] * 3
    )
    assert all(r.ok and r.all_passed for r in results), results  # (the attack's own answers are right)
    assert executor.stats.infra_failures == failures


def test_compiling_a_long_source_counts_as_the_candidates_memory(executor, add_problem):
    """Compiling dead code full of big constants raises the child's peak before the solution runs; the
    memory then held by the solution reuses those freed pages. Counted from before compiling, the
    kernel's figure still shows what the solution holds."""
    table = "TABLE = [[0] * 2000 for _ in range(1000)]\n"  # about 15 MiB of lists
    pad = "if 0:\n    _ = (" + '"\\U0001F600" * 4096, ' * 1100 + ")\n"
    r = executor.run(
        add_problem, pad + table + ADD_REFERENCE, Limits(time_s=4, total_time_s=30, memory_mb=1024)
    )
    assert r.all_passed and r.peak_memory_kernel > 12 << 20, r.peak_memory_kernel


def test_a_source_that_crashes_the_compiler_is_the_candidates_failure(executor, add_problem):
    """Constants that fill the address space, then an expression nested deep enough that the
    compiler's recursion runs out of stack (SIGSEGV while compiling): a COMPILATION_ERROR, never an
    infrastructure failure, whichever size tips it over."""
    from grpo4codegen.sandbox.executor import Submission

    def source(k: int) -> str:
        return (
            "if 0:\n    _ = (" + '"\\U0001F600" * 4096, ' * k + ")\ny = " + "-" * 1000 + "1\n" + ADD_REFERENCE
        )

    failures = executor.stats.infra_failures
    limits = Limits(time_s=2, total_time_s=10, memory_mb=64)
    results = executor.run_many([Submission(add_problem, source(k), limits) for k in range(3700, 4100, 20)])
    assert executor.stats.infra_failures == failures
    assert all(r.ok for r in results)


def test_filling_the_scratch_directory_then_crashing_is_the_candidates_failure(executor, add_problem):
    """Files until the scratch tmpfs has no inode left, then a crash: the child forked for the other
    tests sets up in a fresh scratch directory, so the crash fails one test, not our setup. Extended
    attributes (kernel memory outside the memory figures) are denied."""
    code = solution(
        """
        if a == 1:
            try:
                os.setxattr(".", "user.x", b"y" * 65536)
            except PermissionError:
                pass
            else:
                return -1
            try:
                for k in range(1 << 20):
                    open(f"f{k}", "w").close()
            except OSError:
                pass
            os.abort()
        return a + b
        """,
        "import os\n",
    )
    failures = executor.stats.infra_failures
    r = executor.run(add_problem, code, Limits(time_s=5.0, total_time_s=30.0, memory_mb=256))
    assert r.ok and executor.stats.infra_failures == failures, r
    assert outcomes(r) == ["RUNTIME_ERROR", "PASSED", "PASSED"]


def test_a_long_source_cannot_hide_the_solutions_memory(executor, add_problem):
    """Reading and compiling a long source raises the child's high-water mark before the solution
    runs; memory the solution then takes reuses those freed pages. The peak counted as ours ends when
    the child starts, so the kernel's figure still shows what the solution holds; and a source over
    the size limit is never sent (the candidate's compilation error, not a frame too large)."""
    from grpo4codegen.sandbox.executor import MAX_CODE_CHARS

    holds = solution(
        "x = bytearray(40 << 20)\nfor i in range(0, len(x), 4096):\n    x[i] = 1\nreturn a + b\n"
    )
    padded = "#" + "x" * (MAX_CODE_CHARS - 1000) + "\n" + holds
    limits = Limits(time_s=4, total_time_s=30, memory_mb=1024)
    r = executor.run(add_problem, padded, limits)
    assert r.all_passed and r.peak_memory_kernel > 35 << 20, r.peak_memory_kernel
    failures = executor.stats.infra_failures
    huge = executor.run(add_problem, "#" + "x" * MAX_CODE_CHARS + "\n" + ADD_REFERENCE, limits)
    assert set(outcomes(huge)) == {"COMPILATION_ERROR"} and "exceeds the limit" in huge.tests[0].error
    assert executor.stats.infra_failures == failures


def test_filling_the_scratch_directory_in_a_traced_run_is_the_candidates_failure(executor, add_problem):
    """The same as for the timed run, in the traced run (memory metrics): each traced child after a
    crash also starts from a fresh scratch directory; the verdicts stand."""
    code = solution(
        """
        if _tracemalloc.is_tracing():
            try:
                for k in range(1 << 20):
                    os.mkdir(f"d{k}")
            except OSError:
                pass
            os.abort()
        return a + b
        """,
        "import os, _tracemalloc\n",
    )
    failures = executor.stats.infra_failures
    r = executor.run(add_problem, code, Limits(time_s=5.0, total_time_s=30.0, metrics=("time", "memory")))
    assert r.ok and executor.stats.infra_failures == failures, r
    assert r.all_passed
