"""What runs inside the confined child: compile, run each test, measure, send plain results.

The child never sees expected values. It sends one newline-terminated JSON frame per event:
`{"s": "ready"}` after the solution loaded, `{"i": k, "v": value, ...metrics}` or
`{"i": k, "o": OUTCOME, "e": text}` per test (then `{"m": k, ...memory/steps}` when the test gets the
separate traced run), `{"s": "done"}` at the end, or a setup failure
`{"s": "setup", "o": OUTCOME, "e": text}`. The worker enforces time limits from outside.
"""

from __future__ import annotations

import gc
import io
import json
import os
import sys
import time
import tracemalloc
import types
from types import CodeType
from typing import Any

from . import steps as steps_mod
from .values import UnsupportedValue, canonical

# bound now, before any candidate code can monkeypatch the modules they come from
_dumps = json.dumps
_loads = json.loads
_perf = time.perf_counter
_cpu = time.thread_time
_write = os.write
_tm_start, _tm_stop, _tm_get = tracemalloc.start, tracemalloc.stop, tracemalloc.get_traced_memory
_ERROR_TEXT = 300


class Channel:
    """Frames to the worker over a pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, frame: dict[str, Any]) -> None:
        data = (_dumps(frame) + "\n").encode()
        view = memoryview(data)
        while view:
            n = _write(self.fd, view)
            view = view[n:]


def error_text(e: BaseException) -> str:
    try:
        text = f"{type(e).__name__}: {e}"
    except Exception:  # a hostile __str__
        text = type(e).__name__
    return text[:_ERROR_TEXT]


def outcome_of(e: BaseException) -> str:
    return "MEMORY_LIMIT_EXCEEDED" if isinstance(e, MemoryError) else "RUNTIME_ERROR"


def load_solution(code: str, preamble: CodeType | None, instrumented: bool = False) -> dict[str, Any]:
    """Execute the preamble and the solution in a fresh namespace. Raises SyntaxError on bad code."""
    code_obj = steps_mod.instrument(code) if instrumented else compile(code, "<solution>", "exec")
    # a real module in sys.modules: dataclasses, pickle and typing look the defining module up there
    module = types.ModuleType("solution_traced" if instrumented else "solution")
    sys.modules[module.__name__] = module
    ns: dict[str, Any] = module.__dict__
    if instrumented:
        ns[steps_mod.TICK_NAME] = steps_mod.StepCounter().tick
    if preamble is not None:
        exec(preamble, ns)
    exec(code_obj, ns)
    return ns


def encode_args(test: Any) -> str:
    """A TestCase's arguments in the form `build_args` reads: [[name, value, kind], ...] as JSON."""
    return _dumps([[a.name, a.value, a.kind] for a in test.args])


