"""A warm worker process: imports the LeetCode runtime once, then forks one confined child per submission.

Started as a fresh interpreter by the executor (never forked from it, so it holds no expected values),
it warms up, then splits in two (`main`):

* the supervisor (forked once) talks to the executor with `protocol` frames: it reads each job,
  enforces time limits from outside the child (reading which test runs from the shared progress
  page, and the CPU time it has used from the kernel's clock of the child), reads the kernel's
  figures, and passes the children's value payloads through undecoded; verdicts are decided by the
  executor. It never forks a child itself.

Time limits are CPU time, as judges count them: `time_s` of CPU per test, `total_time_s` per
submission, read from the kernel's clock of the child (all its threads), so a loaded machine slows a
solution down without failing it. The wall clock is only a backstop, WALL_FACTOR times as long, for
code that waits instead of computing.
* the worker process proper, the forker, stays as warm-up left it: it forks each child when the
  supervisor asks (`RemoteSpawner`), handing it its job in a memory file, and reaps it. It never reads
  a job, a result or an error text, so a child, which inherits the forker's memory, holds nothing of
  any other submission: only its own job, which it reads itself.
"""

from __future__ import annotations

import _socket
import array
import ast
import ctypes
import gc
import json
import os
import select
import signal
import sys
import time
import types
from typing import Any, NoReturn

from . import harness, protocol, seccomp
from .isolation import (
    IsolationConfig,
    address_space_now,
    child_layers,
    confine_child,
    die_with_parent,
    enter_minimal_root,
    enter_worker_namespaces,
    reset_scratch,
    scratch_dir,
    scratch_replaced,
    scrub_environment,
    seal_worker,
    trim_heap,
)
from .perfcount import open_counter

#: standard modules LeetCode's Python runtime offers; imported once here so each fork starts warm
#: (with the allowlisted runtime packages, `IsolationConfig.runtime_packages`)
WARM_MODULES = (
    "typing collections itertools functools heapq bisect math string operator random re datetime "
    "fractions decimal copy statistics array dataclasses enum"
).split()
#: preambles (their import statements) a worker keeps a warmed namespace for; later ones run in full
MAX_WARM_PREAMBLES = 16
SETUP_ALLOWANCE_S = 5.0  # loading the solution (imports, module-level code) on top of the per-test limit
FRAME_SLACK_S = 0.5  # serialising one result, on top of the per-test limit (wall clock only)
#: the wall-clock backstop of the CPU-time limits: a test (or submission) may take this many times its
#: CPU limit in wall time. A timed test's deadline by the wall clock is moved on by the time the
#: kernel saw the child wait for a core (`_run_delay`): a neighbour that keeps the cores busy slows a
#: solution, and must not fail it. The submission's total by the wall clock is never moved.
WALL_FACTOR = 3.0
#: while a test runs, the worker looks at the progress page this often, so that it reads the child's
#: CPU clock near the start of each test (the CPU used before it looks is not counted: at most this)
CPU_POLL_S = 0.01
#: a timed test's waits for a core count from when it has run this long (the worker then reads the
#: kernel's figure once, as the test's base: a read for every test would cost more than most tests)
DELAY_BASE_AFTER_S = 0.05
#: while the solution loads (no message marks its end), the worker looks at the progress page this often
LOADING_POLL_S = 0.05
#: the traced (memory/steps) run of a test may take this many times the per-test limit: tracemalloc
#: slows allocation-heavy code a lot (10-20x under load). It does not count against the submission's
#: total time, but all traced runs of a submission together get at most this many times its total
#: time. If one overruns, the test keeps its verdict and only loses those metrics, and no further test
#: of the submission is traced (which bounds what a candidate that spins only when traced costs).
TRACE_BUDGET_FACTOR = 20
#: how often `Worker._rehearse` runs the child's code path before the first fork
REHEARSALS = 12
_REHEARSAL = {
    "mode": "call",
    "code": (
        "class Solution:\n    def f(self, a, b=None):\n        if a == 0:\n            raise ValueError(b)\n"
        "        return [Pair(1.5).a, a, b, {'k': (a, 1.5)}]\n"
    ),
    "class_name": "Solution",
    "method": "f",
    "tests": ['[["a", 1, "value"], ["b", "x", "value"]]', '[["a", [2, 3], "value"]]', '[["a", 0, "value"]]'],
    "stop_on_first_fail": False,
}
RECORD_SLACK = 4096  # a record may exceed the output cap by this much (error texts, metrics)
_RECORD_SIZE = protocol.RECORD.size
_unpack_record = protocol.RECORD.unpack_from
_BLANK_PAGE = bytes(protocol.mmap.PAGESIZE)


class SandboxSetupError(RuntimeError):
    """The child could not be confined; reported to the executor as an infrastructure failure."""


class ForkerGone(RuntimeError):
    """The worker's forker no longer answers: the pool is closing, or lost this worker."""


class CallerGone(RuntimeError):
    """The executor closed its end of the job pipe while a job ran: it is gone (killed, crashed)."""


class _ChildState:
    """What the worker knows of one child's run: where it is in its test order, and what it sent."""

    def __init__(self, pid: int, order: list[int], forked_at: float, traced: bool) -> None:
        self.pid = pid
        self.reaped = False  # once reaped, its pid may be reused: never signal it again
        self.status = 0
        self.finished = False  # it sent DONE (or SETUP): it now waits to be killed
        self.cpu: float | None = None  # the kernel's figures: CPU seconds, peak RSS (KiB)
        self.maxrss = 0
        self.order = order
        self.position = {test: k for k, test in enumerate(order)}
        self.next = 0  # position in `order` of the next test whose result record is due
        self.forked_at = forked_at
        self.heard_at = forked_at  # when the last record was read
        self.traced = traced  # the traced (memory/steps) child rather than the timed one
        self.begun = False  # BEGIN read: from here on the candidate's code runs in the child
        self.begun_at = 0.0
        self.setup_cpu = 0.0  # the child's CPU seconds and peak RSS (KiB) at BEGIN: our share
        self.setup_maxrss = 0
        # the last valid state of the progress page, and its rank (phase, position in `order`)
        self.page: tuple[int, int, float] = (-1, protocol.PHASE_SETUP, forked_at)
        self.rank = (protocol.PHASE_SETUP, -1)
        # the unit of work the per-test CPU limit applies to (a test the page shows running, or the
        # wait after a reported one), and the child's CPU clock when the worker first saw it
        self.mark: tuple[int, bool] | None = None
        self.mark_cpu = 0.0
        self.timeout_why = "time limit exceeded"
        # seconds its main thread waited, runnable, for a core since `delay_base` (read when a deadline
        # by the wall clock is reached): our own setup's deadlines, then each timed test's (the unit
        # of `mark`), move on by it. Each test counts from its own base, read once it has run for
        # DELAY_BASE_AFTER_S (None until then; inf where the kernel keeps no figure): a wait earned in
        # one test never moves another's deadline, and one made while the module loaded none
        self.run_delay = 0.0
        self.delay_base: float | None = 0.0
        self.mark_at = 0.0

    def pending(self, test: int) -> bool:
        """Is `test` one this child still owes a result for?"""
        return self.position.get(test, -1) >= self.next


