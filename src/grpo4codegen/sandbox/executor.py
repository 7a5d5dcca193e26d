"""The executor: a pool of warm sandbox workers, and the place where verdicts are decided.

`Executor.run_many` is the API the rewards, the server and the scorer share. Workers are fresh
interpreters (`python -m grpo4codegen.sandbox.worker`), so they never hold expected outputs; the
executor sends them code and inputs only, and compares the plain results that come back with the
expected values itself. A worker that dies is replaced; its job is retried once, then reported as an
infrastructure failure, distinct from any verdict on the candidate.
"""

from __future__ import annotations

import atexit
import collections
import fcntl
import json
import logging
import math
import operator
import os
import queue
import re
import select
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from types import CodeType
from typing import Any

from ..data.problems import Problem
from ..errors import IsolationError
from .harness import encode_args
from .isolation import IsolationConfig, missing_layers
from .protocol import (
    compiled_preamble,
    job_body,
    job_members,
    parse_value_payload,
    read_frame,
    split_preamble,
    write_frame,
)
from .sizing import embedded_pool_size
from .types import ExecOutcome, ExecutionResult, Limits, TestResult
from .values import expected_canonical, matches, short_repr
from .worker import job_seconds_bound

log = logging.getLogger(__name__)
WATCHDOG_MARGIN_S = 30.0
#: the longest source a submission may have (far above any completion a model writes): a longer one is
#: the candidate's COMPILATION_ERROR, never sent (it could outgrow a frame, and the child's reading
#: of it would raise its memory high-water mark before its code runs)
MAX_CODE_CHARS = 1 << 20
WORKER_START_TIMEOUT_S = 60.0
#: as root, where worker slots are claimed host-wide (`_Slots`), and how many there are
SLOT_DIR = "/run/grpo4codegen-slots" if os.path.isdir("/run") else "/tmp/grpo4codegen-slots"
MAX_SLOTS = 1 << 16
#: a value's JSON text may be at most this many times its expected value's, plus this many bytes,
#: before the executor decodes it (longer, it is a wrong answer as it stands): a correct value's text
#: is a few times its expected one's at most (a float written out in full for an expected `0.0` or
#: `1`), while decoding the candidate's bytes costs this process, not the child: a forged text of
#: `1e-400`s took 0.22 s a MiB to decode, 28 s of the caller's CPU for the 128 MiB a reply may hold
VALUE_TEXT_FACTOR = 16
VALUE_TEXT_SLACK = 4096
#: a float in exponent form in an expected value's JSON: an integer equal to it may be far longer
_EXPONENT = re.compile(rb"\d[eE][+-]?\d")


@dataclass
class Submission:
    """One candidate solution for one problem (function-call tests)."""

    problem: Problem
    code: str
    limits: Limits | None = None


@dataclass
class StdioSubmission:
    """One program run against (stdin, expected stdout) cases, as in ExecEval."""

    code: str
    #: (stdin, expected stdout); instead of the text, a check called in the parent with the whole stdout
    cases: list[tuple[str, str | Callable[[str], bool]]]
    limits: Limits | None = None


@dataclass
class _Prepared:
    """A problem's tests encoded for workers, and its expected values: canonical, and as JSON text."""

    problem: Problem
    encoded_args: list[str]
    expected: list[Any]
    expected_json: list[bytes | None]
    preamble_split: tuple[str, CodeType | None] | None  # see protocol.split_preamble
    #: the problem's part of every job for it (tests, preamble, names), encoded once (`job_members`)
    job_members: bytes


@dataclass
class ExecutorStats:
    submissions: int = 0
    tests: int = 0
    worker_restarts: int = 0
    infra_failures: int = 0
    retries: int = 0
    outcomes: collections.Counter = field(default_factory=collections.Counter)


class WorkerDied(RuntimeError):
    pass


