"""Hostile submissions, fourth round: kernel resources outside the child's figures and limits (native
AIO contexts, a host-wide count; fanotify groups, a per-user one; FIFO buffers, memory outside the
peak; `sync`, the host's writeback at no CPU cost to the child), work a child's values push into the
caller (decoding a forged text, encoding the expected value again for every wrong answer), and the
instruction counter's reading, which failed where counters exist. Each is contained while the pool
keeps serving others."""

from __future__ import annotations

import ctypes
import json
import os
import time
from dataclasses import replace

import pytest

from grpo4codegen.sandbox import perfcount
from grpo4codegen.sandbox.types import Limits

from .conftest import make_problem
from .test_sandbox_hostile import outcomes, solution
from .test_sandbox_hostile3 import pool_still_serves  # noqa: F401  (autouse: after every test here)

LIMITS = Limits(time_s=5.0, total_time_s=20.0, memory_mb=256)

AIO = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
IO_SETUP = {"x86_64": 206, "aarch64": 0}[os.uname().machine]
taken = 0
for events in (65536, 4096, 128):
    while taken < 1 << 20:
        ctx = ctypes.c_ulong(0)
        if libc.syscall(IO_SETUP, events, ctypes.byref(ctx)) != 0:
            break
        taken += events
return [taken, ctypes.get_errno()]
"""


def test_a_child_cannot_take_the_hosts_aio_allowance(executor, add_problem):
    """Native AIO events are counted host-wide (`fs.aio-max-nr`, 65,536 by default), not per user nor
    per namespace: one `io_setup(65536)` in a child took them all, so that every other process on
    the host (a trainer's NVMe offload through libaio, say) failed to start a context until the child
    was killed. A LeetCode solution never needs AIO: `io_setup` is denied."""
    r = executor.run(add_problem, solution(AIO), LIMITS)
    assert r.ok, r.infra_error
    taken, errno = json.loads(r.tests[0].result)
    assert taken == 0 and errno == 1, (taken, errno)  # EPERM


FANOTIFY = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
FANOTIFY_INIT = {"x86_64": 300, "aarch64": 262}[os.uname().machine]
groups = 0
while groups < 100 and libc.syscall(FANOTIFY_INIT, 0x200, 0) >= 0:  # FAN_REPORT_FID, O_RDONLY
    groups += 1
return [groups, ctypes.get_errno()]
"""


def test_a_child_cannot_take_the_callers_fanotify_allowance(executor, add_problem):
    """fanotify groups are a per-user count (128 by default), as inotify instances are: a child took
    60 (its descriptor limit), which without root are the caller's uid's, so three workers' children
    would leave the caller and its other workers none. Denied like inotify."""
    r = executor.run(add_problem, solution(FANOTIFY), LIMITS)
    assert r.ok, r.infra_error
    groups, errno = json.loads(r.tests[0].result)
    assert groups == 0 and errno == 1, (groups, errno)


KERNEL_BUFFERS = """
import os
held, errors = [0], []

def fill(fd):
    os.set_blocking(fd, False)
    try:
        while True:
            held[0] += os.write(fd, bytes(65536))
    except BlockingIOError:
        pass

for k in range(40):
    try:
        os.mkfifo(f"q{k}")
        fill(os.open(f"q{k}", os.O_RDWR))
    except OSError as e:
        errors.append(type(e).__name__)
        break
for k in range(40):
    try:
        fill(os.pipe()[1])
    except OSError as e:
        errors.append(type(e).__name__)
        break
return [held[0], errors]
"""


def test_fifo_buffers_cannot_hold_a_table(executor, add_problem):
    """A FIFO's or pipe's buffer (64 KiB) is kernel memory, outside the child's address-space limit
    and its peak memory (VmHWM), for one descriptor: 40 FIFOs in the work directory held 2.5 MiB of a
    candidate's data while the kernel figure showed none of it, next to an honest solution's 1.9 MiB,
    and 30 pipes (the descriptor limit) 1.9 MiB more (resizing a pipe was denied for this reason
    already). A LeetCode solution never makes a FIFO or a pipe: `mknod` and `pipe` are denied."""
    r = executor.run(add_problem, solution(KERNEL_BUFFERS), LIMITS)
    assert r.ok, r.infra_error
    held, errors = json.loads(r.tests[0].result)
    assert errors == ["PermissionError", "PermissionError"], errors  # the first mkfifo, the first pipe
    assert held == 0, held


SYNC = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
denied = []
SYNC_NR = {"x86_64": 162, "aarch64": 81}[os.uname().machine]  # (os.sync() ignores the C call's error)
if libc.syscall(SYNC_NR) != 0 and ctypes.get_errno() == 1:
    denied.append("sync")
fd = os.open("/", os.O_RDONLY)  # (the host's file system, where / is bound from)
if libc.syncfs(fd) != 0 and ctypes.get_errno() == 1:
    denied.append("syncfs")
return denied
"""


def test_a_child_cannot_make_the_host_write_back(executor, add_problem):
    """`sync` makes the host write back every process's dirty data and waits for it uninterruptibly:
    with 600 MB dirty (a checkpoint being written) a child's `os.sync()` took 0.29 s here, at no CPU
    cost to it, an I/O storm for everyone else and a wait its SIGKILL cannot cut short on slower
    storage. `syncfs` does the same for one file system. A LeetCode solution needs neither."""
    r = executor.run(add_problem, solution(SYNC), LIMITS)
    assert r.ok, r.infra_error
    assert json.loads(r.tests[0].result) == ["sync", "syncfs"], r.tests[0].result


NEWER_CALLS = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
open("f", "w").close()
value = ctypes.create_string_buffer(b"y" * 4096)
args = (ctypes.c_uint64 * 4)(ctypes.addressof(value), 4096, 0, 0)  # struct xattr_args
answers = []
for nr, call in (
    (463, lambda nr: libc.syscall(nr, -100, b"f", 0, b"user.x", args, 32)),
    (458, lambda nr: libc.syscall(nr, None, None, 0, 0)),
    (462, lambda nr: libc.syscall(nr, 0, 0, 0)),
    (1000, lambda nr: libc.syscall(nr, 0, 0, 0)),
):
    ctypes.set_errno(0)
    answers.append(-ctypes.get_errno() if call(nr) < 0 else "allowed")
return answers
"""


def test_system_calls_the_filter_does_not_name_are_denied(executor, add_problem):
    """The filter is an allowlist: a system call it does not name answers EPERM, whatever the kernel
    has. As a denylist it let 6.13's `setxattrat` past the `setxattr` denial (an extended attribute
    on a tmpfs is kernel memory outside the child's figures): whatever a kernel adds after a
    denylist was written gets through it. (The numbers are those of x86_64 and aarch64 alike.)"""
    r = executor.run(add_problem, solution(NEWER_CALLS), LIMITS)
    assert r.ok, r.infra_error
    # setxattrat, listmount, mseal, a number no kernel has given out: EPERM each
    assert json.loads(r.tests[0].result) == [-1, -1, -1, -1], r.tests[0].result


DROP_INHERITED = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
answers = []
for line in open("/proc/self/maps"):
    parts = line.split()
    if len(parts) >= 6 and parts[5].startswith("/") and parts[1] == "r-xp":  # the libraries' text
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        for advice in (4, 8, 20, 21):  # DONTNEED, FREE, COLD, PAGEOUT
            ctypes.set_errno(0)
            answers.append(-ctypes.get_errno() if libc.madvise(lo, hi - lo, advice) else 0)  # 0: dropped
return sorted(set(answers))
"""


def test_a_child_cannot_drop_the_pages_it_inherited(executor, add_problem):
    """The peak memory the worker reads is the kernel's high-water mark of everything resident, the
    pages the child inherited from the worker included. `madvise(MADV_DONTNEED)` over the libraries'
    text dropped 1 MiB of them (they refault only as they run), and the candidate's allocations then
    filled that room without raising the mark: memory hidden from the efficiency reward. Advice that
    drops resident pages is denied."""
    r = executor.run(add_problem, solution(DROP_INHERITED), LIMITS)
    assert r.ok, r.infra_error
    assert json.loads(r.tests[0].result) == [-1], r.tests[0].result


TESTS = 32
SLOW_JSON = f"""
import gc, os, struct
writer = next(o for o in gc.get_objects() if type(o).__name__ == "RecordWriter")
text = b"[" + b",".join([b"1e-400"] * 140000) + b"]"  # just under a test's 1 MiB output cap
for i in range({TESTS}):
    writer.send(b"V", i, struct.pack("<ddq", 0.0, 0.0, -1) + text)
writer.send(b"D", 0, b"", flush=True)
os._exit(0)
"""


def test_a_value_far_longer_than_the_expected_one_is_never_decoded(executor):
    """The caller decodes each value the child sends, and the child chooses its bytes: `1e-400`
    written 140,000 times (1 MiB) took the caller 0.22 s to decode, for a child that wrote it in
    microseconds; 32 such tests cost the caller 7 s of CPU (the reply may hold 128 MiB: 28 s), with
    the GIL held, while the candidate only failed. A text far longer than its expected value's is a
    wrong answer as it stands, never decoded."""
    problem = make_problem("add", [f"assert candidate(a={i}, b=1) == {i + 1}" for i in range(TESTS)])
    code = solution(SLOW_JSON)
    started = time.process_time()
    r = executor.run(problem, code, Limits(time_s=5.0, total_time_s=30.0, memory_mb=512))
    spent = time.process_time() - started
    assert r.ok, r.infra_error
    assert set(outcomes(r)) == {"WRONG_ANSWER"}, outcomes(r)
    assert spent < 1.5, spent  # the caller's CPU (all its threads) for the whole submission


def test_an_integer_equal_to_an_exponent_float_is_still_decoded(executor):
    """The length bound above must not fail a right answer: `1e200` expected is matched by the
    201-digit integer 10**200, whose text is 50 times longer (found in review)."""
    problem = make_problem("add", ["assert candidate(a=100, b=200) == [1e200] * 100"])
    r = executor.run(problem, solution("return [10 ** b] * a\n"), LIMITS)
    assert r.ok and outcomes(r) == ["PASSED"], (outcomes(r), r.tests[0].error)


def test_a_counter_is_read_as_the_kernel_allows():
    """The instruction count is a figure measured outside the child, read from a perf event's file.
    Such a file has no position: `pread` on it fails (ESPIPE) on this kernel, so on a machine with
    hardware counters reading a child's count raised in the worker, whose supervisor died: every
    submission that asked for `instructions` (the reward layer's reference profiles do) became an
    infrastructure failure. Checked with a software counter (task clock), read by the same code."""
    nr = perfcount._SYSCALL_NR.get(os.uname().machine)
    attr = perfcount._PerfEventAttr(
        type=1, size=ctypes.sizeof(perfcount._PerfEventAttr), config=1, flags=perfcount._FLAGS
    )  # PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(nr, ctypes.byref(attr), 0, -1, -1, 0) if nr is not None else -1
    if fd < 0:
        pytest.skip(f"no perf events here: {os.strerror(ctypes.get_errno())}")
    counter = perfcount.InstructionCounter(fd)
    try:
        sum(range(100_000))
        assert counter.read() > 0
    finally:
        counter.close()


def test_a_wrong_answer_does_not_make_the_caller_encode_the_expected_value_again():
    """A wrong answer's error shows the expected value, cut to 120 characters; it was encoded in full
    for every wrong answer (15 ms a test for a 200,000-element answer, in the caller), so a candidate
    that answers 0 at once cost the caller the encoding of all the problem's expected values, per
    submission, at no cost to itself. The text is cut from the one encoded once per problem."""
    from grpo4codegen.sandbox.executor import Executor

    answer = list(range(200_000))
    problem = make_problem("big", [f"assert candidate(a={i}) == [{i}]" for i in range(10)])
    problem.tests = [replace(t, expected=answer) for t in problem.tests]  # (parsing it would take long)
    code = "class Solution:\n    def big(self, a):\n        return 0\n"
    with Executor(workers=1) as ex:
        ex.run(problem, code, LIMITS)  # (the problem's values are encoded once, at its first run)
        started = time.process_time()
        r = ex.run(problem, code, LIMITS)
        spent = time.process_time() - started
    assert set(outcomes(r)) == {"WRONG_ANSWER"} and r.tests[0].error.startswith("expected [0, 1, 2,")
    assert spent < 0.08, spent  # (15 ms a test before)