class Worker:
    def __init__(self, config: IsolationConfig) -> None:
        self.config = config
        self.serial = 0
        self.layers: dict[str, str] = {}
        self.child_layers: dict[str, str] = {}
        self.seccomp_filter: seccomp.PreparedFilter | None = None
        self.page = protocol.new_progress_page()
        self._deadline = 0.0  # the wall-clock backstop of the timed run's total
        self._cpu_budget = 0.0  # the timed run's total CPU seconds (more after a rerun allowance)
        self._trace_deadline = 0.0  # when the traced runs' budget is spent
        self._cpu, self._memory, self._instructions, self._wall = 0.0, 0, 0, 0.0  # kernel figures
        self._measured = self._counted = False
        self._discarded = 0  # traced tests whose figures were lost or discarded
        self._values = 0  # bytes of value payloads kept for the reply (at most protocol.MAX_VALUES)
        self._rerun_granted = False
        self._pending: list[str] = []  # work directories to remove after the reply
        self._alive: list[_ChildState] = []  # finished children, measured, to kill after the reply
        self._raw_job: bytes | None = None  # the job's body (`job_body`), as it came: what each child reads
        #: who forks and reaps the children: this process (in-process use), or the worker's forker
        self.spawner: LocalSpawner | RemoteSpawner = LocalSpawner(self)
        #: the process that forks the children: namespaces warmed with a preamble's imports, by their text
        self.warm_namespaces: dict[str, types.ModuleType] = {}
        self._warm_asked: set[str] = set()  # the process that runs jobs: the imports it asked to warm
        #: the supervisor's end of the executor's job pipe, watched while a job runs: the executor sends
        #: nothing until it has the reply, so the pipe becomes readable only when it closes (-1: none)
        self.caller_fd = -1
        counter, why = open_counter()
        self.instructions = "available" if counter else why
        if counter:
            counter.close()

    def warm_up(self, namespaces: dict[str, str] | None = None) -> None:
        """Import what children need, then move into the minimal root (after which only the standard
        library and the allowlisted packages can still be imported). `namespaces`: the layers
        `enter_worker_namespaces` reported."""
        for name in (*WARM_MODULES, *self.config.runtime_packages):
            try:
                __import__(name)
            except ImportError:
                pass
        self.layers = dict(namespaces or {})
        if self.config.seccomp:
            try:
                self.seccomp_filter = seccomp.PreparedFilter(seccomp.compile_filter())
            except OSError:
                pass
        active = {name for name, status in self.layers.items() if status == "active"}
        self.layers.update(
            enter_minimal_root(self.config, "mount_namespace" in active, "pid_namespace" in active)
        )
        self.layers.update(child_layers(self.config, self.seccomp_filter is not None))
        scrub_environment()
        seal_worker()
        self._rehearse()
        if "random" in sys.modules:  # every child starts from this state (`bare_fork` keeps it): the
            sys.modules["random"].seed(0)  # same submission draws the same numbers on every run
        gc.collect()
        trim_heap()
        gc.freeze()  # children then never walk the worker's objects, sparing copy-on-write pages

    def _rehearse(self) -> None:
        """Run a child's own code path (its job file, the harness, its records) on a job of our own
        a few times before any child is forked. CPython 3.11 rewrites a function's bytecode in place
        as it warms up and specialises it; done here once, children that run the same code find it
        done, rather than each copying the pages the bytecode lies on."""
        preamble = "import math\n\nclass Pair:\n    def __init__(self, a):\n        self.a = math.floor(a)\n"
        split = protocol.split_preamble(preamble)
        job = {
            **_REHEARSAL,
            "preamble": preamble,
            "preamble_code": protocol.compiled_preamble(preamble),
            "preamble_rest_code": split[1] if split else None,
        }
        raw = protocol.job_body(job)
        page = protocol.new_progress_page()
        sink = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        try:
            for _ in range(REHEARSALS):
                fd = protocol.write_job_file(raw, [0, 1, 2], False)
                try:
                    job, order, _ = protocol.read_job_file(fd)
                finally:
                    os.close(fd)
                out = protocol.RecordWriter(sink, page)
                harness.run_call_tests(job, order, out, self.preamble(job))
        finally:
            os.close(sink)
            page.close()
            sys.modules.pop("solution", None)  # (the rehearsal's namespace: children start without one)

    def preamble(self, job: dict[str, Any]) -> harness.Preamble:
        """The problem's preamble, as the executor compiled it (each job runs in a fresh job runner,
        where nothing compiled for an earlier job is left; compiled here only as the fallback): the
        rest of it on the namespace warmed with its imports, where the forker has one."""
        text = job.get("preamble", "")
        if not text:
            return harness.NO_PREAMBLE
        imports = job.get("preamble_imports")
        base = self.warm_namespaces.get(imports) if isinstance(imports, str) else None
        if base is not None:
            rest = job.get("preamble_rest_code")
            if rest is None:
                return base, None
            code = protocol.load_preamble(rest)
            if code is not None:
                return base, code
        return None, protocol.load_preamble(job.get("preamble_code")) or compile(
            text, "<preamble>", "exec", dont_inherit=True
        )

    def _warm(self, job: dict[str, Any]) -> None:
        """Have the forker warm a namespace with this preamble's imports, the first time it is seen."""
        imports = job.get("preamble_imports")
        if job["mode"] != "call" or not isinstance(imports, str) or imports in self._warm_asked:
            return
        if len(self._warm_asked) < MAX_WARM_PREAMBLES:
            self._warm_asked.add(imports)
            if plain_imports(imports) is not None:  # nothing else is ever sent to the forker
                self.spawner.warm(imports)

    def run_job(self, job: dict[str, Any], raw: bytes | None = None) -> tuple[dict[str, Any], bytes]:
        """Run every test of a job; returns the reply header and its tail (the value payloads). `raw`:
        the whole job (`protocol.job_body`) as the executor sent it, which each child reads itself;
        `job` then holds only what this process reads (limits, mode, `n` tests: never the tests or
        the code).
        Without it, `job` is the whole job, encoded again for the children.

        First the timed run (one child, more after crashes), whose CPU time and peak memory the worker
        reads from the kernel when it reaps each child; then, if the job asks for memory or steps, the
        traced runs of the tests that returned a value, in another child forked after the timed one
        ended, so that neither tracing nor anything the traced child does reaches the timed figures."""
        n = len(job["tests"]) if raw is None else job["n"]
        self._raw_job = raw
        # per test: None (not run yet), a failure (dict), its value payload (bytes), or the value payload
        # with the figures of its traced run ((metrics dict, payload))
        results: list[Any] = [None] * n
        self._deadline = time.monotonic() + job["total_time_s"] * WALL_FACTOR
        self._cpu_budget = job["total_time_s"]
        self._rerun_granted = False
        self._cpu, self._memory, self._instructions, self._wall = 0.0, 0, 0, 0.0
        self._measured = self._counted = False
        self._discarded = 0
        self._values = 0
        order = list(range(n))
        children = 0
        self._warm(job)  # (before the first child: every child of the job may start from it)
        while order:
            if children and (time.monotonic() >= self._deadline or self._cpu >= self._cpu_budget):
                # crashes used up the total time
                _fail(results, order, "TIME_LIMIT_EXCEEDED", "total time limit exceeded")
                break
            if children:  # a child died: what it left (a full scratch tmpfs) never fails the next one's setup
                self._remove_workdirs()
            order = self._run_child(job, order, results, traced=False)
            children += 1
        restarts = max(children - 1, 0)
        traced = _to_trace(job, results)
        if traced:
            self._remove_workdirs()  # nothing the timed child left behind reaches the traced one
            self._trace_deadline = time.monotonic() + job["total_time_s"] * TRACE_BUDGET_FACTOR
            first = True
            while traced and time.monotonic() < self._trace_deadline:
                if not first:  # a traced child died: a fresh scratch directory for the next one too
                    self._remove_workdirs()
                first = False
                traced = self._run_child(job, traced, results, traced=True)
            self._discarded += len(traced)
        # a value's entry is its payload's size in the tail (a dict with the size as "b" when traced)
        tests, tail = [], []
        for entry in results:
            if type(entry) is bytes:
                tests.append(len(entry))
                tail.append(entry)
            elif isinstance(entry, tuple):
                tests.append({**entry[0], "b": len(entry[1])})
                tail.append(entry[1])
            else:
                tests.append(entry)
        header = {
            "id": job["id"],
            "tests": tests,
            "restarts": restarts,
            "layers": {**self.layers, **self.child_layers},
            "kernel": {
                "cpu": self._cpu if self._measured else None,
                "memory": self._memory if self._measured else None,
                "instructions": self._instructions if self._counted else None,
                "wall": self._wall,
                "discarded": self._discarded,
            },
        }
        return header, b"".join(tail)

    def _run_child(self, job: dict[str, Any], order: list[int], results: list, traced: bool) -> list[int]:
        """One child for the tests in `order`. Returns the tests still to run (empty when finished)."""
        self.serial += 1
        budget = job["total_time_s"] * (TRACE_BUDGET_FACTOR if traced else 2) + job["time_s"]
        cpu = int(budget + SETUP_ALLOWANCE_S) + 2  # a backstop only
        forked_at = time.monotonic()
        self.page[:] = _BLANK_PAGE  # nothing one child wrote there reaches the next
        protocol.write_progress(self.page, -1, protocol.PHASE_SETUP, forked_at)
        job_fd = protocol.write_job_file(self._raw_job or protocol.job_body(job), order, traced)
        r, w = os.pipe()
        try:
            pid = self.spawner.spawn(job_fd, w, self.serial, job["memory_mb"], cpu)
        except BaseException:
            os.close(r)
            raise
        finally:
            os.close(w)
            os.close(job_fd)
        counter = None
        if not traced and "instructions" in job["metrics"] and self.instructions == "available":
            counter = open_counter(pid)[0]  # counted from outside: not the candidate's claim
        st = _ChildState(pid, order, forked_at, traced)
        try:
            return self._collect(job, r, st, results)
        finally:
            os.close(r)
            if st.finished and _measure_alive(st):  # the usual end: killed after the reply is sent
                self._alive.append(st)
            else:
                self._kill(st)
            self._account(st, counter)
            self._pending.append(self.spawner.workdir(self.serial))

    def _kill(self, st: _ChildState) -> None:
        """SIGKILL the child's whole process group, then reap it (once), keeping its exit status and
        the kernel's account of its resources. Killing first: a child that closed its pipe, or sent
        DONE, and kept running must not block the worker."""
        if st.reaped:
            return
        st.reaped = True
        reaped = self.spawner.reap(st.pid)
        if reaped is None:
            return
        st.status = reaped[0]
        if st.cpu is None:  # (not measured already while it waited)
            st.cpu, st.maxrss = reaped[1], reaped[2]

    def _account(self, st: _ChildState, counter: Any) -> None:
        """Add a reaped timed child's kernel figures: CPU time and peak memory after BEGIN."""
        if counter is not None:
            try:
                if st.begun:
                    self._instructions += counter.read()
                    self._counted = True
            finally:
                counter.close()
        if st.traced:
            return
        self._wall += time.monotonic() - st.forked_at
        if not st.begun or st.cpu is None:  # the candidate's code never ran in it
            return
        self._cpu += max(st.cpu - st.setup_cpu, 0.0)
        self._memory = max(self._memory, max(st.maxrss - st.setup_maxrss, 0) << 10)
        self._measured = True

    def _remove_workdirs(self) -> None:
        for st in self._alive:
            self._kill(st)
        self._alive.clear()
        for workdir in self._pending:
            _remove_tree(workdir)
        self._pending.clear()
        reset_scratch(self.config)  # anything a child left outside its work directory

    def cleanup(self) -> None:
        """Kill and reap the children that finished normally, remove their work directories: done
        after the reply is sent (their kernel figures were read before it, while they waited)."""
        self._remove_workdirs()

    def _observe(self, st: _ChildState) -> None:
        """Read the progress page into `st.page`. After BEGIN the page is the candidate's claim: it is
        accepted only as it moves forward (phase, then position in the child's order), never back in
        time nor into the future. A page that is not accepted (forged, torn, or garbage) is ignored:
        the worker keeps its last valid observation, so the test's time keeps running (a forged page
        can only make the candidate's own test time out, never extend a limit), and no reading of a
        page, however it is timed, can turn an honest run into a failure."""
        raw = protocol.read_progress(self.page)
        now = time.monotonic()  # after the read: a valid start is never later than this
        if raw is None or raw == st.page:
            return
        test, phase, started = raw
        if not st.begun:  # before BEGIN only our code writes the page: SETUP, then COMPILE
            if phase == protocol.PHASE_COMPILE and test == -1 and st.page[2] <= started <= now:
                st.page, st.rank = raw, (phase, -1)
            return  # anything else was written after a BEGIN not read yet: judged once it is
        if phase in (protocol.PHASE_COMPILE, protocol.PHASE_LOADING) and test == -1:
            rank = (phase, -1)  # (COMPILE: written before BEGIN, read only now)
        elif phase == (protocol.PHASE_TRACED if st.traced else protocol.PHASE_CALL) and test in st.position:
            rank = (phase, st.position[test])
            if rank[1] < st.next - 1:  # a test before one whose result came already
                return
        else:
            return
        if rank <= st.rank or not st.page[2] <= started <= now:
            return
        st.page, st.rank = raw, rank

    def _child_deadline(self, job: dict[str, Any], st: _ChildState) -> float:
        """When the child must next be heard from (or seen on the progress page to have moved on)."""
        self._observe(st)
        test, phase, started = st.page
        per_test = job["time_s"] + FRAME_SLACK_S
        total = self._trace_deadline if st.traced else self._deadline
        if not st.begun:
            if phase == protocol.PHASE_SETUP:  # our own code: not the candidate's time
                return st.forked_at + SETUP_ALLOWANCE_S + st.run_delay
            return min(started + SETUP_ALLOWANCE_S + st.run_delay, total)  # compiling the candidate's source
        if phase <= protocol.PHASE_LOADING:  # loading, by the worker's clock (a claimed start could be late)
            deadline = st.begun_at + SETUP_ALLOWANCE_S + per_test
        elif st.pending(test) and st.traced:
            deadline = started + job["time_s"] * TRACE_BUDGET_FACTOR + FRAME_SLACK_S
        elif st.traced:  # between tests: the page still shows one already reported
            deadline = st.heard_at + per_test
        else:
            return self._cpu_deadline(job, st, test)
        # (waits for a core are credited only where CPU limits hold too: a candidate loading its
        # module, or in a traced run, could keep its own threads busy to wait behind them)
        return min(deadline, total)

    def _cpu_deadline(self, job: dict[str, Any], st: _ChildState, test: int) -> float:
        """The timed child's next deadline: when its current test (or the wait after a reported one; a
        page the candidate stops updating only makes that stricter, as the CPU of every later test
        counts against it) will have used `time_s` of CPU,
        or the submission `total_time_s`, by the kernel's clock of the child; the wall-clock backstop
        allows WALL_FACTOR times the per-test limit. Never later than the wall-clock total."""
        now = time.monotonic()
        pending = st.pending(test)
        since = st.page[2] if pending else st.heard_at
        backstop = since + job["time_s"] * WALL_FACTOR + FRAME_SLACK_S
        cpu = _child_cpu(st.pid)
        if cpu is None:  # it exited: the pipe closes (or the wall clock ends the wait)
            return min(backstop + st.run_delay, self._deadline)
        key = (test, pending)
        if key != st.mark:  # first seen now: the CPU it used before this is not counted
            st.mark, st.mark_cpu, st.mark_at = key, cpu, now
            st.delay_base, st.run_delay = None, 0.0  # nor a wait for a core
        elif st.delay_base is None and now - st.mark_at >= DELAY_BASE_AFTER_S:
            base = _run_delay(st.pid)  # (once per test that runs a while: most end before)
            st.delay_base = float("inf") if base is None else base
        wall = min(backstop + st.run_delay, self._deadline)
        test_left = job["time_s"] - (cpu - st.mark_cpu)
        total_left = self._cpu_budget - self._cpu - max(cpu - st.setup_cpu, 0.0)
        left = min(test_left, total_left)
        if left > 0 and now + left >= wall:
            st.timeout_why = "wall-clock time limit exceeded (the solution waited rather than computed)"
            return wall
        # the reason goes with the deadline returned, not only with one already past: a deadline a few
        # microseconds ahead is often past by the time the caller compares it with the clock
        used = "total " if total_left <= test_left else ""
        st.timeout_why = f"time limit exceeded ({used}CPU time)"
        return now + max(left, 0.0)

    def _collect(self, job: dict[str, Any], fd: int, st: _ChildState, results: list) -> list[int]:
        buf = bytearray()
        cap = job["output_bytes"] + RECORD_SLACK
        while True:
            deadline = self._child_deadline(job, st)
            wait = deadline - time.monotonic()
            if st.begun and st.page[1] < protocol.PHASE_CALL:  # loading: look for the first test now and then
                wait = min(wait, LOADING_POLL_S)
            elif st.begun and not st.traced:  # see each test start, to read the CPU clock near it
                wait = min(wait, CPU_POLL_S)
            ready = select.select(
                [fd] if self.caller_fd < 0 else [fd, self.caller_fd], [], [], max(wait, 0.0)
            )[0]
            if self.caller_fd in ready:  # nobody waits for this job any more: it ends now
                self._kill(st)
                raise CallerGone("the executor closed the job pipe during a job")
            if not ready:
                if self._child_deadline(job, st) > time.monotonic():
                    continue  # the child moved on to another test while we waited
                if _waited_for_a_core(st) and self._child_deadline(job, st) > time.monotonic():
                    continue  # it was kept from the cores since: its deadline moved on by as much
                self._kill(st)
                buf += _drain(fd)  # records written before the kill still count
                finished = self._consume(job, buf, st, results, cap)
                return finished if finished is not None else self._after_timeout(job, st, results)
            chunk = os.read(fd, 1 << 16)
            if not chunk:  # the pipe closed before DONE: the child died (or closed it: it is killed)
                self._kill(st)
                finished = self._consume(job, buf, st, results, cap)
                return finished if finished is not None else self._after_death(st.status, st, results)
            buf += chunk
            finished = self._consume(job, buf, st, results, cap)
            if finished is not None:
                return finished

    def _consume(
        self, job: dict[str, Any], buf: bytearray, st: _ChildState, results: list, cap: int
    ) -> list[int] | None:
        """Apply the complete records in `buf` (and remove them). Returns the tests left to run once
        this child is finished with, or None while it is still running."""
        pos, order, available = 0, st.order, len(buf)
        now = time.monotonic()  # (every record in `buf` was read by now)
        try:
            while available - pos >= _RECORD_SIZE:
                kind, test, size = _unpack_record(buf, pos)
                if size > cap:
                    return self._reject(st, results, "result exceeds the output limit")
                start = pos + _RECORD_SIZE
                end = start + size
                if end > available:
                    break
                payload = bytes(buf[start:end])
                pos = end
                st.heard_at = now
                if not st.begun:  # records of our own code, before the candidate's runs
                    if kind == protocol.BEGIN and len(payload) == protocol.BEGIN_HEAD.size:
                        st.begun, st.begun_at = True, st.heard_at
                        cpu, maxrss = protocol.BEGIN_HEAD.unpack(payload)
                        st.setup_cpu = cpu if 0.0 <= cpu < 1e6 else 0.0
                        st.setup_maxrss = max(maxrss, 0)
                    elif kind == protocol.LAYERS:
                        self.child_layers = {str(k): str(v) for k, v in _json_dict(payload).items()}
                    elif kind == protocol.INFRA:
                        raise SandboxSetupError(str(_json_dict(payload).get("e", "")))
                    elif kind == protocol.SETUP:
                        if st.traced:
                            self._discarded += len(order) - st.next
                        else:
                            failure = _json_dict(payload)
                            outcome = failure.get("o")
                            outcome = outcome if outcome in _SETUP_OUTCOMES else "RUNTIME_ERROR"
                            for k in order[st.next :]:  # the solution never compiled: every test fails alike
                                results[k] = {"o": outcome, "e": _text(failure.get("e", ""))}
                        st.finished = True
                        return []
                    else:
                        raise SandboxSetupError("the child broke the protocol before the solution ran")
                    continue
                # from here on, every record may be the candidate's
                due = order[st.next] if st.next < len(order) else None
                if kind == protocol.VALUE and not st.traced and test == due:
                    self._values += len(payload)
                    if self._values > protocol.MAX_VALUES:  # every test's value together: too much
                        rest = self._reject(st, results, "output limit exceeded by all tests together")
                        _fail(results, rest, "RUNTIME_ERROR", "output limit exceeded", skip_first=True)
                        return []
                    results[test] = payload
                    st.next += 1
                elif kind == protocol.ERROR and not st.traced and test == due:
                    failure = _json_dict(payload)
                    outcome = failure.get("o") if failure.get("o") in _CHILD_OUTCOMES else "RUNTIME_ERROR"
                    results[test] = {"o": outcome, "e": _text(failure.get("e", ""))}
                    st.next += 1
                elif kind == protocol.METRICS and st.traced and test == due:
                    results[test] = self._traced_figures(results[test], _json_dict(payload))
                    st.next += 1
                elif kind == protocol.DONE:
                    st.finished = True
                    if st.traced:
                        self._discarded += len(order) - st.next
                        return []
                    last = results[order[st.next - 1]] if st.next else None
                    outcome = last.get("o") if isinstance(last, dict) else None
                    _fail(results, order[st.next :], outcome, "stop_on_first_fail", skip_first=True)
                    return []
                else:
                    return self._reject(st, results, "malformed or forged result record")
            return None
        finally:
            del buf[:pos]

    def _traced_figures(self, value: bytes, record: dict[str, Any]) -> bytes | tuple[dict[str, Any], bytes]:
        """A test's entry once its traced run sent `record`: its figures count only if its call
        returned what the timed call returned (`value`, the timed call's payload)."""
        if record.get("h") != protocol.value_checksum(value[protocol.VALUE_HEAD.size :]):
            self._discarded += 1
            return value
        return _metrics(record), value

    def _reject(self, st: _ChildState, results: list, why: str) -> list[int]:
        """The child sent something it must not: it is killed, and the test it was on fails."""
        self._kill(st)
        if st.next >= len(st.order):
            return []
        if st.traced:  # the verdict stands; this test's traced figures are lost
            self._discarded += 1
        else:
            results[st.order[st.next]] = {"o": "RUNTIME_ERROR", "e": why}
        return st.order[st.next + 1 :]

    def _running(self, st: _ChildState) -> int:
        """Position in `order` of the test the child was in (per the last valid progress page).

        Tests between `st.next` and that position finished, but their records died in the child's
        buffer."""
        self._observe(st)
        test, phase, _ = st.page
        if phase in (protocol.PHASE_CALL, protocol.PHASE_TRACED) and st.pending(test):
            return st.position[test]
        return st.next

    def _not_begun(self, st: _ChildState, results: list, why: str, outcome: str) -> list[int]:
        """The child died or hung before BEGIN: in our setup (an infrastructure failure) or while
        compiling the candidate's source (the candidate's). The page is read again first: the child
        may have moved on to compiling since the worker last looked."""
        self._observe(st)
        if st.page[1] != protocol.PHASE_COMPILE:
            raise SandboxSetupError(f"the sandboxed child {why} during setup")
        if not st.traced:
            _fail(results, st.order[st.next :], outcome, f"compiling the solution {why}")
        return []

    def _after_timeout(self, job: dict[str, Any], st: _ChildState, results: list) -> list[int]:
        if not st.begun:
            return self._not_begun(st, results, "took too long", "TIME_LIMIT_EXCEEDED")
        if st.next >= len(st.order):
            return []
        at = self._running(st)
        if st.traced:  # only the metrics run overran: the verdict stands; no further test is traced
            self._discarded += len(st.order) - st.next
            return []
        calling = st.page[1] == protocol.PHASE_CALL
        reason = st.timeout_why if calling else "time limit exceeded while loading the solution"
        _fail(results, st.order[at:], "TIME_LIMIT_EXCEEDED", reason)
        return self._rerun(job, st.order[st.next : at], results)

    def _after_death(self, status: int, st: _ChildState, results: list) -> list[int]:
        if not st.begun:
            return self._not_begun(st, results, f"failed ({_death(status)[1]})", "COMPILATION_ERROR")
        if st.next >= len(st.order):
            return []
        at = self._running(st)
        if st.traced:  # it died in the metrics-only run: the verdict stands
            self._discarded += 1
            return st.order[st.next + 1 :]
        outcome, text = _death(status)
        results[st.order[at]] = {"o": outcome, "e": text}
        lost = st.order[st.next : at]
        if outcome == "TIME_LIMIT_EXCEEDED":  # the CPU backstop: nothing more is run
            _fail(results, st.order[at + 1 :], outcome, text, skip_first=True)
            return self._rerun(None, lost, results)
        return lost + st.order[at + 1 :]

    def _rerun(self, job: dict[str, Any] | None, lost: list[int], results: list) -> list[int]:
        """Tests that finished before a time-out but whose records died unsent in the child's buffer
        run again, once per job, with a fresh allowance if the total budget is spent; never guessed."""
        if not lost:
            return []
        if self._rerun_granted:
            _fail(results, lost, "TIME_LIMIT_EXCEEDED", "time limit exceeded", skip_first=True)
            return []
        self._rerun_granted = True
        if job is not None:
            allowance = SETUP_ALLOWANCE_S + job["time_s"] * WALL_FACTOR + FRAME_SLACK_S
            self._deadline = max(self._deadline, time.monotonic() + allowance)
            self._cpu_budget = max(self._cpu_budget, self._cpu + job["time_s"] * len(lost))
        return lost


