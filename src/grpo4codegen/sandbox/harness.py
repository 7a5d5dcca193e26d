"""What runs inside the confined child: compile, run each test, measure, send plain results.

The child never sees expected values. Our part comes first: compile the candidate's source (SETUP
with COMPILATION_ERROR if it does not compile) and run the problem's preamble, then BEGIN (flushed).
Only then does the candidate's code run: its module-level code, then per test VALUE (time, CPU time
and the value as JSON) or ERROR (outcome and text), and DONE at the end. A traced child (forked after
the timed run) sends METRICS per traced test instead. Before each call the child marks the test as
running on the shared progress page, which is how the worker enforces the per-test time limit from
outside. Every figure this module measures is the candidate's claim: it runs in the candidate's
process; the worker measures CPU time and memory from the kernel.
"""

from __future__ import annotations

import _tracemalloc
import fcntl
import gc
import io
import json
import os
import resource
import sys
import time
import types
from collections.abc import Sequence
from json.encoder import c_make_encoder, encode_basestring_ascii
from types import CodeType
from typing import Any

from . import steps as steps_mod
from .protocol import (
    DONE,
    ERROR,
    METRICS,
    PHASE_CALL,
    PHASE_COMPILE,
    PHASE_LOADING,
    PHASE_TRACED,
    SETUP,
    RecordWriter,
    value_checksum,
)
from .values import UnsupportedValue, canonical

# bound now, before any candidate code can monkeypatch the modules they come from
_dumps = json.dumps
_loads = json.loads


def _not_plain(o: Any) -> Any:
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


#: the C encoder json.dumps builds on every call, built once (a test's value is encoded in well under
#: a microsecond instead of about three): json.dumps's text exactly (its separators, ASCII only, NaN
#: allowed), without its check for cycles, which `canonical`'s plain data never has
_encoder = (
    c_make_encoder(None, _not_plain, encode_basestring_ascii, None, ": ", ", ", False, False, True)
    if c_make_encoder is not None
    else None
)


def value_json(value: Any) -> str:
    """The JSON text of a returned value's plain-data form (`canonical`), as json.dumps writes it."""
    data = canonical(value)
    return "".join(_encoder(data, 0)) if _encoder is not None else _dumps(data)


_perf = time.perf_counter
_cpu = time.thread_time
# read once, at BEGIN (before any candidate code): our own share of the child's CPU time and peak memory,
# which the worker subtracts from the kernel's figures
_process_cpu = time.process_time
_getrusage = resource.getrusage


def _maxrss() -> int:
    return _getrusage(resource.RUSAGE_SELF).ru_maxrss


#: the child's peak memory (KiB) when it started, before it read its job: what BEGIN reports as ours
_setup_maxrss: int | None = None


def note_setup_memory() -> None:
    """Called first thing in a fresh child: its memory high-water mark so far is ours (inherited at
    the fork); anything after, reading the job included, counts towards the candidate's peak."""
    global _setup_maxrss
    _setup_maxrss = _maxrss()


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


#: a problem's preamble as a child runs it: the namespace the forker warmed with its imports (or None:
#: a fresh module), and the code to run on it (the rest, or the whole preamble; None: nothing)
Preamble = tuple[types.ModuleType | None, CodeType | None]
NO_PREAMBLE: Preamble = (None, None)


def load_solution(code: str, preamble: CodeType | None, instrumented: bool = False) -> dict[str, Any]:
    """Execute the preamble and the solution in a fresh namespace. Raises SyntaxError on bad code."""
    code_obj = compile_solution(code, instrumented)
    ns = new_namespace((None, preamble), instrumented)
    exec(code_obj, ns)
    return ns


def compile_solution(code: str, instrumented: bool = False) -> CodeType:
    """The candidate's code object (with step ticks when `instrumented`). Raises SyntaxError, ValueError.
    Every compile of a candidate's code or a preamble passes `dont_inherit`: compile() would otherwise
    give it the calling module's `from __future__ import annotations`, and annotations that plain
    Python evaluates (and fails on) would pass unevaluated."""
    return (
        steps_mod.instrument(code) if instrumented else compile(code, "<solution>", "exec", dont_inherit=True)
    )


def new_namespace(preamble: Preamble, instrumented: bool = False) -> dict[str, Any]:
    """The solution's module namespace holding the problem's preamble (our code, run before the
    candidate's): a fresh module, or the one the forker warmed with the preamble's imports (this
    process's own copy: nothing done to it reaches the forker or another child)."""
    base, code = preamble
    name = "solution_traced" if instrumented else "solution"
    module = base if base is not None else types.ModuleType(name)
    module.__name__ = name
    # a real module in sys.modules: dataclasses, pickle and typing look the defining module up there
    sys.modules[name] = module
    ns: dict[str, Any] = module.__dict__
    if instrumented:
        ns[steps_mod.TICK_NAME] = steps_mod.StepCounter().tick
    if code is not None:
        exec(code, ns)
    return ns


