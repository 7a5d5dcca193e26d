"""Hostile submissions, third round: text that breaks the caller's encoders, threads that take the
caller's process allowance, files that hold memory outside the figures. Each is contained while the
pool keeps serving others."""

from __future__ import annotations

import json

import pytest

from grpo4codegen.sandbox.isolation import IsolationConfig
from grpo4codegen.sandbox.types import Limits

from .conftest import ADD_REFERENCE
from .test_sandbox_hostile import FAST, outcomes, solution


@pytest.fixture(autouse=True)
def pool_still_serves(executor, add_problem):
    """After every hostile submission, an honest one still passes and no worker had to be restarted."""
    restarts, failures = executor.stats.worker_restarts, executor.stats.infra_failures
    yield
    honest = executor.run(add_problem, ADD_REFERENCE, FAST)
    assert honest.ok and honest.all_passed, honest
    assert executor.stats.worker_restarts == restarts
    assert executor.stats.infra_failures == failures


def test_error_texts_are_text_every_encoder_accepts(executor, add_problem):
    """An exception's message is the candidate's text: with a lone surrogate in it, a result row
    written as UTF-8 (`json.dumps(..., ensure_ascii=False)`, as the scorer's records are) raised
    UnicodeEncodeError in the caller, so one completion could end a whole scoring run."""
    lone = "chr(0xD800) + 'x' + chr(0xDFFF)"
    results = [
        executor.run(add_problem, solution(f"raise ValueError({lone})\n"), FAST),
        executor.run(add_problem, f"raise ValueError({lone})\n" + ADD_REFERENCE, FAST),
        executor.run_stdio(f"import sys\nsys.exit({lone})\n", [("", "x")], FAST),
    ]
    for r in results:
        assert r.ok and "PASSED" not in outcomes(r), r
        for t in r.tests:
            assert t.error and json.dumps({"e": t.error}, ensure_ascii=False).encode("utf-8")


THREADS = """
import ctypes, threading
ctypes.CDLL(None).mallopt(-8, 1)  # M_ARENA_MAX: one malloc arena, so the address space is no limit
threading.stack_size(65536)
hold = threading.Event()
started = 0
while started < 5000:
    try:
        threading.Thread(target=hold.wait, daemon=True).start()
    except RuntimeError:
        break
    started += 1
return started
"""


def test_a_child_cannot_take_the_callers_process_allowance(executor, add_problem):
    """Threads count towards the child's uid's processes (RLIMIT_NPROC); without root that uid is the
    caller's, and the count is the caller's too: a child holding thousands of threads left the caller
    unable to start a thread (`run_many` raised) and the other workers unable to fork a child (an
    honest neighbour's infra_error). A child gets a few threads, not thousands."""
    r = executor.run(add_problem, solution(THREADS), Limits(time_s=10.0, total_time_s=30.0, memory_mb=1024))
    assert r.ok, r.infra_error
    started = [int(t.result) for t in r.tests]
    assert 0 < max(started) < IsolationConfig().max_processes <= 32, started


FILES = """
chunk = b"x" * (1 << 20)
written = 0
try:
    for k in range(64):
        with open(f"f{k}", "wb") as f:
            f.write(chunk)
        written += len(chunk)
except OSError:
    pass
return written
"""


def test_files_in_the_work_directory_cannot_hold_a_table(executor, add_problem):
    """A tmpfs keeps a file's data in memory that is neither in the child's address-space limit nor
    in its peak memory (VmHWM): 200 MiB kept in files, read back with `pread`, showed a peak of
    3 MiB against 210 MiB for the same table in memory. The scratch directory holds a few small
    files (what an honest solution might write), not a table."""
    r = executor.run(add_problem, solution(FILES), Limits(time_s=5.0, total_time_s=20.0, memory_mb=256))
    assert r.ok, r.infra_error
    written = [int(t.result) for t in r.tests]
    assert max(written) <= 1 << 20, written
    small = solution(
        "open('scratch.txt', 'w').write(str(a + b) * 1000)\nreturn int(open('scratch.txt').read()[:1])\n"
    )
    assert r.ok and executor.run(add_problem, small, FAST).tests[0].result == "3"


def test_a_child_cannot_take_the_callers_inotify_or_signal_allowance(executor, add_problem):
    """Two more per-user counts a child without root shares with the caller: inotify instances (128
    by default: a child took 60, the fd limit, so three workers' children took them all) and queued
    signals (RLIMIT_SIGPENDING: a child that queued the caller's whole allowance to itself left the
    caller unable to create a POSIX timer). A LeetCode solution needs neither: inotify is denied, and
    a child queues at most a few signals."""
    code = solution(
        """
        import ctypes, signal, threading
        libc = ctypes.CDLL(None, use_errno=True)
        instances = 0
        while instances < 100 and libc.inotify_init1(0) >= 0:
            instances += 1
        sig = signal.SIGRTMIN + 1
        signal.pthread_sigmask(signal.SIG_BLOCK, {sig})
        queued = 0
        try:
            while queued < 20000:
                signal.pthread_kill(threading.get_ident(), sig)
                queued += 1
        except OSError:
            pass
        return [instances, queued]
        """
    )
    r = executor.run(add_problem, code, Limits(time_s=5.0, total_time_s=20.0, memory_mb=256))
    assert r.ok, r.infra_error
    instances, queued = json.loads(r.tests[0].result)
    assert instances == 0, instances
    assert 0 < queued <= IsolationConfig().max_pending_signals <= 64, queued