class _Slots:
    """Worker slot numbers: slot k's children run as uid `uid_base + k` (as root), so no two children
    alive at once share a uid. As root a slot is also claimed host-wide, with a lock on a file in
    `SLOT_DIR` held while the worker lives (released by the kernel if this process dies), because
    the kernel counts some limits per uid across every process: with slots unique per process only,
    the slot-0 children of a server and a scorer on one host shared a uid, and so their
    `RLIMIT_NPROC` (32 tasks): one candidate's threads made an honest neighbour's `threading` fail."""

    def __init__(self, directory: str | None = None) -> None:
        self._lock = threading.Lock()
        self._used: dict[int, int | None] = {}  # slot -> the descriptor holding its host-wide claim
        self._directory = directory
        self._warned = False

    def take(self) -> int:
        with self._lock:
            directory = self._claims_directory()
            for slot in range(MAX_SLOTS):
                if slot in self._used:
                    continue
                fd = _claim(directory, slot) if directory else None
                if directory and fd is None:
                    continue  # another process holds it
                self._used[slot] = fd
                return slot
        raise RuntimeError(f"no free sandbox worker slot among {MAX_SLOTS}")

    def give_back(self, slot: int) -> None:
        with self._lock:
            fd = self._used.pop(slot, None)
            if fd is not None:
                os.close(fd)

    def _claims_directory(self) -> str | None:
        """The directory of host-wide claims (root only: without root no uid is assigned)."""
        if os.geteuid() != 0:
            return None
        directory = self._directory or SLOT_DIR
        try:
            try:
                os.mkdir(directory, 0o700)
            except FileExistsError:
                pass
            info = os.lstat(directory)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
                raise OSError(f"{directory} is not a directory that only root can write")
            return directory
        except OSError as e:  # (a read-only /run in a container): slots unique in this process only
            if not self._warned:
                self._warned = True
                log.warning("worker slots cannot be claimed host-wide (%s): children of another process "
                            "running a sandbox may share a uid, and so its task and signal limits", e)  # fmt: skip
            return None


