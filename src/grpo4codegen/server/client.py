"""`RemoteExecutor`: the embedded executor's `run_many`, served by one or more execution servers.

The rewards and the scorer use it when `--execute_code_url` is given (one URL or several, comma
separated). A batch is cut into chunks that are sent concurrently, each to the healthy server with
the fewest chunks in flight; a server that refuses connections, drops one, or answers 503 is set aside
and probed on `/health` before it gets work again. Connection errors, 5xx and 429 are retried with
capped exponential backoff (honouring Retry-After) for at most `retry_budget_s` after the chunk's first
failure; after that, and at once for a request the server rejects as invalid (4xx), every job of the
chunk comes back as `ExecutionResult(infra_error=...)`: a None reward, never a failed test.

Problems are sent inline with every job by default (the slim `models.problem_payload`), so a server
needs no dataset and never runs a stale copy. With `send_problems=False` only the task_id is sent; a
server that has not preloaded it answers 404 and the chunk is resent with the problems.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from ..data.problems import Problem
from ..sandbox.executor import StdioSubmission, Submission
from ..sandbox.types import ExecOutcome, ExecutionResult, Limits, TestResult
from .models import problem_payload

log = logging.getLogger(__name__)
TOKEN_ENV = "GRPO4CODEGEN_SERVER_TOKEN"
RETRY_BUDGET_ENV = "GRPO4CODEGEN_REMOTE_RETRY_S"
_TEST_FIELDS = frozenset(f.name for f in dataclasses.fields(TestResult)) - {"exec_outcome"}
_OUTCOMES = {o.value: o for o in ExecOutcome}
_BACKOFF_BASE_S, _BACKOFF_CAP_S = 0.2, 5.0


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    infra_failures: int = 0  # jobs given up on
    marked_unhealthy: int = 0


class _Failure(Exception):
    """One failed request and what to do about it."""

    def __init__(
        self,
        message: str,
        retryable: bool,
        unhealthy: bool = False,
        retry_after: float | None = None,
        unknown_tasks: bool = False,
        too_large: bool = False,
    ) -> None:
        super().__init__(message)
        self.message, self.retryable, self.unhealthy = message, retryable, unhealthy
        self.retry_after, self.unknown_tasks, self.too_large = retry_after, unknown_tasks, too_large


class _Endpoint:
    """One server: `http(s)://host:port` or `unix:/path/to.sock` (a server on a Unix socket, e.g. the
    node pool that the training ranks of one machine share)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        for route in ("/api/execute_code", "/api/execute_batch"):  # the seed's URLs name the route
            if self.url.endswith(route):
                self.url = self.url[: -len(route)]
        self.socket = self.url[len("unix:") :] if self.url.startswith("unix:") else None
        self.base = "http://localhost" if self.socket else self.url  # requests go to base + path
        self.http: httpx.Client | None = None  # set by RemoteExecutor
        self.healthy = True
        self.probe_at = 0.0  # when an unhealthy endpoint may be probed again
        self.in_flight = 0