def _to_trace(job: dict[str, Any], results: list) -> list[int]:
    """The tests that get the separate memory/steps run: those of the job's traced tests (all when it
    names none) whose timed call returned a value."""
    if job["mode"] != "call" or not set(job["metrics"]) & {"memory", "steps"}:
        return []
    chosen = job.get("traced_tests")
    chosen = None if chosen is None else set(chosen)
    return [i for i, r in enumerate(results) if type(r) is bytes and (chosen is None or i in chosen)]


def _child_cpu(pid: int) -> float | None:
    """The CPU seconds a live child (all its threads) has used, by the kernel's clock; None once gone."""
    try:
        return time.clock_gettime(((~pid) << 3) | 2)  # CPUCLOCK_SCHED of process `pid`
    except OSError:
        return None


def _run_delay(pid: int) -> float | None:
    """Seconds the child's main thread (the one running the tests) has spent runnable but waiting for
    a core, by the kernel's scheduler statistics (`/proc/<pid>/schedstat`); None where the kernel
    keeps none, or the child is gone."""
    try:
        fd = os.open(f"/proc/{pid}/schedstat", os.O_RDONLY)
        try:
            return int(os.read(fd, 128).split()[1]) / 1e9
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return None


def _waited_for_a_core(st: _ChildState) -> bool:
    """Did the child wait for a core for longer than its deadlines by the wall clock were moved on
    already? If so, they move on by the difference. The wait is the kernel's figure: the child cannot
    claim it, nor make it (it may not lower its priority, its scheduling class or its CPUs, or write
    /proc): it waits only when other processes keep the cores, or its own threads do, and those use
    its CPU time, which the timed tests limit (so only their deadlines, and our own setup's, move;
    loading the solution and traced runs have wall-clock limits only, and keep them)."""
    if st.delay_base is None:  # (a test whose base is not read yet: nothing to credit)
        return False
    delay = _run_delay(st.pid)
    if delay is None or delay - st.delay_base <= st.run_delay + 0.001:
        return False
    st.run_delay = delay - st.delay_base
    return True