def _claim(directory: str, slot: int) -> int | None:
    """An open descriptor holding slot's lock, or None if another process holds it."""
    fd = os.open(f"{directory}/slot-{slot}", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


_slots = _Slots()


class _WorkerHandle:
    """One worker process and the pipes to it."""

    def __init__(self, config: IsolationConfig) -> None:
        self.slot = _slots.take()
        self.process: subprocess.Popen | None = None
        self.to_worker = self.from_worker = -1
        try:
            self._start(replace(config, slot=self.slot))
        except BaseException:
            self.close()  # a worker that never said hello is not left running
            raise

    def _start(self, config: IsolationConfig) -> None:
        to_worker_r, self.to_worker = os.pipe()
        self.from_worker, from_worker_w = os.pipe()
        env = {
            "PATH": "/usr/bin:/bin",  # not the caller's: a child can read the worker's initial environment
            # only where this package lives: the caller's script directory must not leak into the sandbox
            "PYTHONPATH": _package_root(),
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "LANG": "C.UTF-8",
        }
        cmd = [sys.executable, "-m", "grpo4codegen.sandbox.worker", str(to_worker_r), str(from_worker_w)]
        cmd.append(json.dumps(asdict(config)))
        self.process = subprocess.Popen(
            cmd, pass_fds=(to_worker_r, from_worker_w), env=env, cwd="/", stdin=subprocess.DEVNULL
        )
        os.close(to_worker_r)
        os.close(from_worker_w)
        hello, _ = self._read(WORKER_START_TIMEOUT_S)
        self.layers: dict[str, str] = hello.get("layers", {})
        self.instructions: str = hello.get("instructions", "")

    def request(self, job: dict[str, Any], timeout: float, body: bytes = b"") -> tuple[dict[str, Any], bytes]:
        """The worker's reply: a JSON header and a tail holding the tests' value payloads. `job`: the
        fields the worker reads; `body`: the whole job (`protocol.job_body`), which only its children
        read."""
        try:
            write_frame(self.to_worker, job, body)
        except OSError as e:
            raise WorkerDied(f"cannot send to worker: {e}") from None
        return self._read(timeout)

    def _read(self, timeout: float) -> tuple[dict[str, Any], bytes]:
        if not select.select([self.from_worker], [], [], timeout)[0]:
            raise WorkerDied(f"worker gave no answer within {timeout:.0f} s")
        try:
            frame = read_frame(self.from_worker)
        except (EOFError, ValueError, OSError) as e:
            raise WorkerDied(f"broken worker reply: {e}") from None
        if frame is None:
            code = self.process.poll()
            raise WorkerDied(f"worker exited (status {code})")
        if not isinstance(frame[0], dict):
            raise WorkerDied("broken worker reply: not an object")
        return frame

    def close(self) -> None:
        for fd in (self.to_worker, self.from_worker):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
        _slots.give_back(self.slot)


def _package_root() -> str:
    import grpo4codegen

    return os.path.dirname(os.path.dirname(os.path.abspath(grpo4codegen.__file__)))


class Executor:
    """A pool of warm sandbox workers. Thread-safe; use as a context manager or call close()."""

    def __init__(
        self,
        workers: int | None = None,
        isolation: IsolationConfig | None = None,
        limits: Limits | None = None,
        retries: int = 1,
        require_isolation: bool = False,
    ) -> None:
        """`require_isolation`: refuse to run (IsolationError) unless every isolation layer is active
        (`sandbox doctor` lists them); otherwise a missing layer is one loud warning at start."""
        self.size = workers or embedded_pool_size()
        self.require_isolation = require_isolation
        self._isolation_checked = False
        self.isolation = isolation or IsolationConfig()
        self.limits = limits or Limits()
        self.retries = retries
        self.stats = ExecutorStats()
        self._idle: queue.Queue[_WorkerHandle | None] = queue.Queue()
        self._started = 0
        self._lock = threading.Lock()
        self._prepared: collections.OrderedDict[int, _Prepared] = collections.OrderedDict()
        self._preambles: dict[str, tuple[CodeType | None, tuple[str, CodeType | None] | None]] = {}
        self._job_ids = iter(range(1, sys.maxsize))
        self._closed = False
        self._threads = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="g4c-exec")

    # -- public API -------------------------------------------------------------------------------
    def run(self, problem: Problem, code: str, limits: Limits | None = None) -> ExecutionResult:
        return self.run_many([Submission(problem, code, limits)])[0]

    def run_many(
        self,
        submissions: Sequence[Submission | StdioSubmission],
        on_result: Callable[[int, ExecutionResult], None] | None = None,
    ) -> list[ExecutionResult]:
        """Run submissions concurrently (one per worker at a time); results in input order."""
        self.check_isolation()
        futures = [self._threads.submit(self._run_one, s) for s in submissions]
        results = []
        for index, future in enumerate(futures):
            result = future.result()
            if on_result:
                on_result(index, result)
            results.append(result)
        return results

    def prepare(self, problems: Sequence[Problem]) -> None:
        """Encode these problems' test inputs and expected values now, rather than at each problem's
        first submission (they are kept for the pool's 4,096 most recent problems)."""
        for problem in problems:
            self._prepare(problem)

    def run_stdio(
        self, code: str, cases: list[tuple[str, str]], limits: Limits | None = None
    ) -> ExecutionResult:
        return self.run_many([StdioSubmission(code, cases, limits)])[0]

    def layers(self) -> dict[str, str]:
        """Isolation layers active in a worker and its children (runs a trivial probe submission)."""
        self.check_isolation()
        handle = self._acquire()
        try:
            job, body = self._job(StdioSubmission("pass", [("", "")]), self.limits)
            reply, _ = handle.request(job, WATCHDOG_MARGIN_S, body)
            return {**reply.get("layers", {}), "instructions_counter": handle.instructions}
        finally:
            self._idle.put(handle)

    def check_isolation(self) -> dict[str, str]:
        """Start the first worker (once): warn in one line about every isolation layer that is not
        active, or raise IsolationError if they are all required. Returns the missing layers."""
        if self._isolation_checked:
            return {}
        try:
            handle = self._acquire()
        except Exception:  # no worker starts at all: each submission reports it (infra_error)
            return {}
        try:
            missing = missing_layers(handle.layers)
            if missing and self.require_isolation:
                raise IsolationError(
                    "sandbox isolation required, but these layers are not active here: "
                    + "; ".join(f"{k} ({v})" for k, v in missing.items())
                    + " (see `grpo4codegen sandbox doctor` and docs/sandbox.md)"
                )
        except BaseException:
            self._replace(handle, failed=False)
            raise
        self._idle.put(handle)
        with self._lock:
            first, self._isolation_checked = not self._isolation_checked, True
        if missing and first:
            log.warning(
                "SANDBOX ISOLATION INCOMPLETE: candidate code runs WITHOUT %s (%s); "
                "see `grpo4codegen sandbox doctor`, or pass --require_isolation to refuse to run",
                ", ".join(missing),
                "; ".join(f"{k}: {v}" for k, v in missing.items()),
            )
        return missing

    def close(self) -> None:
        self._closed = True
        self._threads.shutdown(wait=True)
        while True:
            try:
                handle = self._idle.get_nowait()
            except queue.Empty:
                break
            if handle is not None:
                handle.close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------
    def _run_one(self, submission: Submission | StdioSubmission) -> ExecutionResult:
        limits = submission.limits or self.limits
        started = time.perf_counter()
        if isinstance(submission, Submission):
            prepared = self._prepare(submission.problem)
            expected, expected_json = prepared.expected, prepared.expected_json
        else:
            expected = [out for _, out in submission.cases]
            expected_json = [_json_bytes(out) if isinstance(out, str) else None for out in expected]
        if not expected:
            return ExecutionResult(tests=[], wall_time=0.0)
        if isinstance(submission.code, str) and len(submission.code) > MAX_CODE_CHARS:
            why = f"source of {len(submission.code)} characters exceeds the limit of {MAX_CODE_CHARS}"
            return ExecutionResult(
                tests=[TestResult(ExecOutcome.COMPILATION_ERROR, error=why) for _ in expected],
                wall_time=time.perf_counter() - started,
            )
        job, body = self._job(submission, limits)
        traced = isinstance(submission, Submission) and bool({"memory", "steps"} & set(limits.metrics))
        timeout = job_seconds_bound(limits.time_s, limits.total_time_s, traced) + WATCHDOG_MARGIN_S
        error = ""
        for attempt in range(self.retries + 1):
            handle = None
            try:
                handle = self._acquire()
                reply, tail = handle.request(job, timeout, body)
                self._idle.put(handle)
                break
            except WorkerDied as e:
                error = str(e)
                log.warning("sandbox worker failed (attempt %d): %s", attempt + 1, e)
                self._replace(handle)
                self.stats.retries += attempt < self.retries
            except Exception as e:  # could not start a worker at all
                error = f"{type(e).__name__}: {e}"
                self._replace(handle)
        else:
            self.stats.infra_failures += 1
            return ExecutionResult(
                infra_error=f"executor failure: {error}", wall_time=time.perf_counter() - started
            )
        if reply.get("infra_error"):
            self.stats.infra_failures += 1
            return ExecutionResult(infra_error=reply["infra_error"], wall_time=time.perf_counter() - started)
        try:
            tests = _verdicts(reply, tail, expected, expected_json, isinstance(submission, StdioSubmission))
            kernel = _kernel_figures(reply.get("kernel"))
        except (KeyError, TypeError, ValueError) as e:  # the worker's reply itself is malformed
            self.stats.infra_failures += 1
            return ExecutionResult(
                infra_error=f"executor failure: malformed worker reply ({e})",
                wall_time=time.perf_counter() - started,
            )
        except Exception as e:  # a fault of ours while judging (a caller's check): never the candidate's
            log.exception("sandbox verdicts failed")
            self.stats.infra_failures += 1
            return ExecutionResult(
                infra_error=f"executor failure: verdicts failed ({type(e).__name__}: {e})",
                wall_time=time.perf_counter() - started,
            )
        check_claims(tests, kernel, limits)
        result = ExecutionResult(
            tests=tests,
            wall_time=time.perf_counter() - started,
            cpu_time_kernel=kernel["cpu"],
            peak_memory_kernel=kernel["memory"],
            instructions_kernel=kernel["instructions"],
            traced_discarded=kernel["discarded"],
        )
        with self._lock:
            self.stats.submissions += 1
            self.stats.tests += len(tests)
            counts = collections.Counter(map(_OUTCOME, tests))  # (an enum's .value is slow)
            self.stats.outcomes.update({outcome.value: n for outcome, n in counts.items()})
        return result

    def _job(self, submission: Submission | StdioSubmission, limits: Limits) -> tuple[dict[str, Any], bytes]:
        """(what the worker reads, the whole job for its children: `protocol.job_body`). The worker
        reads the limits and the number of tests, never the tests or the code; a problem's part of the
        job is encoded once (`_prepare`), so a submission costs only the encoding of its own fields."""
        if not isinstance(submission.code, str):
            raise TypeError(f"a submission's code must be a str, not {type(submission.code).__name__}")
        job: dict[str, Any] = {
            "id": next(self._job_ids),
            "time_s": limits.time_s,
            "memory_mb": limits.memory_mb,
            "total_time_s": limits.total_time_s,
            "output_bytes": limits.output_bytes,
            "stop_on_first_fail": limits.stop_on_first_fail,
            "metrics": list(limits.metrics),
            "traced_tests": None if limits.traced_tests is None else list(limits.traced_tests),
        }
        if isinstance(submission, Submission):
            prepared = self._prepare(submission.problem)
            job.update(mode="call", n=len(prepared.encoded_args))
            if prepared.preamble_split is not None:
                job["preamble_imports"] = prepared.preamble_split[0]
            members = prepared.job_members
        else:
            job.update(mode="stdio", n=len(submission.cases))
            members = job_members({"tests": [stdin for stdin, _ in submission.cases]})
        return job, job_body({**job, "code": submission.code}, members)

    def _prepare(self, problem: Problem) -> _Prepared:
        key = id(problem)
        with self._lock:
            prepared = self._prepared.get(key)
            if prepared is not None and prepared.problem is problem:
                self._prepared.move_to_end(key)
                return prepared
        encoded = [encode_args(t) for t in problem.tests]
        expected = [expected_canonical(t.expected, t.compare) for t in problem.tests]
        whole, split = self._compiled(problem.preamble)
        members: dict[str, Any] = {"preamble": problem.preamble, "preamble_code": whole}
        if split is not None:
            members.update(preamble_rest_code=split[1])
        members.update(class_name=problem.class_name, method=problem.method_name, tests=encoded)
        prepared = _Prepared(
            problem,
            encoded,
            expected,
            [_json_bytes(e) for e in expected],
            split,
            job_members(members),
        )
        with self._lock:
            self._prepared[key] = prepared
            while len(self._prepared) > 4096:
                self._prepared.popitem(last=False)
        return prepared

    def _compiled(self, preamble: str) -> tuple[CodeType | None, tuple[str, CodeType | None] | None]:
        """A preamble compiled once per text (a dataset's problems mostly share one): whole, and split
        into its leading imports and the rest."""
        with self._lock:
            if preamble in self._preambles:
                return self._preambles[preamble]
        whole = compiled_preamble(preamble)
        compiled = whole, split_preamble(preamble) if whole is not None else None
        with self._lock:
            self._preambles[preamble] = compiled
            if len(self._preambles) > 256:
                self._preambles.pop(next(iter(self._preambles)))
        return compiled

    def _acquire(self) -> _WorkerHandle:
        if self._closed:
            raise RuntimeError("executor is closed")
        with self._lock:
            start_one = self._started < self.size and self._idle.empty()
            if start_one:
                self._started += 1
        if start_one:
            try:
                return _WorkerHandle(self.isolation)
            except Exception:
                with self._lock:
                    self._started -= 1
                raise
        handle = self._idle.get()
        if handle is None:
            raise RuntimeError("executor is closed")
        return handle

    def _replace(self, handle: _WorkerHandle | None, failed: bool = True) -> None:
        """Drop a failed worker; a fresh one is started on the next acquire."""
        if handle is not None:
            handle.close()
            self.stats.worker_restarts += failed
        with self._lock:
            if handle is not None:
                self._started -= 1


