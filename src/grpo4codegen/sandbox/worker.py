"""A warm worker process: imports the LeetCode runtime once, then forks one confined child per submission.

Started as a fresh interpreter by the executor (never forked from it, so it holds no expected values),
it talks to the executor with `protocol` frames. It enforces time limits from outside the child,
reading which test runs since when from the shared progress page, and passes the children's value
payloads through undecoded; verdicts are decided by the executor.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import sys
import time
from types import CodeType
from typing import Any

from . import harness, protocol, seccomp
from .isolation import (
    IsolationConfig,
    address_space_now,
    child_layers,
    confine_child,
    enter_minimal_root,
    enter_worker_namespaces,
    reset_scratch,
    scratch_dir,
    scrub_environment,
    seal_worker,
)
from .perfcount import open_counter

#: standard modules LeetCode's Python runtime offers; imported once here so each fork starts warm
#: (with the allowlisted runtime packages, `IsolationConfig.runtime_packages`)
WARM_MODULES = (
    "typing collections itertools functools heapq bisect math string operator random re datetime "
    "fractions decimal copy statistics array dataclasses enum"
).split()
SETUP_ALLOWANCE_S = 5.0  # loading the solution (imports, module-level code) on top of the per-test limit
FRAME_SLACK_S = 0.5  # serialising one result, on top of the per-test limit
#: the traced (memory/steps) run of a test may take this many times the per-test limit: tracemalloc
#: slows allocation-heavy code a lot. It does not count against the submission's total time, but all
#: traced runs of a submission together get at most this many times its total time. If one overruns,
#: the test keeps its verdict and only loses those metrics.
TRACE_BUDGET_FACTOR = 20
RECORD_SLACK = 4096  # a record may exceed the output cap by this much (error texts, metrics)


class SandboxSetupError(RuntimeError):
    """The child could not be confined; reported to the executor as an infrastructure failure."""


class _ChildState:
    """What the worker knows of one child's run: where it is in its test order, and what it sent."""

    def __init__(self, pid: int, order: list[int], forked_at: float) -> None:
        self.pid = pid
        self.reaped = False  # once reaped, its pid may be reused: never signal it again
        self.order = order
        self.position = {test: k for k, test in enumerate(order)}
        self.next = 0  # position in `order` of the next test whose VALUE/ERROR record is due
        self.forked_at = forked_at
        self.heard_at = forked_at  # when the last record was read
        self.ready = False
        self.tracing: int | None = None  # test whose traced run is under way
        self.tracing_since = 0.0

    def pending(self, test: int) -> bool:
        """Is `test` one this child still owes a result for?"""
        return self.position.get(test, -1) >= self.next