def _measure_alive(st: _ChildState) -> bool:
    """Read a child's CPU time (its process CPU clock) and peak RSS (/proc) while it is still alive,
    so that it need not be reaped before the reply. False where that fails (it already exited)."""
    try:
        cpu = _child_cpu(st.pid)
        if cpu is None:
            return False
        fd = os.open(f"/proc/{st.pid}/status", os.O_RDONLY)
        try:
            text = os.read(fd, 16384)
        finally:
            os.close(fd)
        # at a line's start: the first line holds the process name, which the candidate sets
        start = text.index(b"\nVmHWM:") + 7
        maxrss = int(text[start : text.index(b"kB", start)])
    except (OSError, ValueError):
        return False
    st.cpu, st.maxrss = cpu, maxrss
    return True


def warm_namespace(imports: str) -> types.ModuleType | None:
    """A solution module holding `imports` run once, for WARM (see `plain_imports`); None for any other
    text, or if checking or running it fails in any way."""
    try:
        tree = plain_imports(imports)
        if tree is None:
            return None
        module = types.ModuleType("solution")
        exec(compile(tree, "<preamble>", "exec", dont_inherit=True), module.__dict__)
    except Exception:  # (this runs in the process that forks every child: nothing may escape)
        return None
    return module


def plain_imports(imports: str) -> ast.Module | None:
    """`imports` parsed, if it is nothing but import statements, without `as` names, of modules this
    process has loaded already, of names they hold (short, too). Such a text holds only names that
    are in the process already: checked by the supervisor before it sends one and by the forker
    before it runs one, so no other text of a job ever reaches the process children are forked from.
    None for anything else."""
    if len(imports) > protocol.WARM_TEXT_MAX:
        return None
    try:
        tree = ast.parse(imports, "<preamble>")
        return tree if all(_loaded_import(stmt) for stmt in tree.body) else None
    except Exception:
        return None