def _json_bytes(expected: Any) -> bytes | None:
    """The JSON text a child sends for exactly this value; None where equal text does not imply a
    match (NaN never equals itself)."""
    text = json.dumps(expected).encode()
    return None if b"NaN" in text else text


def _verdicts(
    reply: dict[str, Any], tail: bytes, expected: list[Any], expected_json: list[bytes | None], stdio: bool
) -> list[TestResult]:
    """Verdicts for a worker's reply: per test its value payload's size in `tail` (or a dict: a failure,
    or a traced value's figures with its size as "b"), in order."""
    entries = reply["tests"]
    if len(entries) != len(expected):
        raise ValueError(f"{len(entries)} results for {len(expected)} tests")
    tests, offset, available = [], 0, len(tail)
    for entry, exp, exp_json in zip(entries, expected, expected_json, strict=True):
        if type(entry) is int:  # a value (the common case)
            if not 0 <= entry <= available - offset:
                tests.append(TestResult(ExecOutcome.RUNTIME_ERROR, error="no result"))
                continue
            end = offset + entry
            tests.append(_value_verdict(tail, offset, end, exp, exp_json, stdio))
            offset = end
            continue
        entry = entry or {}
        size = entry.get("b")
        payload = None
        if isinstance(size, int) and 0 <= size <= len(tail) - offset:
            payload = tail[offset : offset + size]
            offset += size
        tests.append(_verdict(entry, payload, exp, exp_json, stdio))
    return tests