def _prepare(
    job: dict[str, Any], out: RecordWriter, preamble: Preamble, instrumented: bool
) -> tuple[CodeType, dict[str, Any]] | None:
    """Our part of a child's run, up to BEGIN: run the preamble, then compile the candidate's code.
    Sends SETUP (and returns None) when either fails. The CPU time BEGIN reports as ours is read after
    the preamble and before the compilation, and the peak memory when the child started
    (`note_setup_memory`): what reading and compiling the source cost depends on the candidate's
    source (a long one could raise the peak and hide its solution's memory below it), so it counts as
    the candidate's."""
    try:
        ns = new_namespace(preamble, instrumented)
    except BaseException as e:  # the problem's own preamble failed: it fails every submission alike
        out.send_json(SETUP, 0, {"o": "RUNTIME_ERROR", "e": f"preamble: {error_text(e)}"}, flush=True)
        return None
    ours = _process_cpu(), _maxrss() if _setup_maxrss is None else _setup_maxrss
    out.progress(-1, PHASE_COMPILE)
    try:
        code_obj = compile_solution(job["code"], instrumented)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as e:
        # ValueError: null bytes in the source; RecursionError/MemoryError: pathological nesting
        out.send_json(SETUP, 0, {"o": "COMPILATION_ERROR", "e": error_text(e)}, flush=True)
        return None
    out.begin(*ours)
    return code_obj, ns


def _load(code_obj: CodeType, ns: dict[str, Any], job: dict[str, Any]) -> dict[str, Any] | None:
    """Run the candidate's module-level code (after BEGIN); None (and the reason) when it fails."""
    try:
        exec(code_obj, ns)
    except BaseException as e:  # SystemExit included
        return {"o": outcome_of(e), "e": error_text(e)}
    cls_name, method = job["class_name"], job["method"]
    if not isinstance(ns.get(cls_name), type) or not hasattr(ns[cls_name], method):
        return {"o": "RUNTIME_ERROR", "e": f"{cls_name}.{method} is not defined"}
    return None


#: the kind of an argument that JSON would not carry exactly (a tuple, a set, a dict with keys that
#: are not strings, bytes, a complex number): sent tagged (`tag_value`), rebuilt by `untag_value`.
#: Not an identifier, so never the name of a preamble's helper (the other kinds)
TAGGED = "<tagged>"
_TAGS = {tuple: "__tuple__", set: "__set__", frozenset: "__frozenset__", bytes: "__bytes__"}


def encode_args(test: Any) -> str:
    """A TestCase's arguments in the form `build_args` reads: [[name, value, kind], ...] as JSON. A
    value JSON would change (a tuple into a list, an int key into a string) or refuse (a set) is
    sent tagged, so that the solution gets exactly the value the test wrote."""
    return _dumps(
        [
            [a.name, a.value, a.kind]
            if a.kind != "value" or _plain(a.value)
            else [a.name, tag_value(a.value), TAGGED]
            for a in test.args
        ]
    )


def _plain(value: Any) -> bool:
    """Does JSON carry `value` exactly (None, bool, int, float, str, and lists and str-keyed dicts of them)?"""
    t = type(value)
    if value is None or t is bool or t is int or t is float or t is str:
        return True
    if t is list:
        return all(_plain(v) for v in value)
    if t is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return False


def tag_value(value: Any) -> Any:
    """A literal value as JSON-compatible data that `untag_value` turns back into an equal value of the
    same types. Raises TypeError for anything a test's literal cannot hold."""
    t = type(value)
    if value is None or t is bool or t is int or t is float or t is str:
        return value
    if t is list:
        return [tag_value(v) for v in value]
    if t is dict:
        return {"__dict__": [[tag_value(k), tag_value(v)] for k, v in value.items()]}
    if t is bytes:
        return {"__bytes__": value.decode("latin-1")}
    if t is complex:
        return {"__complex__": [value.real, value.imag]}
    if t in _TAGS:
        return {_TAGS[t]: [tag_value(v) for v in value]}
    raise TypeError(f"a test argument of type {t.__name__} cannot be sent to the sandbox")