def _loaded_import(stmt: ast.stmt) -> bool:
    def loaded(dotted: str) -> bool:
        parts = dotted.split(".")
        return all(".".join(parts[: k + 1]) in sys.modules for k in range(len(parts)))

    if not isinstance(stmt, (ast.Import, ast.ImportFrom)) or any(alias.asname for alias in stmt.names):
        return False
    if isinstance(stmt, ast.Import):
        return all(loaded(alias.name) for alias in stmt.names)
    if stmt.level != 0 or stmt.module in (None, "__future__") or not loaded(stmt.module):
        return False
    module = sys.modules[stmt.module]
    return all(alias.name == "*" or hasattr(module, alias.name) for alias in stmt.names)


def job_seconds_bound(time_s: float, total_time_s: float, traced: bool) -> float:
    """The longest a worker may take over one job: the timed run, one re-run allowance, the traced
    runs' budget, and our own setup of the children; the executor's watchdog waits this long."""
    timed = (total_time_s + time_s) * WALL_FACTOR + FRAME_SLACK_S + 3 * SETUP_ALLOWANCE_S
    return timed + (total_time_s * TRACE_BUDGET_FACTOR + SETUP_ALLOWANCE_S if traced else 0.0)


def _fail(results: list, tests: list[int], outcome: str | None, text: str, skip_first: bool = False) -> None:
    """Mark `tests` failed with `outcome`: the first as run (unless skip_first), the others as skipped."""
    for k, test in enumerate(tests):
        if results[test] is None:
            if k == 0 and not skip_first:
                results[test] = {"o": outcome or "RUNTIME_ERROR", "e": text}
            else:
                results[test] = {"o": outcome or "RUNTIME_ERROR", "e": f"not run: {text}", "skip": True}