def _verdict(
    entry: dict[str, Any], payload: bytes | None, expected: Any, expected_json: bytes | None, stdio: bool
) -> TestResult:
    if "o" in entry:
        return TestResult(ExecOutcome(entry["o"]), error=entry.get("e", ""), skipped=bool(entry.get("skip")))
    if payload is None:
        result = TestResult(ExecOutcome.RUNTIME_ERROR, error="no result")
    else:
        result = _value_verdict(payload, 0, len(payload), expected, expected_json, stdio)
    if len(entry) > 1:  # a timed test's entry holds its payload's size only; a traced one's adds these
        result.tracemalloc_current, result.tracemalloc_peak = entry.get("mc"), entry.get("mp")
        result.steps = entry.get("st")
    return result


_OUTCOME = operator.attrgetter("exec_outcome")


def _value_verdict(
    data: bytes, start: int, end: int, expected: Any, expected_json: bytes | None, stdio: bool
) -> TestResult:
    """The verdict on a value record (its payload: `data[start:end]`): its JSON text against the
    expected value's."""
    try:
        seconds, cpu_seconds, instructions, text = parse_value_payload(data, start, end)
    except ValueError:
        return TestResult(ExecOutcome.RUNTIME_ERROR, error="malformed result record")
    if expected_json is not None and text == expected_json:  # same JSON text: the same value
        # (positional: TestResult's fields in order, the quickest way to build the most common one)
        return TestResult(
            ExecOutcome.PASSED, seconds, cpu_seconds, None, None, instructions, None, _shown(text)
        )
    shown = _shown(text)
    if (
        not stdio
        and expected_json is not None
        and (len(text) > VALUE_TEXT_FACTOR * len(expected_json) + VALUE_TEXT_SLACK)
        and not _EXPONENT.search(expected_json)  # `1e200` is matched by a 201-digit integer
    ):  # never decoded: no correct value is written this much longer than the expected one
        return TestResult(
            ExecOutcome.WRONG_ANSWER,
            seconds,
            cpu_seconds,
            cpu_instruction_count=instructions,
            result=shown,
            error=f"expected {_expected_text(expected, expected_json)} (the result is {len(text)} bytes of JSON)",
        )
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return TestResult(ExecOutcome.RUNTIME_ERROR, error="malformed result record")
    try:
        if stdio and callable(expected):  # a caller's check of the stdout (e.g. a typed ExecEval output)
            ok = isinstance(value, str) and bool(expected(value))
        else:
            ok = stdio_matches(value, expected) if stdio else matches(value, expected)
    except (RecursionError, ArithmeticError, ValueError, TypeError):  # the candidate's value, not ours
        ok = False
    if ok:
        return TestResult(
            ExecOutcome.PASSED, seconds, cpu_seconds, cpu_instruction_count=instructions, result=shown
        )
    return TestResult(
        ExecOutcome.WRONG_ANSWER,
        seconds,
        cpu_seconds,
        cpu_instruction_count=instructions,
        result=shown,
        error=f"expected {_expected_text(expected, expected_json)}",
    )