def untag_value(data: Any) -> Any:
    """The value `tag_value` encoded."""
    if type(data) is list:
        return [untag_value(v) for v in data]
    if type(data) is not dict:
        return data
    ((tag, inner),) = data.items()
    if tag == "__dict__":
        return {untag_value(k): untag_value(v) for k, v in inner}
    if tag == "__bytes__":
        return inner.encode("latin-1")
    if tag == "__complex__":
        return complex(*inner)
    items = [untag_value(v) for v in inner]
    return {"__tuple__": tuple, "__set__": set, "__frozenset__": frozenset}[tag](items)


def build_args(raw: str, ns: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Fresh argument objects for one call; list_node/tree_node values become real nodes."""
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    for name, value, kind in _loads(raw):
        if kind == TAGGED:
            value = untag_value(value)
        elif kind != "value":
            value = ns[kind](value)
        if name is None:
            positional.append(value)
        else:
            keywords[name] = value
    return positional, keywords


def run_call_tests(job: dict[str, Any], order: Sequence[int], out: RecordWriter, preamble: Preamble) -> None:
    """The timed run of function-call tests (LeetCode style), in `order`: one instance per test.

    Only this run counts towards the kernel's CPU and memory figures; the traced run of a test (memory,
    steps) happens in another child (`run_traced_tests`)."""
    prepared = _prepare(job, out, preamble, instrumented=False)
    if prepared is None:
        return
    code_obj, ns = prepared
    out.progress(-1, PHASE_LOADING)
    failure = _load(code_obj, ns, job)
    if failure is not None:  # the solution never loaded: every test fails alike
        for i in order:
            out.send_json(ERROR, i, failure)
        out.send(DONE, flush=True)
        return
    cls_name, method = job["class_name"], job["method"]
    tests = job["tests"]
    for i in order:
        out.progress(i, PHASE_CALL)  # from here the worker's per-test clock runs for test i
        try:
            args, kwargs = build_args(tests[i], ns)
            fn = getattr(ns[cls_name](), method)
            c0, t0 = _cpu(), _perf()
            value = fn(*args, **kwargs)
            t1, c1 = _perf(), _cpu()
            text = value_json(value)
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
        out.send_value(i, t1 - t0, c1 - c0, text)
    out.send(DONE, flush=True)


def run_traced_tests(
    job: dict[str, Any], order: Sequence[int], out: RecordWriter, preamble: Preamble
) -> None:
    """The traced runs (tracemalloc and/or steps) of the tests in `order`, in a child of their own,
    forked after the timed run ended: tracing never touches the timed child's figures, and nothing the
    traced child does reaches the verdicts. Each METRICS record carries a checksum of the value the
    traced call returned, which the worker compares with the timed run's."""
    metrics = set(job["metrics"])
    prepared = _prepare(job, out, preamble, instrumented="steps" in metrics)
    if prepared is None:
        return
    code_obj, ns = prepared
    out.progress(-1, PHASE_LOADING)
    if _load(code_obj, ns, job) is not None:
        out.send(DONE, flush=True)
        return
    for i in order:
        out.progress(i, PHASE_TRACED)
        try:
            result = _traced_run(job["tests"][i], ns, job["class_name"], job["method"], metrics)
        except BaseException as e:  # the metrics run alone failed: the verdict stands
            result = {"me": error_text(e)}
        out.send_json(METRICS, i, result, flush=True)
    out.send(DONE, flush=True)


def _traced_run(
    raw: str, ns: dict[str, Any], cls_name: str, method: str, metrics: set[str]
) -> dict[str, Any]:
    """One traced call for memory (tracemalloc) and steps; kept apart so tracing never distorts timing."""
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
            value = fn(*args, **kwargs)
            out["mc"], out["mp"] = _tm_get()
        finally:
            _tm_stop()
    else:
        value = fn(*args, **kwargs)
    if "steps" in metrics:
        out["st"] = counter.count
    out["h"] = value_checksum(value_json(value).encode())
    return out


