"""A warm worker process: imports the LeetCode runtime once, then forks one confined child per submission.

Started as a fresh interpreter by the executor (never forked from it, so it holds no expected values),
it talks to the executor over two pipes with length-prefixed JSON frames. It enforces time limits
from outside the child and reports raw results; verdicts are decided by the executor.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import select
import shutil
import signal
import struct
import sys
import time
from types import CodeType
from typing import Any

from . import harness, seccomp
from .isolation import IsolationConfig, confine_child, enter_worker_namespaces
from .perfcount import open_counter

#: modules LeetCode's Python runtime offers; imported once here so each fork starts warm
WARM_MODULES = (
    "typing collections itertools functools heapq bisect math string operator random re datetime "
    "fractions decimal copy statistics array dataclasses enum sortedcontainers"
).split()
_HEADER = struct.Struct(">I")
MAX_FRAME = 256 << 20
SETUP_ALLOWANCE_S = 5.0  # loading the solution (imports, module-level code) on top of the per-test limit
FRAME_SLACK_S = 0.5  # serialising one result, on top of the per-test limit
#: the traced (memory/steps) run of a test may take this many times the per-test limit: tracemalloc
#: slows allocation-heavy code a lot. It never counts against the submission's total time, and if it
#: overruns, the test keeps its verdict and only loses those metrics.
TRACE_BUDGET_FACTOR = 20


def read_frame(fd: int) -> Any:
    header = _read_exact(fd, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes exceeds the limit")
    body = _read_exact(fd, size)
    if body is None:
        raise EOFError("truncated frame")
    return json.loads(body)


def write_frame(fd: int, obj: Any) -> None:
    body = json.dumps(obj).encode()
    data = memoryview(_HEADER.pack(len(body)) + body)
    while data:
        data = data[os.write(fd, data) :]


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, n - got)
        if not chunk:
            if got == 0:
                return None
            raise EOFError("truncated frame")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class SandboxSetupError(RuntimeError):
    """The child could not be confined; reported to the executor as an infrastructure failure."""


class Worker:
    def __init__(self, config: IsolationConfig) -> None:
        self.config = config
        self.preambles: dict[str, CodeType] = {}
        self.serial = 0
        self.layers: dict[str, str] = {}
        self.child_layers: dict[str, str] = {}
        self.seccomp_program: bytes | None = None
        self._deadline = 0.0
        self._pending: list[tuple[int | None, str]] = []  # (child pid, workdir) to clean after the reply
        counter, why = open_counter()
        self.instructions = "available" if counter else why
        if counter:
            counter.close()

    def warm_up(self) -> None:
        for name in WARM_MODULES:
            try:
                __import__(name)
            except ImportError:
                pass
        self.layers = enter_worker_namespaces(self.config).layers
        if self.config.seccomp:
            try:
                self.seccomp_program = seccomp.compile_filter()
            except OSError as e:
                self.layers["seccomp"] = f"unavailable: {e}"
        gc.collect()
        gc.freeze()  # children then never walk the worker's objects, sparing copy-on-write pages

    def preamble(self, text: str) -> CodeType | None:
        if not text:
            return None
        key = hashlib.sha1(text.encode()).hexdigest()
        if key not in self.preambles:
            self.preambles[key] = compile(text, "<preamble>", "exec")
        return self.preambles[key]

    def run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        n = len(job["tests"])
        results: list[dict[str, Any] | None] = [None] * n
        preamble = self.preamble(job.get("preamble", "")) if job["mode"] == "call" else None
        self._deadline = time.monotonic() + job["total_time_s"]  # traced runs extend it by their duration
        start: int | None = 0
        restarts = -1
        while start is not None and start < n:
            start = self._run_child(job, start, preamble, results)
            restarts += 1
        return {
            "id": job["id"],
            "tests": results,
            "restarts": max(restarts, 0),
            "layers": {**self.layers, **self.child_layers},
        }

    def _run_child(
        self, job: dict[str, Any], start: int, preamble: CodeType | None, results: list
    ) -> int | None:
        """One child from test `start`. Returns where to resume after a crash (None when finished)."""
        self.serial += 1
        workdir = f"/tmp/g4c-{os.getpid()}-{self.serial}"
        per_test = job["time_s"] + FRAME_SLACK_S
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            try:
                os.close(r)
                channel = harness.Channel(w)
                try:
                    counter = open_counter()[0] if "instructions" in job["metrics"] else None
                    cpu = int(job["total_time_s"] * (1 + TRACE_BUDGET_FACTOR)) + 2  # a backstop only
                    layers = confine_child(
                        self.config, workdir, w, job["memory_mb"] << 20, cpu, self.seccomp_program
                    )
                except BaseException as e:  # the sandbox could not be set up: not the candidate's fault
                    channel.send({"s": "infra", "e": harness.error_text(e)})
                    raise
                channel.send({"s": "layers", "layers": layers})
                if job["mode"] == "call":
                    harness.run_call_tests(job, start, channel, preamble, counter)
                else:
                    harness.run_stdio_tests(job, start, channel)
            finally:
                os._exit(0)
        os.close(w)
        try:
            return self._collect(job, pid, r, start, per_test, results)
        finally:
            os.close(r)
            self._pending.append((None, workdir))

    def cleanup(self) -> None:
        """Reap finished children and remove their work directories: done after the reply is sent."""
        for pid, workdir in self._pending:
            if pid is not None:
                self._reap(pid)
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)
        self._pending.clear()

    def _collect(
        self,
        job: dict[str, Any],
        pid: int,
        fd: int,
        start: int,
        per_test: float,
        results: list,
    ) -> int | None:
        n = len(job["tests"])
        cap = job["output_bytes"] + 4096
        buf = b""
        current = start  # the test the child is running (or about to)
        test_deadline = min(self._deadline, time.monotonic() + SETUP_ALLOWANCE_S + per_test)
        ready = False
        tracing_since: float | None = None  # set while the child runs the metrics-only traced run
        while True:
            timeout = test_deadline - time.monotonic()
            if timeout <= 0 or not select.select([fd], [], [], timeout)[0]:
                self._kill(pid)
                if tracing_since is not None:  # only the metrics run overran: the verdict stands
                    self._deadline += time.monotonic() - tracing_since
                    return current + 1 if current + 1 < n else None
                reason = "time limit exceeded" if ready else "time limit exceeded while loading the solution"
                self._fail_from(results, current, n, "TIME_LIMIT_EXCEEDED", reason)
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                frame = _parse(line)
                wrong_index = frame is not None and any(
                    frame.get(k) not in (None, current) for k in ("i", "m")
                )
                if frame is None or wrong_index or (("m" in frame) != (tracing_since is not None)):
                    self._kill(pid)
                    self._fail_from(results, current, current + 1, "RUNTIME_ERROR", "malformed result frame")
                    return current + 1 if current + 1 < n else None
                if frame.get("s") == "layers":
                    self.child_layers = {str(k): str(v) for k, v in dict(frame.get("layers") or {}).items()}
                elif frame.get("s") == "infra":
                    self._reap(pid)
                    raise SandboxSetupError(str(frame.get("e", "")))
                elif frame.get("s") == "ready":
                    ready = True
                elif frame.get("s") == "setup":
                    outcome = frame.get("o") if frame.get("o") in _OUTCOMES else "RUNTIME_ERROR"
                    for k in range(current, n):  # the solution never loaded: every test fails alike
                        results[k] = {"o": outcome, "e": str(frame.get("e", ""))[:300]}
                    self._pending.append((pid, ""))
                    return None
                elif frame.get("s") == "done":
                    self._pending.append((pid, ""))
                    last = results[current - 1] if current > start else None
                    self._fail_from(
                        results, current, n, (last or {}).get("o"), "stop_on_first_fail", skip_first=True
                    )
                    return None
                elif "i" in frame:
                    results[current] = _result(frame)
                    if "o" not in frame and self._traced(job, current):
                        tracing_since = time.monotonic()
                        test_deadline = tracing_since + job["time_s"] * TRACE_BUDGET_FACTOR + FRAME_SLACK_S
                        continue
                    current += 1
                elif "m" in frame and tracing_since is not None:
                    results[current].update(_metrics(frame))
                    self._deadline += time.monotonic() - tracing_since
                    tracing_since = None
                    current += 1
                test_deadline = min(self._deadline, time.monotonic() + per_test)
            if len(buf) > cap:
                self._kill(pid)
                self._fail_from(
                    results, current, current + 1, "RUNTIME_ERROR", "result exceeds the output limit"
                )
                return current + 1 if current + 1 < n else None
        # the pipe closed before "done": the child died while running test `current`
        status = self._reap(pid)
        if current >= n:
            return None
        if tracing_since is not None:  # it died in the metrics-only run: the verdict stands
            self._deadline += time.monotonic() - tracing_since
            return current + 1 if current + 1 < n else None
        outcome, text = _death(status)
        results[current] = {"o": outcome, "e": text}
        return current + 1 if current + 1 < n and outcome != "TIME_LIMIT_EXCEEDED" else None

    @staticmethod
    def _traced(job: dict[str, Any], index: int) -> bool:
        """Does this test get the separate memory/steps run?"""
        if job["mode"] != "call" or not set(job["metrics"]) & {"memory", "steps"}:
            return False
        return job.get("traced_tests") is None or index in job["traced_tests"]

    @staticmethod
    def _fail_from(
        results: list, first: int, end: int, outcome: str | None, text: str, skip_first: bool = False
    ) -> None:
        """Mark tests [first, end) failed with `outcome`: the first as run (unless skip_first), later as skipped."""
        for k in range(first, end):
            if results[k] is None:
                if k == first and not skip_first:
                    results[k] = {"o": outcome or "RUNTIME_ERROR", "e": text}
                else:
                    results[k] = {"o": outcome or "RUNTIME_ERROR", "e": f"not run: {text}", "skip": True}

    @staticmethod
    def _kill(pid: int) -> None:
        for target in (-pid, pid):
            try:
                os.kill(target, signal.SIGKILL)
            except ProcessLookupError:
                pass
        Worker._reap(pid)

    @staticmethod
    def _reap(pid: int) -> int:
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return 0


def _metrics(frame: dict[str, Any]) -> dict[str, Any]:
    """The numeric fields of a traced-run frame."""
    return {
        k: frame[k]
        for k in ("mc", "mp", "st")
        if isinstance(frame.get(k), int) and not isinstance(frame.get(k), bool)
    }


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        frame = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return frame if isinstance(frame, dict) else None


_OUTCOMES = (
    "RUNTIME_ERROR",
    "MEMORY_LIMIT_EXCEEDED",
    "WRONG_ANSWER",
    "COMPILATION_ERROR",
    "TIME_LIMIT_EXCEEDED",
)


def _result(frame: dict[str, Any]) -> dict[str, Any]:
    """Keep only the known fields of a child's test frame, with their expected types."""
    out: dict[str, Any] = {}
    if "o" in frame:
        out["o"] = frame["o"] if frame["o"] in _OUTCOMES[:3] else "RUNTIME_ERROR"
        out["e"] = str(frame.get("e", ""))[:300]
        return out
    out["v"] = frame.get("v")
    for key in ("t", "c", "mc", "mp", "ins", "st"):
        if isinstance(frame.get(key), (int, float)) and not isinstance(frame.get(key), bool):
            out[key] = frame[key]
    return out


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
    worker = Worker(config)
    worker.warm_up()
    write_frame(
        out_fd,
        {"ready": True, "pid": os.getpid(), "layers": worker.layers, "instructions": worker.instructions},
    )
    while True:
        job = read_frame(in_fd)
        if job is None:
            return
        if job.get("ping"):
            write_frame(out_fd, {"pong": True})
            continue
        try:
            reply = worker.run_job(job)
        except SandboxSetupError as e:
            reply = {"id": job.get("id"), "infra_error": f"sandbox setup failed: {e}"}
        write_frame(out_fd, reply)
        worker.cleanup()


if __name__ == "__main__":
    main()
