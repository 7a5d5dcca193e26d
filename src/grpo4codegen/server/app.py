"""The execution server: the sandbox executor behind HTTP, so training jobs on many GPUs share it.

Endpoints (JSON; a token, when set, is required as `Authorization: Bearer <token>` on all but /health):

- `POST /api/execute_code`: ExecEval's request and response, for clients written for the seed.
  Honoured: `language` (Python only: any name containing "python" or "pypy"; others get 400),
  `source_code`, `unittests[].input` / `.output` (a list of accepted outputs; the first decides the
  verdict, later ones are tried when it fails and the captured stdout is short enough to have come back
  whole), `stop_on_first_fail`, and `limits.cpu` (seconds per test) / `limits._as` (bytes, becomes the
  memory limit), plus the native `time_s`, `memory_mb`, `total_time_s`, `metrics`. Ignored:
  the other rlimits (`nofile`, `nproc`, `fsize`, ...: the sandbox always denies processes, network and
  writes), `block_network` (always blocked), compiler and interpreter options, `use_sanitizer`.
  The seed's extended form (`input` a JSON object sent to stdin as one line of JSON, `output` typed
  `{"type": "general" | "list_node" | "tree_node", "value"}`) is compared by type here, on the whole
  stdout (see `execeval`); its entries leave out metrics that were not measured.
  Stdin-style tests: the program is compiled once, then run as `__main__` once per unit test in the
  sandbox with that test's `input` as stdin; its stdout is compared with the expected output up to
  trailing whitespace, numbers within 1e-5. Only `time_consumed` is measured for such tests (the memory
  and instruction fields are null). An executor failure is a 503, never a verdict.
- `POST /api/execute_batch`: `{"jobs": [{"task_id" | "problem" | "cases", "code", "limits"?}], "limits"?}`,
  results in order, each `ExecutionResult.to_dict()`. `task_id` refers to the problems preloaded with
  `--dataset` (unknown ids: 404 listing them); `problem` is sent inline (`models.problem_payload`).
- `GET /health` (no token): 200 `{"status": "ok"}` while serving, 503 while draining.
- `GET /ready`: 200 once the sandbox pool is warm and the queue has room, else 503; with counts.
- `GET /metrics`: Prometheus text: requests by route and status, latency histograms, jobs by result,
  test outcomes, queue depth and capacity, rejections, pool worker restarts, retries and failures.
- `GET /docs`, `/openapi.json`: the OpenAPI description (behind the token like everything else).

Backpressure: at most `max_queue` jobs are admitted (running or waiting for a sandbox worker); beyond
that a request gets 429 with Retry-After. Bodies above `max_body_bytes` get 413, more than `max_jobs`
jobs in one request 413, malformed JSON or fields 422 with the offending field named.
Graceful shutdown (SIGTERM/SIGINT): new requests get 503; admitted jobs run to completion for up to
`shutdown_grace_s`; requests still running then get 503 "interrupted", so a client retries them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import glob
import hmac
import json
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse as _StrictJSONResponse
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..data.problems import Problem
from ..sandbox.executor import Executor, StdioSubmission, Submission, stdio_matches
from ..sandbox.types import ExecutionResult, Limits, TestResult
from .execeval import is_typed, typed_case
from .models import (
    BatchRequest,
    BatchResponse,
    ErrorResponse,
    ExecEvalRequest,
    ExecEvalResponse,
    ExecEvalUnittest,
    HealthResponse,
    LimitsModel,
    ReadyResponse,
    result_dict,
)

log = logging.getLogger(__name__)
disable_created_metrics()  # no `_created` twin for every series
SETTINGS_ENV = "GRPO4CODEGEN_SERVER_SETTINGS"
TOKEN_ENV = "GRPO4CODEGEN_SERVER_TOKEN"
_ROUTES = (
    "/health",
    "/ready",
    "/metrics",
    "/api/execute_code",
    "/api/execute_batch",
    "/docs",
    "/openapi.json",
)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


@dataclass
class ServerSettings:
    """Everything one server process needs; travels to uvicorn worker processes as JSON in the env."""

    sandbox_workers: int | None = None  # per server process; None: one per core
    dataset: str | None = None  # problems preloaded so that jobs can name a task_id
    split: str = "test"
    max_queue: int = 1024  # jobs admitted (running or waiting) before 429
    max_jobs: int = 256  # jobs in one batch request
    max_body_bytes: int = 16 << 20
    shutdown_grace_s: float = 30.0
    limits: dict[str, Any] = field(default_factory=dict)  # LimitsModel fields: the server's defaults
    token: str | None = field(default=None, repr=False)
    require_isolation: bool = False  # refuse to run code unless every sandbox isolation layer is active

    def to_env(self) -> dict[str, str]:
        env = {SETTINGS_ENV: json.dumps({k: v for k, v in asdict(self).items() if k != "token"})}
        if self.token:
            env[TOKEN_ENV] = self.token
        return env

    @classmethod
    def from_env(cls) -> ServerSettings:
        raw = json.loads(os.environ.get(SETTINGS_ENV) or "{}")
        return cls(**raw, token=os.environ.get(TOKEN_ENV) or None)


class JSONResponse(_StrictJSONResponse):
    """JSON that renders whatever the data holds. Starlette's renderer fails (a 500 for the whole
    request) on a lone surrogate, which a candidate produces with `raise ValueError(chr(0xD800))`, and on
    NaN, which a client may send in an expected value that is echoed back; here both are escaped
    (`\\ud800`, `NaN`, as Python's json writes and reads them)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=True, separators=(",", ":")).encode("ascii")


class ApiError(Exception):
    """A request the server answers with an error status and `{"error": ...}`."""

    def __init__(self, status: int, message: str, retry_after: float | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra
        self.headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after is not None else None


class Service:
    """The executor, the admission counter that bounds its queue, drain state and metrics."""

    def __init__(self, settings: ServerSettings, problems: Sequence[Problem] | None = None) -> None:
        self.settings = settings
        self.limits = LimitsModel.model_validate(settings.limits).apply(Limits())
        self.problems = {p.task_id: p for p in problems or ()}
        self.executor = Executor(
            workers=settings.sandbox_workers, limits=self.limits, require_isolation=settings.require_isolation
        )
        self.pending = 0  # only touched on the event loop
        self.draining = False
        self.warm = False
        self.metrics = _Metrics(self)
        # run_many blocks, so each admitted request waits in a thread; admission bounds their number
        self._threads = ThreadPoolExecutor(min(256, max(8, settings.max_queue)), thread_name_prefix="g4c-req")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._interrupted: asyncio.Event | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._interrupted = asyncio.Event()
        threading.Thread(target=self._warm_up, name="g4c-warm", daemon=True).start()
        _chain_exit_signals(self.begin_drain)

    def _warm_up(self) -> None:
        """Start every sandbox worker now rather than on the first requests."""
        probe = [StdioSubmission("pass", [("", "")])] * self.executor.size
        results = self.executor.run_many(probe)
        self.warm = all(r.ok for r in results)
        if not self.warm:
            log.error("sandbox pool failed to start: %s", next(r.infra_error for r in results if not r.ok))

    def begin_drain(self) -> None:
        """From the signal handler: refuse new work; interrupt what still runs after the grace period."""
        if self.draining or self._loop is None:
            return
        self.draining = True
        self._loop.call_soon_threadsafe(self._arm_interrupt)

    def _arm_interrupt(self) -> None:
        assert self._loop is not None and self._interrupted is not None
        self._loop.call_later(self.settings.shutdown_grace_s, self._interrupted.set)

    def close(self) -> None:
        if self._interrupted is not None and self._interrupted.is_set():
            _kill_sandbox_workers()  # their jobs were already reported as interrupted
        self._threads.shutdown(wait=False, cancel_futures=True)
        self.executor.close()

    # -- running jobs -----------------------------------------------------------------------------
    async def run(self, submissions: list[Submission | StdioSubmission]) -> list[ExecutionResult]:
        n = len(submissions)
        self._admit(n)
        self.pending += n
        self.metrics.queue.set(self.pending)
        try:
            assert self._interrupted is not None
            work = asyncio.wrap_future(self._threads.submit(self.executor.run_many, submissions))
            stop = asyncio.ensure_future(self._interrupted.wait())
            try:
                done, _ = await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
            if work not in done:
                self.metrics.jobs.labels("interrupted").inc(n)
                raise ApiError(
                    503, "interrupted: the server shut down before these jobs finished; retry them", 1
                )
            try:
                results = work.result()
            except Exception as e:  # the executor itself broke (e.g. closed under us)
                self.metrics.jobs.labels("infra_error").inc(n)
                raise ApiError(503, f"executor failure: {type(e).__name__}: {e}", 1) from None
        finally:
            self.pending -= n
            self.metrics.queue.set(self.pending)
        self.metrics.observe(results)
        return results

    def _admit(self, n: int) -> None:
        if self.draining:
            self.metrics.rejected.labels("draining").inc()
            raise ApiError(503, "server is shutting down; retry on another server or later", 2)
        if n > self.settings.max_queue:
            raise ApiError(
                413, f"{n} jobs in one request; this server admits at most {self.settings.max_queue}"
            )
        if self.pending + n > self.settings.max_queue:
            self.metrics.rejected.labels("queue_full").inc()
            raise ApiError(
                429,
                f"queue full: {self.pending} of {self.settings.max_queue} jobs pending; retry later",
                1 + self.pending / max(1, 50 * self.executor.size),
            )


class _Metrics:
    """Prometheus metrics in a registry of this app's own (several apps may live in one process)."""

    def __init__(self, service: Service) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter("g4c_http_requests", "HTTP requests", ["route", "status"], registry=r)
        self.latency = Histogram(
            "g4c_http_request_seconds", "request latency", ["route"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.jobs = Counter(
            "g4c_jobs", "jobs by result (ok, infra_error, interrupted)", ["result"], registry=r
        )
        self.outcomes = Counter("g4c_test_outcomes", "tests by outcome", ["outcome"], registry=r)
        self.job_seconds = Histogram(
            "g4c_job_seconds", "wall time per job", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.rejected = Counter("g4c_rejected", "requests refused by admission", ["reason"], registry=r)
        self.queue = Gauge("g4c_queue_depth", "jobs admitted and not finished", registry=r)
        capacity = Gauge("g4c_queue_capacity", "jobs admitted at most", registry=r)
        capacity.set(service.settings.max_queue)
        r.register(_PoolCollector(service.executor))

    def observe(self, results: list[ExecutionResult]) -> None:
        outcomes: collections.Counter[str] = collections.Counter()
        for r in results:
            self.jobs.labels("ok" if r.ok else "infra_error").inc()
            self.job_seconds.observe(r.wall_time)
            outcomes.update(t.exec_outcome.value for t in r.tests)
        for outcome, count in outcomes.items():
            self.outcomes.labels(outcome).inc(count)


class _PoolCollector:
    """The executor's own counters, read at scrape time."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def collect(self) -> Any:
        s = self.executor.stats
        for name, value, text in (
            ("g4c_pool_worker_restarts", s.worker_restarts, "sandbox workers replaced after dying"),
            ("g4c_pool_retries", s.retries, "jobs retried on a fresh worker"),
            ("g4c_pool_infra_failures", s.infra_failures, "jobs the pool could not run"),
        ):
            yield CounterMetricFamily(name, text, value=value)
        yield GaugeMetricFamily("g4c_pool_workers", "sandbox workers per process", value=self.executor.size)


class _Gate:
    """ASGI middleware: bearer token, body-size limit, per-route request counts and latency."""

    def __init__(self, app: Any, service: Service) -> None:
        self.app, self.service = app, service
        token = service.settings.token
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope["path"] if scope["path"] in _ROUTES else "other"
        status = 500
        started = time.perf_counter()

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if self.expected and scope["path"] != "/health" and not self._authorised(scope):
                await _error(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})(
                    scope, receive, send_status
                )
            elif scope["method"] == "POST":
                body = await self._read_body(scope, receive)
                if body is None:
                    limit = self.service.settings.max_body_bytes
                    await _error(413, f"request body larger than {limit} bytes")(scope, receive, send_status)
                else:
                    await self.app(scope, _replay(body, receive), send_status)
            else:
                await self.app(scope, receive, send_status)
        finally:
            metrics = self.service.metrics
            metrics.requests.labels(route, str(status)).inc()
            metrics.latency.labels(route).observe(time.perf_counter() - started)

    def _authorised(self, scope: dict) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                return hmac.compare_digest(value, self.expected or b"")
        return False

    async def _read_body(self, scope: dict, receive: Callable[[], Awaitable[dict]]) -> bytes | None:
        """The whole body, or None when it is too large (read on a little so the client sees the 413)."""
        limit = self.service.settings.max_body_bytes
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            data = message.get("body", b"")
            size += len(data)
            if size <= limit:
                chunks.append(data)
            elif size > 4 * limit + (1 << 20):
                return None
            more = message.get("more_body", False)
        return b"".join(chunks) if size <= limit else None


def _replay(body: bytes, receive: Callable[[], Awaitable[dict]]) -> Callable[[], Awaitable[dict]]:
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _error(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def create_app(settings: ServerSettings, problems: Sequence[Problem] | None = None) -> FastAPI:
    """The ASGI app; `problems` overrides loading `settings.dataset`."""
    if problems is None and settings.dataset:
        from ..data.loader import load_problems

        problems = load_problems(settings.dataset, split=settings.split)
    service = Service(settings, problems)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.close()

    app = FastAPI(
        title="GRPO4CodeGen execution server",
        version=__version__,
        description=__doc__ or "",
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(_Gate, service=service)
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 422, 429, 503)
    }

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """FastAPI's own errors in this server's shape; a body it could not parse says why."""
        message = str(exc.detail)
        cause = exc.__cause__
        if exc.status_code == 400 and cause is not None:  # not JSONDecodeError: that one is a 422
            why = (
                "nesting too deep"
                if isinstance(cause, RecursionError)
                else f"{type(cause).__name__}: {cause}"
            )
            message = f"the body is not readable JSON ({why[:300]})"
        return _error(exc.status_code, message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{k: e.get(k) for k in ("type", "loc", "msg")} for e in exc.errors()]
        summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in details[:5])
        if "json" not in request.headers.get("content-type", ""):
            summary = "the body must be JSON, sent with Content-Type: application/json"
        return _error(422, f"invalid request: {summary}", detail=details)

    @app.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
    async def health() -> JSONResponse:
        status = "draining" if service.draining else "ok"
        return JSONResponse({"status": status}, status_code=503 if service.draining else 200)

    @app.get("/ready", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
    async def ready() -> JSONResponse:
        room = service.pending < service.settings.max_queue
        body = ReadyResponse(
            ready=service.warm and not service.draining and room,
            warm=service.warm,
            draining=service.draining,
            queue_depth=service.pending,
            queue_capacity=service.settings.max_queue,
            sandbox_workers=service.executor.size,
            problems=len(service.problems),
        )
        return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)

    @app.get("/metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/api/execute_code", response_model=ExecEvalResponse, responses=errors)
    async def execute_code(request: ExecEvalRequest) -> JSONResponse:
        """ExecEval-compatible: one Python program against stdin/stdout unit tests."""
        if not any(name in request.language.lower() for name in ("python", "pypy")):
            raise ApiError(400, f"language {request.language!r} is not supported: this server runs Python")
        try:
            native = (
                request.limits.to_model(request.stop_on_first_fail)
                if request.limits
                else LimitsModel(stop_on_first_fail=request.stop_on_first_fail)
            )
        except ValidationError as e:
            raise ApiError(422, f"invalid request: limits: {e.errors()[0]['msg']}") from None
        limits = native.apply(service.limits)
        typed = is_typed(request.unittests)
        if typed:  # reading the expected values can take a while: not on the event loop
            try:
                cases = await asyncio.to_thread(
                    lambda: [typed_case(i, u.input, u.output) for i, u in enumerate(request.unittests)]
                )
            except ValueError as e:
                raise ApiError(422, f"invalid request: {e}") from None
        else:
            cases = [(str(u.input), u.output[0] if u.output else "") for u in request.unittests]
        [result] = await service.run([StdioSubmission(request.source_code, cases, limits)])
        if result.infra_error:
            raise ApiError(503, f"executor failure: {result.infra_error}", 1)
        data = [
            _exec_eval_entry(u, stdin, t, typed)
            for u, (stdin, _), t in zip(request.unittests, cases, result.tests, strict=True)
        ]
        return JSONResponse({"data": data})

    @app.post("/api/execute_batch", response_model=BatchResponse, responses=errors)
    async def execute_batch(request: BatchRequest) -> JSONResponse:
        """Many jobs, results in order; a job the executor could not run has `infra_error` set."""
        if len(request.jobs) > settings.max_jobs:
            raise ApiError(413, f"{len(request.jobs)} jobs in one request; at most {settings.max_jobs}")
        base = request.limits.apply(service.limits) if request.limits else service.limits
        submissions: list[Submission | StdioSubmission] = []
        unknown: list[str] = []
        for i, job in enumerate(request.jobs):
            try:
                limits = job.limits.apply(base) if job.limits else base
                if job.cases is not None:
                    submissions.append(StdioSubmission(job.code, list(job.cases), limits))
                    continue
                problem = job.problem.to_problem() if job.problem else service.problems.get(job.task_id or "")
            except (TypeError, ValueError) as e:
                raise ApiError(422, f"invalid request: jobs.{i}: {e}") from None
            except RecursionError:
                raise ApiError(422, f"invalid request: jobs.{i}.problem: values nested too deeply") from None
            if problem is None:
                unknown.append(job.task_id or "")
            else:
                submissions.append(Submission(problem, job.code, limits))
        if unknown:
            raise ApiError(
                404,
                f"unknown task_id(s) {sorted(set(unknown))[:10]}: not preloaded here; send the problem",
                unknown_task_ids=sorted(set(unknown)),
            )
        inline = [
            (i, s) for i, (s, job) in enumerate(zip(submissions, request.jobs, strict=True)) if job.problem
        ]
        if inline:  # a problem the executor cannot encode is the client's error, not an executor failure
            await asyncio.to_thread(_prepare_inline, service.executor, inline)
        results = await service.run(submissions)
        return JSONResponse({"results": [result_dict(r) for r in results]})

    return app


def _prepare_inline(executor: Executor, inline: list[tuple[int, Any]]) -> None:
    """Encode inline problems' tests now (the executor keeps them for the run); 422 naming the job
    whose tests have no encoding (e.g. a `list_node` expected value that is not a list)."""
    for i, submission in inline:
        try:
            executor.prepare([submission.problem])
        except RecursionError:
            raise ApiError(422, f"invalid request: jobs.{i}.problem: values nested too deeply") from None
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
            raise ApiError(
                422, f"invalid request: jobs.{i}.problem: tests cannot be encoded ({type(e).__name__}: {e})"
            ) from None


def _exec_eval_entry(test: ExecEvalUnittest, stdin: str, t: TestResult, typed: bool) -> dict[str, Any]:
    """One ExecEval `data` entry; tries the other accepted outputs when the first did not match (typed
    tests tried them all in the executor, on the whole stdout). Typed (seed) entries leave out the
    metrics that were not measured."""
    stdout = _stdout_of(t.result)
    outcome = t.exec_outcome.value
    if not typed and outcome == "WRONG_ANSWER" and stdout is not None:
        if any(stdio_matches(stdout, alt) for alt in test.output[1:] if isinstance(alt, str)):
            outcome = "PASSED"
    d = {**t.__dict__, "input": stdin, "output": test.output, "exec_outcome": outcome}
    d["result"] = stdout if stdout is not None else t.result
    if typed:
        d = {k: v for k, v in d.items() if v is not None or k == "result"}
    return d


def _stdout_of(result: str) -> str | None:
    """The stdout the executor reported (JSON-encoded, possibly cut); None when cut or absent."""
    try:
        value = json.loads(result) if result else None
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _chain_exit_signals(callback: Callable[[], None]) -> None:
    """Run `callback` before uvicorn's own SIGTERM/SIGINT handling (which it installed before startup)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: Any, previous: Callable = previous) -> None:
            callback()
            previous(signum, frame)

        signal.signal(sig, handler)


def _kill_sandbox_workers() -> None:
    """SIGKILL this process's sandbox workers (only those: matched by their module on the command line)."""
    for path in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
        try:
            pids = [int(p) for p in open(path).read().split()]
        except OSError:
            continue
        for pid in pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if b"grpo4codegen.sandbox.worker" in f.read():
                        os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def app_from_env() -> FastAPI:
    """Uvicorn factory for `--workers N` processes: settings from the environment."""
    return create_app(ServerSettings.from_env())


def serve(
    settings: ServerSettings,
    host: str = "127.0.0.1",
    port: int = 8000,
    processes: int = 1,
    log_level: str = "info",
    access_log: bool = False,
    problems: Sequence[Problem] | None = None,
) -> None:
    """Run uvicorn until a signal; one process gets the app directly, several build it from the env."""
    import uvicorn

    common: dict[str, Any] = dict(
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=settings.shutdown_grace_s + 5,  # our own interrupt fires first
    )
    if processes <= 1:
        uvicorn.Server(uvicorn.Config(create_app(settings, problems), **common)).run()
        return
    os.environ.update(settings.to_env())
    uvicorn.run("grpo4codegen.server.app:app_from_env", factory=True, workers=processes, **common)