def build_args(raw: str, ns: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Fresh argument objects for one call; list_node/tree_node values become real nodes."""
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    for name, value, kind in _loads(raw):
        if kind != "value":
            value = ns[kind](value)
        if name is None:
            positional.append(value)
        else:
            keywords[name] = value
    return positional, keywords


def run_call_tests(
    job: dict[str, Any], start: int, channel: Channel, preamble: CodeType | None, counter: Any
) -> None:
    """Function-call tests (LeetCode style): instantiate the class per test and call the method."""
    metrics = set(job["metrics"])
    traced = bool(metrics & {"memory", "steps"})
    try:
        ns = load_solution(job["code"], preamble)
        ns2 = load_solution(job["code"], preamble, instrumented="steps" in metrics) if traced else None
    except (SyntaxError, ValueError, OverflowError) as e:  # ValueError: null bytes in source
        channel.send({"s": "setup", "o": "COMPILATION_ERROR", "e": error_text(e)})
        return
    except BaseException as e:  # module-level code of the solution failed (SystemExit included)
        channel.send({"s": "setup", "o": outcome_of(e), "e": error_text(e)})
        return
    cls_name, method = job["class_name"], job["method"]
    if not isinstance(ns.get(cls_name), type) or not hasattr(ns[cls_name], method):
        channel.send({"s": "setup", "o": "RUNTIME_ERROR", "e": f"{cls_name}.{method} is not defined"})
        return
    channel.send({"s": "ready"})
    tests = job["tests"]
    traced_tests = None if job.get("traced_tests") is None else set(job["traced_tests"])
    for i in range(start, len(tests)):
        frame: dict[str, Any] = {"i": i}
        try:
            args, kwargs = build_args(tests[i], ns)
            fn = getattr(ns[cls_name](), method)
            before = counter.read() if counter else 0
            c0, t0 = _cpu(), _perf()
            value = fn(*args, **kwargs)
            t1, c1 = _perf(), _cpu()
            after = counter.read() if counter else 0
            frame["v"] = canonical(value)
            frame["t"] = t1 - t0
            frame["c"] = c1 - c0
            if counter:
                frame["ins"] = after - before
        except UnsupportedValue as e:
            frame = {"i": i, "o": "WRONG_ANSWER", "e": str(e)}
        except BaseException as e:
            frame = {"i": i, "o": outcome_of(e), "e": error_text(e)}
        channel.send(frame)  # the verdict's data first: a slow traced run must never cost the verdict
        if "o" in frame:
            if job["stop_on_first_fail"]:
                break
        elif ns2 is not None and (traced_tests is None or i in traced_tests):
            try:
                traced = _traced_run(tests[i], ns2, cls_name, method, metrics)
            except BaseException as e:  # the metrics run alone failed: the verdict stands
                traced = {"me": error_text(e)}
            channel.send({"m": i, **traced})
    channel.send({"s": "done"})


def _traced_run(
    raw: str, ns: dict[str, Any], cls_name: str, method: str, metrics: set[str]
) -> dict[str, Any]:
    """Second run for memory (tracemalloc) and steps; kept apart so tracing never distorts the timing."""
    args, kwargs = build_args(raw, ns)
    fn = getattr(ns[cls_name](), method)
    if "steps" in metrics:
        counter = steps_mod.StepCounter()
        ns[steps_mod.TICK_NAME] = counter.tick
    out: dict[str, Any] = {}
    gc.collect()  # the same collector state before every traced call: peaks then repeat exactly
    if "memory" in metrics:
        _tm_start()
        try:
            fn(*args, **kwargs)
            out["mc"], out["mp"] = _tm_get()
        finally:
            _tm_stop()
    else:
        fn(*args, **kwargs)
    if "steps" in metrics:
        out["st"] = counter.count
    return out


class _CappedOutput(io.StringIO):
    """stdout for stdin/stdout-style programs; raises once the cap is exceeded."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap
        self.size = 0

    def write(self, s: str) -> int:
        self.size += len(s)
        if self.size > self.cap:
            raise OSError("output limit exceeded")
        return super().write(s)


def run_stdio_tests(job: dict[str, Any], start: int, channel: Channel) -> None:
    """Program-style tests (ExecEval): run the whole program per test with stdin; stdout is the result."""
    try:
        code_obj = compile(job["code"], "<solution>", "exec")
    except (SyntaxError, ValueError, OverflowError) as e:
        channel.send({"s": "setup", "o": "COMPILATION_ERROR", "e": error_text(e)})
        return
    channel.send({"s": "ready"})
    for i in range(start, len(job["tests"])):
        out = _CappedOutput(job["output_bytes"])
        sys.stdin, sys.stdout = io.StringIO(job["tests"][i]), out
        frame: dict[str, Any] = {"i": i}
        t0 = _perf()
        try:
            exec(code_obj, {"__name__": "__main__"})
            frame["v"] = out.getvalue()
        except SystemExit as e:
            if e.code not in (None, 0):
                frame = {"i": i, "o": "RUNTIME_ERROR", "e": f"SystemExit: {e.code}"[:_ERROR_TEXT]}
            else:
                frame["v"] = out.getvalue()
        except BaseException as e:
            frame = {"i": i, "o": outcome_of(e), "e": error_text(e)}
        frame.setdefault("t", _perf() - t0)
        sys.stdout = sys.__stdout__
        channel.send(frame)
        if "o" in frame and job["stop_on_first_fail"]:
            break
    channel.send({"s": "done"})