def _remove_tree(path: str) -> None:
    """Remove a child's work directory (usually empty). In the minimal root whatever is left is gone
    with the scratch tmpfs, which `reset_scratch` replaces when anything is left in it."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        if not scratch_replaced():
            _remove_deep(path)


_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _remove_deep(path: str) -> None:
    """Remove a tree the candidate left, without recursion and holding one descriptor at a time: it
    may be thousands of levels deep. What cannot be removed is left (never an error)."""
    try:
        fd = os.open(path, _DIRECTORY)
    except OSError:
        return
    names: list[str] = []  # the directories descended into, from `path` down
    try:
        while True:
            below = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        below = entry.name
                        break
                    try:
                        os.unlink(entry.name, dir_fd=fd)
                    except OSError:
                        pass
            if below is not None:
                new = os.open(below, _DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = new
                names.append(below)
                continue
            if not names:
                break
            parent = os.open("..", _DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)  # fails (ends the removal) if anything was left in it
    except OSError:
        pass
    finally:
        os.close(fd)
    try:
        os.rmdir(path)
    except OSError:
        pass


def _drain(fd: int) -> bytes:
    """What a killed child left in the pipe (its write end is closed once it is reaped)."""
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _json_dict(payload: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError):
        return {}
    return obj if isinstance(obj, dict) else {}


def _text(value: Any) -> str:
    """A child's error text (the candidate's: an exception's message), cut to 300 characters, as text
    every encoder accepts: a lone surrogate, which JSON carries, becomes '?' (written as UTF-8, as
    the scorer's records are, it would raise UnicodeEncodeError in the caller)."""
    return str(value)[:300].encode("utf-8", "replace").decode("utf-8")


def _metrics(record: dict[str, Any]) -> dict[str, Any]:
    """The numeric fields of a traced-run record: plain non-negative integers below 2**62 only."""
    return {k: v for k in ("mc", "mp", "st") if type(v := record.get(k)) is int and 0 <= v < 1 << 62}


_CHILD_OUTCOMES = ("RUNTIME_ERROR", "MEMORY_LIMIT_EXCEEDED", "WRONG_ANSWER")
_SETUP_OUTCOMES = (*_CHILD_OUTCOMES, "COMPILATION_ERROR")


def _death(status: int) -> tuple[str, str]:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return "TIME_LIMIT_EXCEEDED", "CPU time limit exceeded"
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return "RUNTIME_ERROR", f"process killed by {name}"
    return "RUNTIME_ERROR", f"process exited with status {os.WEXITSTATUS(status)} before returning a result"


# -- who forks the children -------------------------------------------------------------------------
def _child(
    worker: Worker, job_fd: int, result_fd: int, workdir: str, memory_limit: int, cpu: int, parent: int
) -> NoReturn:
    """The child's whole life: read its job, confine itself, run the tests, wait to be measured and
    killed. Never returns."""
    try:
        # the peak memory counted as ours ends here: reading the job (whose size the candidate's source
        # sets) and everything after it raise the high-water mark on the candidate's account
        harness.note_setup_memory()
        out = protocol.RecordWriter(result_fd, worker.page)
        try:
            job, order, traced = protocol.read_job_file(job_fd)  # before confinement, which closes it
            stdio = job["mode"] == "stdio"
            inputs = harness.stdin_files(job["tests"], order, worker.config.max_open_files) if stdio else {}
            layers = confine_child(
                worker.config,
                workdir,
                result_fd,
                memory_limit,
                cpu,
                worker.seccomp_filter,
                parent,
                tuple(inputs.values()),
            )
            preamble = worker.preamble(job) if job["mode"] == "call" else None
        except BaseException as e:  # the sandbox could not be set up: not the candidate's fault
            out.send_json(protocol.INFRA, 0, {"e": harness.error_text(e)}, flush=True)
            raise
        out.send_json(protocol.LAYERS, 0, layers)
        if traced:
            harness.run_traced_tests(job, order, out, preamble)
        elif job["mode"] == "call":
            harness.run_call_tests(job, order, out, preamble)
        else:
            harness.run_stdio_tests(job, order, out, inputs)
        while True:  # the worker reads our figures from the kernel, then kills us
            signal.pause()
    finally:
        os._exit(0)


#: fork(2) from libc, called with the GIL held (PyDLL). CPython's `os.fork` adds the interpreter's
#: at-fork work: re-creating the GIL and the locks of other threads, reseeding `random`, threading's
#: bookkeeping. In a process with one thread that work has nothing to do, yet the child runs it first,
#: touching (and so copying) pages of the parent's: about 35 a child in the forker, 4% of its faults.
_libc_fork = ctypes.PyDLL(None, use_errno=True).fork
_libc_fork.restype = ctypes.c_int
_libc_fork.argtypes = ()


def single_threaded() -> bool:
    """Does the calling process have only one thread (by the kernel's count where /proc shows it)?"""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return "threading" not in sys.modules or sys.modules["threading"].active_count() == 1


def bare_fork() -> int:
    """fork(2) without CPython's at-fork hooks, for a process that has only one thread (checked by the
    caller): the child keeps the parent's state as it was, `random`'s included (see `warm_up`)."""
    pid = _libc_fork()
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"fork: {os.strerror(err)}")
    return pid


