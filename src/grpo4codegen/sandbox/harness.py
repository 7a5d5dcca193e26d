"""What runs inside the confined child: compile, run each test, measure, send plain results.

The child never sees expected values. It writes records (`protocol.RecordWriter`): READY after the
solution loaded, per test VALUE (time, CPU time, instructions and the value as JSON) or ERROR
(outcome and text), then METRICS when the test gets the separate traced run, DONE at the end, or
SETUP when the solution never loaded. Before each call it marks the test as running on the shared
progress page, which is how the worker enforces the per-test time limit from outside.
"""

from __future__ import annotations

import _tracemalloc
import gc
import io
import json
import sys
import time
import types
from collections.abc import Sequence
from types import CodeType
from typing import Any

from . import steps as steps_mod
from .protocol import (
    DONE,
    ERROR,
    METRICS,
    PHASE_CALL,
    PHASE_TRACED,
    READY,
    SETUP,
    VALUE,
    RecordWriter,
    value_payload,
)
from .values import UnsupportedValue, canonical

# bound now, before any candidate code can monkeypatch the modules they come from
_dumps = json.dumps
_loads = json.loads
_perf = time.perf_counter
_cpu = time.thread_time
# the C module: `tracemalloc` itself would bring pickle and tokenize into every worker
_tm_start, _tm_stop, _tm_get = _tracemalloc.start, _tracemalloc.stop, _tracemalloc.get_traced_memory
_ERROR_TEXT = 300


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
    job: dict[str, Any], order: Sequence[int], out: RecordWriter, preamble: CodeType | None, counter: Any
) -> None:
    """Function-call tests (LeetCode style), in `order`: instantiate the class per test, call the method."""
    metrics = set(job["metrics"])
    traced = bool(metrics & {"memory", "steps"})
    try:
        ns = load_solution(job["code"], preamble)
        ns2 = load_solution(job["code"], preamble, instrumented="steps" in metrics) if traced else None
    except (SyntaxError, ValueError, OverflowError) as e:  # ValueError: null bytes in source
        out.send_json(SETUP, 0, {"o": "COMPILATION_ERROR", "e": error_text(e)}, flush=True)
        return
    except BaseException as e:  # module-level code of the solution failed (SystemExit included)
        out.send_json(SETUP, 0, {"o": outcome_of(e), "e": error_text(e)}, flush=True)
        return
    cls_name, method = job["class_name"], job["method"]
    if not isinstance(ns.get(cls_name), type) or not hasattr(ns[cls_name], method):
        out.send_json(
            SETUP, 0, {"o": "RUNTIME_ERROR", "e": f"{cls_name}.{method} is not defined"}, flush=True
        )
        return
    out.send(READY, flush=True)  # wakes the worker: from now on the progress page tells the time
    tests = job["tests"]
    traced_tests = None if job.get("traced_tests") is None else set(job["traced_tests"])
    for i in order:
        out.progress(i, PHASE_CALL)  # from here the worker's per-test clock runs for test i
        try:
            args, kwargs = build_args(tests[i], ns)
            fn = getattr(ns[cls_name](), method)
            before = counter.read() if counter else 0
            c0, t0 = _cpu(), _perf()
            value = fn(*args, **kwargs)
            t1, c1 = _perf(), _cpu()
            instructions = counter.read() - before if counter else None
            payload = value_payload(t1 - t0, c1 - c0, instructions, _dumps(canonical(value)))
        except UnsupportedValue as e:
            failure = {"o": "WRONG_ANSWER", "e": str(e)}
        except BaseException as e:
            failure = {"o": outcome_of(e), "e": error_text(e)}
        else:
            failure = None
        if failure is not None:
            out.send_json(ERROR, i, failure)
            if job["stop_on_first_fail"]:
                break
            continue
        wants_trace = ns2 is not None and (traced_tests is None or i in traced_tests)
        out.send(VALUE, i, payload, flush=wants_trace)  # the verdict's data first: tracing may overrun
        if wants_trace:
            out.progress(i, PHASE_TRACED)
            try:
                result = _traced_run(tests[i], ns2, cls_name, method, metrics)
            except BaseException as e:  # the metrics run alone failed: the verdict stands
                result = {"me": error_text(e)}
            out.send_json(METRICS, i, result, flush=True)
    out.send(DONE, flush=True)


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


def run_stdio_tests(job: dict[str, Any], order: Sequence[int], out: RecordWriter) -> None:
    """Program-style tests (ExecEval): run the whole program per test with stdin; stdout is the result."""
    try:
        code_obj = compile(job["code"], "<solution>", "exec")
    except (SyntaxError, ValueError, OverflowError) as e:
        out.send_json(SETUP, 0, {"o": "COMPILATION_ERROR", "e": error_text(e)}, flush=True)
        return
    out.send(READY, flush=True)  # wakes the worker: from now on the progress page tells the time
    for i in order:
        out.progress(i, PHASE_CALL)
        captured = _CappedOutput(job["output_bytes"])
        sys.stdin, sys.stdout = io.StringIO(job["tests"][i]), captured
        failure = None
        c0, t0 = _cpu(), _perf()
        try:
            exec(code_obj, {"__name__": "__main__"})
        except SystemExit as e:
            if e.code not in (None, 0):
                failure = {"o": "RUNTIME_ERROR", "e": f"SystemExit: {e.code}"[:_ERROR_TEXT]}
        except BaseException as e:
            failure = {"o": outcome_of(e), "e": error_text(e)}
        t1, c1 = _perf(), _cpu()
        sys.stdout = sys.__stdout__
        if failure is None:
            out.send(VALUE, i, value_payload(t1 - t0, c1 - c0, None, _dumps(captured.getvalue())))
        else:
            out.send_json(ERROR, i, failure)
            if job["stop_on_first_fail"]:
                break
    out.send(DONE, flush=True)