def _expected_text(expected: Any, expected_json: bytes | None) -> str:
    """The expected value as a wrong answer's error shows it: its JSON text cut to 120 characters,
    from the text encoded once per problem where there is one (encoding the whole value again for
    every wrong answer cost the caller 15 ms a test for a 200,000-element answer, and a candidate
    that answers 0 at once fails every test)."""
    return _shown(expected_json, 120) if expected_json is not None else short_repr(expected, 120)


def _kernel_figures(raw: Any) -> dict[str, Any]:
    """The worker's kernel figures (it is our process, but its reply is checked like any input)."""
    raw = raw if isinstance(raw, dict) else {}

    def number(key: str, kind: type) -> Any:
        v = raw.get(key)
        if type(v) not in (int, float) or not math.isfinite(v) or v < 0:
            return None
        return kind(v)

    return {
        "cpu": number("cpu", float),
        "memory": number("memory", int),
        "instructions": number("instructions", int),
        "wall": number("wall", float),
        "discarded": number("discarded", int) or 0,
    }


#: how far the candidate's claims may exceed what the worker observed (clock granularity, rounding)
CLAIM_SLACK_S = 0.002
CLAIM_SLACK_FRACTION = 0.05


def check_claims(tests: list[TestResult], kernel: dict[str, Any], limits: Limits) -> None:
    """Every figure measured inside the candidate's process is a claim: each must be a finite,
    non-negative number within what the worker observed (a test's time within the timed run's wall
    time, the tests' CPU time within the kernel's CPU time, memory within the limit); a claim that
    fails is discarded (None), and a sum that contradicts the kernel's figure discards them all.
    (A figure that is None already stays None: the checks below skip it, which runs once per test of
    every submission.)"""
    wall, cpu = kernel["wall"], kernel["cpu"]
    time_cap = _allowance(wall) if wall is not None else limits.total_time_s * 2
    cpu_cap = _allowance(cpu) if cpu is not None else time_cap
    memory_cap = limits.memory_mb << 21  # twice the limit: tracemalloc never sees more than the limit
    time_sum = cpu_sum = 0.0
    for t in tests:
        seconds = t.time_consumed
        if seconds is not None:
            seconds = t.time_consumed = _bounded(seconds, time_cap)
        if t.cpu_time is not None:
            t.cpu_time = _bounded(t.cpu_time, min(cpu_cap, (seconds or 0.0) + CLAIM_SLACK_S))
        t.cpu_instruction_count = None  # never counted inside the child (see instructions_kernel)
        if t.tracemalloc_peak is not None or t.tracemalloc_current is not None:
            t.tracemalloc_peak = _bounded(t.tracemalloc_peak, memory_cap)
            t.tracemalloc_current = (
                None if t.tracemalloc_peak is None else _bounded(t.tracemalloc_current, t.tracemalloc_peak)
            )
        if t.steps is not None:
            t.steps = _bounded(t.steps, 1 << 62)
        time_sum += seconds or 0.0
        cpu_sum += t.cpu_time or 0.0
    if time_sum > time_cap:
        for t in tests:
            t.time_consumed = None
    if cpu_sum > cpu_cap:
        for t in tests:
            t.cpu_time = None