class Worker:
    def __init__(self, config: IsolationConfig) -> None:
        self.config = config
        self.preambles: dict[str, CodeType] = {}
        self.serial = 0
        self.layers: dict[str, str] = {}
        self.child_layers: dict[str, str] = {}
        self.seccomp_filter: seccomp.PreparedFilter | None = None
        self.page = protocol.new_progress_page()
        self._deadline = 0.0
        self._trace_left = 0.0  # seconds that traced runs may still add to the total
        self._rerun_granted = False
        self._pending: list[tuple[int | None, str]] = []  # (child pid, workdir) to clean after the reply
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
        gc.collect()
        gc.freeze()  # children then never walk the worker's objects, sparing copy-on-write pages

    def preamble(self, text: str) -> CodeType | None:
        if not text:
            return None
        if text not in self.preambles:
            self.preambles[text] = compile(text, "<preamble>", "exec")
        return self.preambles[text]

    def run_job(self, job: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        """Run every test of a job; returns the reply header and its tail (the value payloads)."""
        n = len(job["tests"])
        results: list[Any] = [None] * n  # per test: a dict, or (metrics dict, value payload)
        preamble = self.preamble(job.get("preamble", "")) if job["mode"] == "call" else None
        self._deadline = time.monotonic() + job["total_time_s"]  # traced runs extend it by their duration
        self._trace_left = job["total_time_s"] * TRACE_BUDGET_FACTOR
        self._rerun_granted = False
        order = list(range(n))
        children = 0
        while order:
            order = self._run_child(job, order, preamble, results)
            children += 1
        tests, tail = [], []
        for entry in results:
            if isinstance(entry, tuple):
                tests.append({**entry[0], "b": len(entry[1])})
                tail.append(entry[1])
            else:
                tests.append(entry)
        header = {
            "id": job["id"],
            "tests": tests,
            "restarts": max(children - 1, 0),
            "layers": {**self.layers, **self.child_layers},
        }
        return header, b"".join(tail)

    def _run_child(
        self, job: dict[str, Any], order: list[int], preamble: CodeType | None, results: list
    ) -> list[int]:
        """One child for the tests in `order`. Returns the tests still to run (empty when finished)."""
        self.serial += 1
        workdir = f"{scratch_dir()}/g4c-{os.getpid()}-{self.serial}"
        memory_limit = address_space_now() + (job["memory_mb"] << 20)
        cpu = int(job["total_time_s"] * (1 + TRACE_BUDGET_FACTOR)) + 2  # a backstop only
        forked_at = time.monotonic()
        protocol.PROGRESS.pack_into(self.page, 0, -1, protocol.PHASE_LOADING, forked_at)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            try:
                os.close(r)
                out = protocol.RecordWriter(w, self.page)
                try:
                    counted = "instructions" in job["metrics"] and self.instructions == "available"
                    counter = open_counter()[0] if counted else None
                    layers = confine_child(self.config, workdir, w, memory_limit, cpu, self.seccomp_filter)
                except BaseException as e:  # the sandbox could not be set up: not the candidate's fault
                    out.send_json(protocol.INFRA, 0, {"e": harness.error_text(e)}, flush=True)
                    raise
                out.send_json(protocol.LAYERS, 0, layers)
                if job["mode"] == "call":
                    harness.run_call_tests(job, order, out, preamble, counter)
                else:
                    harness.run_stdio_tests(job, order, out)
            finally:
                os._exit(0)
        os.close(w)
        st = _ChildState(pid, order, forked_at)
        try:
            return self._collect(job, r, st, results)
        finally:
            os.close(r)
            self._pending.append((None if st.reaped else pid, workdir))

    def cleanup(self) -> None:
        """Kill and reap finished children, remove their work directories: done after the reply is sent.

        Killing first matters: a child that forged DONE and kept running must not block the worker.
        """
        for pid, workdir in self._pending:
            if pid is not None:
                _kill_pid(pid)
            if workdir:
                _remove_tree(workdir)
        self._pending.clear()
        reset_scratch(self.config)  # anything a child left outside its work directory

    def _child_deadline(self, job: dict[str, Any], st: _ChildState) -> float:
        """When the child must next be heard from (or seen on the progress page to have moved on)."""
        if st.tracing is not None:
            budget = min(job["time_s"] * TRACE_BUDGET_FACTOR, max(self._trace_left, 0.0))
            return st.tracing_since + budget + FRAME_SLACK_S
        test, phase, started = protocol.read_progress(self.page)
        started = min(max(started, st.forked_at), time.monotonic())  # the page is the child's word only
        per_test = job["time_s"] + FRAME_SLACK_S
        if st.pending(test) and phase == protocol.PHASE_CALL:
            deadline = started + per_test
        elif st.pending(test) and phase == protocol.PHASE_TRACED:  # its VALUE record is not read yet
            deadline = started + job["time_s"] * TRACE_BUDGET_FACTOR + FRAME_SLACK_S
        elif st.ready:  # between tests: the page still shows one already reported
            deadline = st.heard_at + per_test
        else:
            deadline = st.forked_at + SETUP_ALLOWANCE_S + per_test
        return min(deadline, self._deadline)

    def _collect(self, job: dict[str, Any], fd: int, st: _ChildState, results: list) -> list[int]:
        buf = bytearray()
        cap = job["output_bytes"] + RECORD_SLACK
        while True:
            wait = self._child_deadline(job, st) - time.monotonic()
            if not select.select([fd], [], [], max(wait, 0.0))[0]:
                if self._child_deadline(job, st) > time.monotonic():
                    continue  # the child moved on to another test while we waited
                _kill(st)
                buf += _drain(fd)  # records written before the kill still count
                finished = self._consume(job, buf, st, results, cap)
                return finished if finished is not None else self._after_timeout(job, st, results)
            chunk = os.read(fd, 1 << 16)
            if not chunk:  # the pipe closed before DONE: the child died
                status = _reap(st)
                finished = self._consume(job, buf, st, results, cap)
                return finished if finished is not None else self._after_death(status, st, results)
            buf += chunk
            finished = self._consume(job, buf, st, results, cap)
            if finished is not None:
                return finished

    def _consume(
        self, job: dict[str, Any], buf: bytearray, st: _ChildState, results: list, cap: int
    ) -> list[int] | None:
        """Apply the complete records in `buf` (and remove them). Returns the tests left to run once
        this child is finished with, or None while it is still running."""
        pos, order = 0, st.order
        try:
            while len(buf) - pos >= protocol.RECORD.size:
                kind, test, size = protocol.RECORD.unpack_from(buf, pos)
                if size > cap:
                    return self._reject(st, results, "result exceeds the output limit")
                end = pos + protocol.RECORD.size + size
                if end > len(buf):
                    break
                payload = bytes(buf[pos + protocol.RECORD.size : end])
                pos = end
                st.heard_at = time.monotonic()
                due = order[st.next] if st.next < len(order) else None
                if kind == protocol.VALUE and st.tracing is None and test == due:
                    results[test] = ({}, payload)
                    st.next += 1
                    if self._traced(job, test):
                        st.tracing, st.tracing_since = test, st.heard_at
                elif kind == protocol.ERROR and st.tracing is None and test == due:
                    failure = _json_dict(payload)
                    outcome = failure.get("o") if failure.get("o") in _CHILD_OUTCOMES else "RUNTIME_ERROR"
                    results[test] = {"o": outcome, "e": str(failure.get("e", ""))[:300]}
                    st.next += 1
                elif kind == protocol.METRICS and st.tracing == test:
                    results[test][0].update(_metrics(_json_dict(payload)))
                    self._end_tracing(st, st.heard_at)
                elif kind == protocol.READY and not st.ready:
                    st.ready = True
                elif kind == protocol.LAYERS:
                    self.child_layers = {str(k): str(v) for k, v in _json_dict(payload).items()}
                elif kind == protocol.INFRA:
                    _reap(st)
                    raise SandboxSetupError(str(_json_dict(payload).get("e", "")))
                elif kind == protocol.SETUP and not st.ready:
                    failure = _json_dict(payload)
                    outcome = failure.get("o") if failure.get("o") in _SETUP_OUTCOMES else "RUNTIME_ERROR"
                    for k in order[st.next :]:  # the solution never loaded: every test fails alike
                        results[k] = {"o": outcome, "e": str(failure.get("e", ""))[:300]}
                    return []
                elif kind == protocol.DONE and st.tracing is None:
                    last = results[order[st.next - 1]] if st.next else None
                    outcome = last.get("o") if isinstance(last, dict) else None
                    _fail(results, order[st.next :], outcome, "stop_on_first_fail", skip_first=True)
                    return []
                else:
                    return self._reject(st, results, "malformed result record")
            return None
        finally:
            del buf[:pos]

    def _end_tracing(self, st: _ChildState, now: float) -> None:
        """A traced run ended: its duration is added to the total, within the tracing allowance."""
        spent = min(now - st.tracing_since, max(self._trace_left, 0.0))
        self._deadline += spent
        self._trace_left -= spent
        st.tracing = None

    def _reject(self, st: _ChildState, results: list, why: str) -> list[int]:
        """The child sent something it must not: it is killed, and the test it was on fails."""
        _kill(st)
        if st.tracing is not None:  # the verdict of the traced test stands
            self._end_tracing(st, time.monotonic())
            return st.order[st.next :]
        if st.next >= len(st.order):
            return []
        results[st.order[st.next]] = {"o": "RUNTIME_ERROR", "e": why}
        return st.order[st.next + 1 :]

    def _running(self, st: _ChildState) -> tuple[int, bool]:
        """(position in `order` of the test the child was in, whether it had started calling tests).

        Tests between `st.next` and that position finished, but their records died in the child's
        buffer. The progress page is trusted only where it is plausible."""
        test, phase, _ = protocol.read_progress(self.page)
        if phase == protocol.PHASE_CALL and st.pending(test):
            return st.position[test], True
        return st.next, st.ready

    def _after_timeout(self, job: dict[str, Any], st: _ChildState, results: list) -> list[int]:
        if st.tracing is not None:  # only the metrics run overran: the verdict stands
            self._end_tracing(st, time.monotonic())
            return st.order[st.next :]
        if st.next >= len(st.order):
            return []
        at, calling = self._running(st)
        reason = "time limit exceeded" if calling else "time limit exceeded while loading the solution"
        _fail(results, st.order[at:], "TIME_LIMIT_EXCEEDED", reason)
        return self._rerun(job, st.order[st.next : at], results)

    def _after_death(self, status: int, st: _ChildState, results: list) -> list[int]:
        if st.tracing is not None:  # it died in the metrics-only run: the verdict stands
            self._end_tracing(st, time.monotonic())
            return st.order[st.next :]
        if st.next >= len(st.order):
            return []
        at, _ = self._running(st)
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
            allowance = SETUP_ALLOWANCE_S + job["time_s"] + FRAME_SLACK_S
            self._deadline = max(self._deadline, time.monotonic() + allowance)
        return lost

    @staticmethod
    def _traced(job: dict[str, Any], index: int) -> bool:
        """Does this test get the separate memory/steps run?"""
        if job["mode"] != "call" or not set(job["metrics"]) & {"memory", "steps"}:
            return False
        return job.get("traced_tests") is None or index in job["traced_tests"]


def _kill(st: _ChildState) -> None:
    """SIGKILL the child's whole process group, then reap it (once)."""
    if not st.reaped:
        st.reaped = True
        _kill_pid(st.pid)


def _reap(st: _ChildState) -> int:
    if st.reaped:
        return 0
    st.reaped = True
    return _wait(st.pid)


def _kill_pid(pid: int) -> None:
    for target in (-pid, pid):
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _wait(pid)


def _wait(pid: int) -> int:
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return 0


def _fail(results: list, tests: list[int], outcome: str | None, text: str, skip_first: bool = False) -> None:
    """Mark `tests` failed with `outcome`: the first as run (unless skip_first), the others as skipped."""
    for k, test in enumerate(tests):
        if results[test] is None:
            if k == 0 and not skip_first:
                results[test] = {"o": outcome or "RUNTIME_ERROR", "e": text}
            else:
                results[test] = {"o": outcome or "RUNTIME_ERROR", "e": f"not run: {text}", "skip": True}


def _remove_tree(path: str) -> None:
    """Remove a child's work directory; usually empty, so `shutil` (and the archive modules it
    imports) is loaded only the first time one is not."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


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


def _metrics(record: dict[str, Any]) -> dict[str, Any]:
    """The numeric fields of a traced-run record."""
    return {
        k: record[k]
        for k in ("mc", "mp", "st")
        if isinstance(record.get(k), int) and not isinstance(record.get(k), bool)
    }


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


def main() -> None:
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
    while True:
        frame = protocol.read_frame(in_fd)
        if frame is None:
            return
        job = frame[0]
        if job.get("ping"):
            protocol.write_frame(out_fd, {"pong": True})
            continue
        try:
            reply, tail = worker.run_job(job)
        except SandboxSetupError as e:
            reply, tail = {"id": job.get("id"), "infra_error": f"sandbox setup failed: {e}"}, b""
        protocol.write_frame(out_fd, reply, tail)
        worker.cleanup()


if __name__ == "__main__":
    main()