class _CappedBytes(io.BytesIO):
    """The bytes under a stdin/stdout-style program's stdout; raises once the cap is exceeded."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap
        self.size = 0

    def write(self, b: Any) -> int:
        self.size += memoryview(b).nbytes
        if self.size > self.cap:
            raise OSError("output limit exceeded")
        return super().write(b)

    def close(self) -> None:
        """Kept open: the text stream over it closes it when replaced (or when the program closes
        sys.stdout), and what was written is read after that."""


def _stdio_streams(text: str, cap: int) -> tuple[io.TextIOWrapper, io.TextIOWrapper, _CappedBytes]:
    """stdin holding `text` and a capped stdout, text streams over bytes as a real process's are:
    competitive programs read `sys.stdin.buffer` and write `sys.stdout.buffer`, stdin reads with
    universal newlines, and stdout is block-buffered as when it is a pipe (so text printed and not
    flushed comes after bytes written to `.buffer`, as under a judge). The third item holds the bytes
    written; flush stdout before reading it."""
    stdin = io.TextIOWrapper(io.BytesIO(text.encode("utf-8", "surrogatepass")), "utf-8", "surrogatepass")
    captured = _CappedBytes(cap)
    return stdin, io.TextIOWrapper(captured, "utf-8", "surrogatepass", newline="\n"), captured


#: the seals of a test's input file: its contents and size fixed for good
_INPUT_SEALS = fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL


def stdin_files(tests: Sequence[str], order: Sequence[int], first_fd: int) -> dict[int, int]:
    """Each stdio test's input in a memory file of its own, sealed (read-only, fixed size), as
    descriptors numbered from `first_fd` up: test -> descriptor. Made before confinement (a confined
    child may not make memory files: their pages lie outside its address-space limit, and these hold
    only our own data), above the child's descriptor limit so that its own files keep every number
    below it. A test left without one (out of descriptors or memory) gets `_stdin_descriptor`'s file."""
    files: dict[int, int] = {}
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = first_fd + len(order) + 1
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(
                resource.RLIMIT_NOFILE,
                (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard),
            )
        for i in order:
            made = os.memfd_create("stdin", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            try:
                view = memoryview(tests[i].encode("utf-8", "surrogatepass"))
                while view:
                    view = view[os.write(made, view) :]
                os.lseek(made, 0, os.SEEK_SET)
                fcntl.fcntl(made, fcntl.F_ADD_SEALS, _INPUT_SEALS)
                files[i] = fcntl.fcntl(made, fcntl.F_DUPFD_CLOEXEC, first_fd)
            finally:
                os.close(made)
    except (OSError, ValueError):
        pass
    return files


def _stdin_descriptor(data: bytes) -> None:
    """File descriptor 0 holding a test's input, as a process's stdin is (`open(0).read()`,
    `os.read(0, n)`), where `stdin_files` made none: a file in the work directory, written, opened
    read-only and unlinked. Where the scratch has no room for it (1 MiB, shared with the candidate's
    own files) fd 0 is `/dev/null`."""
    name = f".stdin-{os.getpid()}"
    try:
        os.unlink(name)
    except OSError:
        pass
    source = os.open(os.devnull, os.O_RDONLY)
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        written = os.open(name, os.O_RDONLY | os.O_NOFOLLOW)
        os.close(source)
        source = written
    except OSError:
        pass
    finally:
        try:
            os.unlink(name)
        except OSError:
            pass
    os.dup2(source, 0)
    os.close(source)


def run_stdio_tests(
    job: dict[str, Any], order: Sequence[int], out: RecordWriter, inputs: dict[int, int] | None = None
) -> None:
    """Program-style tests (ExecEval): run the whole program per test with stdin; stdout is the result.
    `inputs`: descriptors holding tests' inputs (`stdin_files`), each becomes fd 0 for its test."""
    inputs = {} if inputs is None else inputs
    prepared = _prepare(job, out, NO_PREAMBLE, instrumented=False)
    if prepared is None:
        return
    code_obj = prepared[0]
    for i in order:
        out.progress(i, PHASE_CALL)
        stdin, stdout, captured = _stdio_streams(job["tests"][i], job["output_bytes"])
        sys.stdin, sys.stdout = stdin, stdout
        failure = None
        c0, t0 = _cpu(), _perf()
        try:
            try:
                # (inside: a program that used up its descriptors in an earlier test fails this one)
                if i in inputs:
                    fd = inputs.pop(i)
                    try:
                        os.dup2(fd, 0)
                    finally:
                        os.close(fd)
                else:
                    _stdin_descriptor(stdin.buffer.getvalue())
                exec(code_obj, {"__name__": "__main__"})
            finally:  # what it printed last, as at a process's exit (over the cap: its failure)
                if not stdout.closed:
                    stdout.flush()
        except SystemExit as e:
            if e.code not in (None, 0):
                failure = {"o": "RUNTIME_ERROR", "e": f"SystemExit: {e.code}"[:_ERROR_TEXT]}
        except BaseException as e:
            failure = {"o": outcome_of(e), "e": error_text(e)}
        t1, c1 = _perf(), _cpu()
        sys.stdout = sys.__stdout__
        if failure is None:
            text = captured.getvalue().decode("utf-8", "replace")  # (bytes written to .buffer may be any)
            out.send_value(i, t1 - t0, c1 - c0, _dumps(text))
        else:
            out.send_json(ERROR, i, failure)
            if job["stop_on_first_fail"]:
                break
    out.send(DONE, flush=True)