class RemoteExecutor:
    """Drop-in for `Executor.run_many` over HTTP. Thread-safe; close() when done (or use `with`)."""

    def __init__(
        self,
        urls: str | Sequence[str],
        token: str | None = None,
        retry_budget_s: float | None = None,
        chunk_size: int = 32,
        parallel: int | None = None,
        send_problems: bool = True,
        probe_interval_s: float = 1.0,
    ) -> None:
        parts = urls.split(",") if isinstance(urls, str) else list(urls)
        self.endpoints = [_Endpoint(u.strip()) for u in parts if u.strip()]
        bad = [e.url for e in self.endpoints if not e.url.startswith(("http://", "https://", "unix:/"))]
        if not self.endpoints or bad:
            raise ValueError(
                f"execution server URL(s) must start with http://, https:// or unix:/: {bad or urls!r}"
            )
        self.retry_budget_s = (
            retry_budget_s if retry_budget_s is not None else float(os.environ.get(RETRY_BUDGET_ENV, "120"))
        )
        self.chunk_size = max(1, chunk_size)
        self.parallel = parallel or 4 * len(self.endpoints)
        self.send_problems = send_problems
        self.probe_interval_s = probe_interval_s
        self.stats = ClientStats()
        token = token or os.environ.get(TOKEN_ENV)
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        common: dict[str, Any] = dict(
            headers=headers,
            timeout=httpx.Timeout(60.0, connect=5.0),
            limits=httpx.Limits(
                max_connections=2 * self.parallel, max_keepalive_connections=2 * self.parallel
            ),
        )
        self._http = httpx.Client(**common)
        for e in self.endpoints:
            e.http = (
                httpx.Client(transport=httpx.HTTPTransport(uds=e.socket), **common)
                if e.socket
                else self._http
            )
        self._threads = ThreadPoolExecutor(self.parallel, thread_name_prefix="g4c-remote")
        self._lock = threading.Lock()
        self._turn = 0
        self._payloads: collections.OrderedDict[int, tuple[Problem, dict[str, Any]]] = (
            collections.OrderedDict()
        )

    # -- the executor's API -----------------------------------------------------------------------
    def run_many(
        self,
        submissions: Sequence[Submission | StdioSubmission],
        on_result: Callable[[int, ExecutionResult], None] | None = None,
    ) -> list[ExecutionResult]:
        """Results in input order; a job that could not be run has `infra_error` set."""
        subs = list(submissions)
        size = min(self.chunk_size, max(1, -(-len(subs) // self.parallel)))
        futures = [
            self._threads.submit(self._run_chunk, subs[i : i + size]) for i in range(0, len(subs), size)
        ]
        results: list[ExecutionResult] = []
        for future in futures:
            for result in future.result():
                if on_result:
                    on_result(len(results), result)
                results.append(result)
        return results

    def run(self, problem: Problem, code: str, limits: Limits | None = None) -> ExecutionResult:
        return self.run_many([Submission(problem, code, limits)])[0]

    def run_stdio(
        self, code: str, cases: list[tuple[str, str]], limits: Limits | None = None
    ) -> ExecutionResult:
        return self.run_many([StdioSubmission(code, cases, limits)])[0]

    def health(self) -> dict[str, bool]:
        """Probe every server now."""
        return {e.url: self._probe(e) for e in self.endpoints}

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        for e in self.endpoints:
            if e.http is not self._http and e.http is not None:
                e.http.close()
        self._http.close()

    def __enter__(self) -> RemoteExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one chunk, with retries ------------------------------------------------------------------
    def _run_chunk(self, subs: list[Submission | StdioSubmission]) -> list[ExecutionResult]:
        with_problems = self.send_problems
        first_failure: float | None = None
        last_error = ""
        attempt = 0
        while True:
            endpoint = self._pick()
            if endpoint is None:
                failure = _Failure(f"no healthy execution server{last_error}", retryable=True)
            else:
                try:
                    return self._post(endpoint, subs, with_problems)
                except _Failure as f:
                    failure = f
                    last_error = f" (last error: {f.message})"
                if failure.unknown_tasks and not with_problems:
                    with_problems = True
                    continue
                if failure.too_large and len(subs) > 1:
                    half = len(subs) // 2
                    return self._run_chunk(subs[:half]) + self._run_chunk(subs[half:])
                if failure.unhealthy:
                    self._set_aside(endpoint)
            now = time.monotonic()
            first_failure = first_failure if first_failure is not None else now
            spent = now - first_failure
            if not failure.retryable or spent >= self.retry_budget_s:
                return self._give_up(subs, failure, attempt + 1, spent)
            delay = min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2**attempt) * random.uniform(0.5, 1.0)
            if failure.retry_after:
                delay = max(delay, min(failure.retry_after, _BACKOFF_CAP_S))
            log.info("execution request failed (%s); retry in %.2f s", failure.message, delay)
            with self._lock:
                self.stats.retries += 1
            time.sleep(min(delay, max(0.0, self.retry_budget_s - spent)))
            attempt += 1

    def _give_up(self, subs: list, failure: _Failure, attempts: int, spent: float) -> list[ExecutionResult]:
        message = f"remote execution failed ({attempts} attempt(s), {spent:.1f} s): {failure.message}"
        log.warning("%s; %d job(s) reported as infrastructure failures", message, len(subs))
        with self._lock:
            self.stats.infra_failures += len(subs)
        return [ExecutionResult(infra_error=message) for _ in subs]

    def _post(
        self, endpoint: _Endpoint, subs: list[Submission | StdioSubmission], with_problems: bool
    ) -> list[ExecutionResult]:
        try:
            content = json.dumps({"jobs": [self._job(s, with_problems) for s in subs]})
        except (TypeError, ValueError) as e:  # a value with no JSON form: no server could run it
            raise _Failure(f"cannot encode the jobs: {e}", retryable=False) from None
        timeout = min(3600.0, 30.0 + sum((s.limits or Limits()).total_time_s for s in subs))
        with self._lock:
            endpoint.in_flight += 1
            self.stats.requests += 1
        try:
            response = endpoint.http.post(  # type: ignore[union-attr]
                endpoint.base + "/api/execute_batch",
                content=content,
                timeout=httpx.Timeout(timeout, connect=5.0),
            )
        except httpx.TimeoutException as e:
            slow = not isinstance(e, httpx.ConnectTimeout)  # alive but slow: retry, keep using it
            raise _Failure(
                f"{endpoint.url}: {type(e).__name__}", retryable=True, unhealthy=not slow
            ) from None
        except httpx.RequestError as e:
            raise _Failure(
                f"{endpoint.url}: {type(e).__name__}: {e}", retryable=True, unhealthy=True
            ) from None
        finally:
            with self._lock:
                endpoint.in_flight -= 1
        return _parse(endpoint.url, response, len(subs))

    def _job(self, s: Submission | StdioSubmission, with_problem: bool) -> dict[str, Any]:
        job: dict[str, Any] = {"code": s.code}
        if isinstance(s, StdioSubmission):
            job["cases"] = [list(case) for case in s.cases]
        elif with_problem:
            job["problem"] = self._payload(s.problem)
        else:
            job["task_id"] = s.problem.task_id
        if s.limits is not None:
            limits = dataclasses.asdict(s.limits)
            job["limits"] = {
                k: list(v) if isinstance(v, tuple) else v for k, v in limits.items() if v is not None
            }
        return job

    def _payload(self, problem: Problem) -> dict[str, Any]:
        """The problem's wire form, cached: a GRPO batch repeats each problem once per generation."""
        key = id(problem)
        with self._lock:
            cached = self._payloads.get(key)
            if cached is not None and cached[0] is problem:
                return cached[1]
        payload = problem_payload(problem)
        with self._lock:
            self._payloads[key] = (problem, payload)
            while len(self._payloads) > 1024:
                self._payloads.popitem(last=False)
        return payload

    # -- choosing a server ------------------------------------------------------------------------
    def _pick(self) -> _Endpoint | None:
        """The healthy endpoint with the fewest chunks in flight; set-aside ones are probed when due."""
        now = time.monotonic()
        with self._lock:
            due = [e for e in self.endpoints if not e.healthy and e.probe_at <= now]
            for e in due:
                e.probe_at = now + self.probe_interval_s  # claimed: other threads skip it meanwhile
        for e in due:
            if self._probe(e):
                with self._lock:
                    e.healthy = True
        with self._lock:
            healthy = [e for e in self.endpoints if e.healthy]
            if not healthy:
                return None
            self._turn += 1
            start = self._turn % len(healthy)
            ordered = healthy[start:] + healthy[:start]
            return min(ordered, key=lambda e: e.in_flight)

    def _probe(self, endpoint: _Endpoint) -> bool:
        try:
            return endpoint.http.get(endpoint.base + "/health", timeout=2.0).status_code == 200  # type: ignore[union-attr]
        except httpx.HTTPError:
            return False

    def _set_aside(self, endpoint: _Endpoint) -> None:
        with self._lock:
            if endpoint.healthy:
                self.stats.marked_unhealthy += 1
                log.warning("execution server %s set aside until it answers /health", endpoint.url)
            endpoint.healthy = False
            endpoint.probe_at = time.monotonic() + self.probe_interval_s


def _parse(url: str, response: httpx.Response, expected: int) -> list[ExecutionResult]:
    """Results from a 200, or the _Failure that says whether to retry."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = body.get("error") if isinstance(body, dict) else None
    text = f"{url}: HTTP {status}: {message or response.text[:200]}"
    if status == 200:
        try:
            results = [_result(r) for r in body["results"]]
        except (KeyError, TypeError, ValueError) as e:
            raise _Failure(f"{url}: malformed response ({type(e).__name__}: {e})", retryable=True) from None
        if len(results) != expected:
            raise _Failure(f"{url}: {len(results)} results for {expected} jobs", retryable=True)
        return results
    retry_after = _seconds(response.headers.get("retry-after"))
    if status == 404 and isinstance(body, dict) and body.get("unknown_task_ids"):
        raise _Failure(text, retryable=False, unknown_tasks=True)
    if status in (404, 405):  # no batch route: likely the seed's ExecEval container, not `serve`
        text += (
            " (no /api/execute_batch there: is it `grpo4codegen serve`? The seed's ExecEval container "
            "only has /api/execute_code; run `grpo4codegen serve` in its place, see docs/migrating.md)"
        )
    if status == 413:
        raise _Failure(text, retryable=False, too_large=True)
    if status == 429:
        raise _Failure(text, retryable=True, retry_after=retry_after)
    if status >= 500:
        raise _Failure(text, retryable=True, unhealthy=status == 503, retry_after=retry_after)
    raise _Failure(text, retryable=False)  # 400/401/422: retrying would get the same answer


def _result(d: dict[str, Any]) -> ExecutionResult:
    tests = [
        TestResult(_OUTCOMES[t["exec_outcome"]], **{k: v for k, v in t.items() if k in _TEST_FIELDS})
        for t in d["tests"]
    ]
    summary = d["summary"]
    return ExecutionResult(
        tests=tests,
        infra_error=d.get("infra_error"),
        wall_time=summary["wall_time"],
        cpu_time_kernel=summary.get("cpu_time_kernel"),
        peak_memory_kernel=summary.get("peak_memory_kernel"),
        instructions_kernel=summary.get("instructions_kernel"),
        traced_discarded=summary.get("traced_discarded") or 0,
    )


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