def _standby(worker: Worker, sock: _socket.socket, parent: int) -> NoReturn:
    """A child forked ahead of its job (`LocalSpawner.prepare`): it waits for the forker to hand it a
    job (HANDOFF), then lives as `_child` does. Never returns."""
    try:
        if die_with_parent(parent):
            own = sock.fileno()  # nothing else of the forker's: its link to the supervisor least of all
            os.closerange(3, own)
            os.closerange(own + 1, 65536)
            message, ancillary, _, _ = sock.recvmsg(protocol.HANDOFF.size, _FD_SPACE)
            fds = _received_fds(ancillary)
            sock.close()
            if len(message) == protocol.HANDOFF.size and len(fds) == 2:
                serial, memory_limit, cpu = protocol.HANDOFF.unpack(message)
                workdir = f"{scratch_dir()}/g4c-{parent}-{serial}"
                _child(worker, fds[0], fds[1], workdir, memory_limit, cpu, parent)
    finally:
        os._exit(1)


_FD_SPACE = _socket.CMSG_SPACE(2 * array.array("i").itemsize)  # ancillary room for two descriptors


def _received_fds(ancillary: list[tuple[int, int, bytes]]) -> array.array:
    """The descriptors a message brought (SCM_RIGHTS)."""
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    return fds


class LocalSpawner:
    """Forks children from the calling process, and kills and reaps them."""

    def __init__(self, worker: Worker, bare: bool = False, forker: bool = False) -> None:
        self.worker = worker
        #: fork with `bare_fork`: only for a process that has one thread, and keeps it so (the forker)
        self.bare = bare
        #: the forker's: each child is forked ahead of its job (`prepare`), so that a job's child needs
        #: no fork of its own
        self.forker = forker
        self._standby: tuple[int, _socket.socket] | None = None  # (pid, our end of its socket)

    def workdir(self, serial: int) -> str:
        return f"{scratch_dir()}/g4c-{os.getpid()}-{serial}"

    def spawn(self, job_fd: int, result_fd: int, serial: int, memory_mb: int, cpu: int) -> int:
        """A child that reads its job from `job_fd` and writes its records to `result_fd`: the standby
        child where there is one, else one forked now."""
        memory_limit = address_space_now() + (memory_mb << 20)  # (a child's, as forked from us)
        if self._standby is not None:
            pid = self._hand_off(job_fd, result_fd, serial, memory_limit, cpu)
            if pid:
                return pid
        workdir = self.workdir(serial)
        parent = os.getpid()
        pid = self._fork()
        if pid == 0:
            _child(self.worker, job_fd, result_fd, workdir, memory_limit, cpu, parent)
        return pid

    def prepare(self) -> None:
        """Fork the next child ahead of its job, if enabled and there is none. Called only when no
        other submission's code can run (at start, and once a child was killed), so that a standby
        child never waits beside another submission's: it holds nothing until its job is handed to it
        (its descriptors, not its contents: the forker never reads a job), and being forked from the
        non-dumpable forker it is closed to a candidate's ptrace and /proc reads meanwhile."""
        if not self.forker or self._standby is not None:
            return
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
        parent = os.getpid()
        try:
            pid = self._fork()
        except OSError:
            ours.close()
            theirs.close()
            return  # (the next job's child is forked when it is needed)
        if pid == 0:
            ours.close()
            _standby(self.worker, theirs, parent)
        theirs.close()
        self._standby = (pid, ours)

    def _fork(self) -> int:
        return bare_fork() if self.bare else os.fork()

    def close(self) -> None:
        """Kill and reap the standby child, if any (the forker's end: its own exit does it too)."""
        if self._standby is not None:
            pid, sock = self._standby
            self._standby = None
            sock.close()
            self.reap(pid)

    def _hand_off(self, job_fd: int, result_fd: int, serial: int, memory_limit: int, cpu: int) -> int:
        """Give the standby child its job; its pid, or 0 when it is gone or stopped (it is then reaped)."""
        assert self._standby is not None
        pid, sock = self._standby
        self._standby = None
        try:
            if os.waitpid(pid, os.WNOHANG | os.WUNTRACED) != (0, 0):  # it died, or was stopped
                raise OSError("the standby child is not waiting")
            fds = array.array("i", (job_fd, result_fd))
            sock.sendmsg(
                [protocol.HANDOFF.pack(serial, memory_limit, cpu)],
                [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)],
            )
        except OSError:
            self.reap(pid)
            return 0
        finally:
            sock.close()
        return pid

    def warm(self, imports: str) -> bool:
        """Warm a namespace with these import statements, in this process (which forks the children).
        A standby child forked before has none: the first child after a WARM runs the whole preamble."""
        if len(self.worker.warm_namespaces) >= MAX_WARM_PREAMBLES:
            return False
        module = warm_namespace(imports)
        if module is None:
            return False
        self.worker.warm_namespaces[imports] = module
        gc.freeze()  # (as after the warm-up: children never walk these objects)
        return True

    @staticmethod
    def reap(pid: int) -> tuple[int, float, int] | None:
        """SIGKILL the child's process group, reap it: (exit status, CPU seconds, peak RSS KiB), or
        None if it is not our child (any more)."""
        for target in (-pid, pid):
            try:
                os.kill(target, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):  # gone already (or a group member left it)
                pass
        try:
            _, status, rusage = os.wait4(pid, 0)
        except ChildProcessError:
            return None
        return status, rusage.ru_utime + rusage.ru_stime, rusage.ru_maxrss