def _allowance(observed: float) -> float:
    return observed * (1 + CLAIM_SLACK_FRACTION) + CLAIM_SLACK_S


def _bounded(value: Any, cap: float) -> Any:
    """`value` if it is a plain finite number in [0, cap], else None."""
    if type(value) not in (int, float) or not 0 <= value <= cap:  # NaN fails both comparisons
        return None
    return value


def _shown(text: bytes, limit: int = 200) -> str:
    """The display form of a value: its JSON text, cut to `limit` characters."""
    shown = text[: limit + 1].decode("utf-8", "replace")
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def stdio_matches(actual: Any, expected: str) -> bool:
    """Output equality up to trailing whitespace; where the expected token is an integer the output's
    must be the same integer, other numbers match within 1e-5."""
    if not isinstance(actual, str):
        return False
    a = [line.rstrip() for line in actual.rstrip().splitlines()]
    e = [line.rstrip() for line in expected.rstrip().splitlines()]
    if a == e:
        return True
    ta, te = " ".join(a).split(), " ".join(e).split()
    if len(ta) != len(te):
        return False
    for x, y in zip(ta, te, strict=True):
        if x == y:
            continue
        if _INTEGER.fullmatch(y):  # an integer answer is given exactly, as an integer token
            if not _INTEGER.fullmatch(x) or _integer_key(x) != _integer_key(y):
                return False
            continue
        try:
            if not matches(float(x), float(y)):
                return False
        except ValueError:
            return False
    return True


_INTEGER = re.compile(r"[+-]?[0-9]+")


def _integer_key(token: str) -> tuple[bool, str]:
    """An integer token's value, as text (no digit limit): sign and digits without leading zeros."""
    digits = token.lstrip("+-").lstrip("0") or "0"
    return token.startswith("-") and digits != "0", digits


_default: Executor | None = None
_default_lock = threading.Lock()


def default_executor(require_isolation: bool = False) -> Executor:
    """A process-wide embedded executor, started on first use and closed at exit."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Executor(require_isolation=require_isolation)
            atexit.register(_default.close)
        elif require_isolation and not _default.require_isolation:
            _default.require_isolation = True
            _default._isolation_checked = False  # checked again, now strictly, before the next run
        return _default