class RemoteSpawner:
    """The supervisor's side: asks the forker, over a socket, to fork or reap a child."""

    def __init__(self, sock: _socket.socket, forker: int) -> None:
        self.sock = sock
        self.forker = forker

    def workdir(self, serial: int) -> str:
        return f"{scratch_dir()}/g4c-{self.forker}-{serial}"

    def _ask(self, request: bytes, fds: tuple[int, ...] = ()) -> tuple[int, int, float, int]:
        ancillary = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        self.sock.sendmsg([request], ancillary)
        reply = self.sock.recv(protocol.FORKER_REPLY.size)
        if len(reply) != protocol.FORKER_REPLY.size:
            raise ForkerGone("the worker's forker is gone")
        return protocol.FORKER_REPLY.unpack(reply)

    def spawn(self, job_fd: int, result_fd: int, serial: int, memory_mb: int, cpu: int) -> int:
        pid = self._ask(
            protocol.FORKER_REQUEST.pack(protocol.SPAWN, 0, serial, memory_mb, cpu), (job_fd, result_fd)
        )[0]
        if pid <= 0:
            raise SandboxSetupError("the worker could not fork a child")
        return pid

    def warm(self, imports: str) -> bool:
        data = imports.encode()
        if protocol.FORKER_REQUEST.size + len(data) > protocol.WARM_MAX:
            return False
        return bool(self._ask(protocol.FORKER_REQUEST.pack(protocol.WARM, 0, 0, 0, 0) + data)[0])

    def reap(self, pid: int) -> tuple[int, float, int] | None:
        found, status, cpu, maxrss = self._ask(protocol.FORKER_REQUEST.pack(protocol.REAP, pid, 0, 0, 0))
        return (status, cpu, maxrss) if found else None


def _forker(worker: Worker, sock: _socket.socket) -> None:
    """The worker's own loop once the supervisor runs: fork and reap children on its requests, and
    nothing else. It reads no job, so a child forked from it inherits none."""
    local = LocalSpawner(worker, bare=single_threaded(), forker=True)
    local.prepare()
    while True:
        try:
            message, ancillary, _, _ = sock.recvmsg(protocol.WARM_MAX, _FD_SPACE)
        except ConnectionResetError:
            return
        fds = _received_fds(ancillary)
        if len(message) < protocol.FORKER_REQUEST.size:  # the supervisor is gone
            return
        request, text = message[: protocol.FORKER_REQUEST.size], message[protocol.FORKER_REQUEST.size :]
        what, pid, serial, memory_mb, cpu = protocol.FORKER_REQUEST.unpack(request)
        reply = (0, 0, 0.0, 0)
        try:
            if what == protocol.WARM and not fds:
                reply = (int(local.warm(text.decode("utf-8", "replace"))), 0, 0.0, 0)
            elif what == protocol.SPAWN and len(fds) == 2:
                reply = (local.spawn(fds[0], fds[1], serial, memory_mb, cpu), 0, 0.0, 0)
            elif what == protocol.REAP:
                reaped = local.reap(pid)
                reply = (1, *reaped) if reaped else reply
        except OSError:
            pass  # (a spawn that failed answers pid 0)
        finally:
            for fd in fds:
                os.close(fd)
        sock.send(protocol.FORKER_REPLY.pack(*reply))
        if what == protocol.REAP:  # a child is gone: the next one is forked now, while the supervisor goes on
            local.prepare()


def serve(worker: Worker, in_fd: int, out_fd: int) -> None:
    """The supervisor's loop: read a job, run it, reply, clean up; until the executor closes the pipe
    (between jobs, or during one: the child is then killed at once, not left to use up its limits)."""
    worker.caller_fd = in_fd
    while True:
        frame = protocol.read_frame(in_fd)
        if frame is None:
            return
        job, raw = frame
        if job.get("ping"):
            protocol.write_frame(out_fd, {"pong": True})
            continue
        try:
            reply, tail = worker.run_job(job, raw or None)
        except CallerGone:
            return
        except SandboxSetupError as e:
            reply, tail = {"id": job.get("id"), "infra_error": f"sandbox setup failed: {e}"}, b""
        try:
            protocol.write_frame(out_fd, reply, tail)
        except BrokenPipeError:  # the executor closed the pool while this job ran
            return
        try:
            worker.cleanup()
        except ForkerGone:  # the pool is closing (or lost this worker)
            return


def main() -> None:
    """The worker: warm up, then split in two. The supervisor (forked once) reads the jobs, runs them
    and replies; the worker itself only forks children when the supervisor asks, so it never holds
    any job's code, inputs or results, and each child inherits none but reads its own job itself."""
    in_fd, out_fd = int(sys.argv[1]), int(sys.argv[2])
    config = IsolationConfig(**json.loads(sys.argv[3]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the caller, which closes the pool
    # with a PID namespace this returns in a fresh process, pid 1 of it; the original one relays
    namespaces = enter_worker_namespaces(config, keep_fds=(in_fd, out_fd)).layers
    worker = Worker(config)
    worker.warm_up(namespaces)
    protocol.write_frame(
        out_fd,
        {"ready": True, "pid": os.getpid(), "layers": worker.layers, "instructions": worker.instructions},
    )
    theirs, ours = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    me = os.getpid()
    supervisor = os.fork()
    if supervisor == 0:
        code = 1
        try:
            ours.close()
            if die_with_parent(me):
                worker.spawner = RemoteSpawner(theirs, me)
                serve(worker, in_fd, out_fd)
                code = 0
        except BaseException:
            sys.excepthook(*sys.exc_info())  # (no import of traceback: it is not in the warm worker)
        finally:
            os._exit(code)
    theirs.close()
    os.close(in_fd)
    os.close(out_fd)
    _forker(worker, ours)


if __name__ == "__main__":
    main()
