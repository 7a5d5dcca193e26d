"""Faults under load: a sandbox worker killed mid-request, servers stopped and restarted under a client."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest

from grpo4codegen.data import load_problems
from grpo4codegen.sandbox.executor import Submission
from grpo4codegen.sandbox.types import Limits
from grpo4codegen.server.bench import ServerProcess, free_port
from grpo4codegen.server.client import RemoteExecutor

SLOW = Limits(time_s=5.0, total_time_s=30.0, stop_on_first_fail=True)


@pytest.fixture(scope="module")
def pairs():
    return next(p for p in load_problems("builtin") if p.task_id == "pair-sum-count")


def sleepy(problem, seconds: float) -> Submission:
    """A correct solution that first sleeps (once per job, not per test)."""
    code = (
        f"import time\ntime.sleep({seconds})\n" + problem.reference_solution
    )  # module level: runs once per job
    return Submission(problem, code, SLOW)


@pytest.fixture
def servers():
    started: list[ServerProcess] = []

    def start(*args: str, port: int | None = None) -> ServerProcess:
        proc = ServerProcess("--sandbox-workers", "2", *args, port=port)
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.stop(signal.SIGKILL)


def jobs_ok(url: str) -> float:
    for line in httpx.get(url + "/metrics").text.splitlines():
        if line.startswith('g4c_jobs_total{result="ok"}'):
            return float(line.split()[-1])
    return 0.0


def test_killed_sandbox_worker_is_retried_and_the_server_keeps_serving(servers, pairs):
    server = servers()
    with RemoteExecutor(server.url, chunk_size=4, retry_budget_s=20) as client:
        done: list = []
        runner = threading.Thread(target=lambda: done.extend(client.run_many([sleepy(pairs, 1.5)] * 4)))
        runner.start()
        time.sleep(0.7)  # both workers are inside the first two jobs now
        victims = server.sandbox_workers()
        assert victims, server.log_tail()
        os.kill(victims[0], signal.SIGKILL)
        runner.join(60)
        assert len(done) == 4
        for result in done:  # retried on a fresh worker, or a clear infrastructure error, never a verdict
            assert result.all_passed or (result.infra_error and not result.tests), result
        assert sum(r.all_passed for r in done) >= 3
        after = client.run_many([Submission(pairs, pairs.reference_solution)] * 2)
        assert all(r.all_passed for r in after)
    metrics = httpx.get(server.url + "/metrics").text
    assert "g4c_pool_worker_restarts_total 1.0" in metrics


def test_client_rides_through_a_server_restart(servers, pairs):
    port = free_port()
    first = servers(port=port)
    jobs = [sleepy(pairs, 0.2) for _ in range(16)]
    with RemoteExecutor(first.url, chunk_size=2, parallel=2, retry_budget_s=30) as client:
        done: list = []
        runner = threading.Thread(target=lambda: done.extend(client.run_many(jobs)))
        runner.start()
        time.sleep(0.8)
        first.stop(signal.SIGKILL)  # mid-request, no goodbye
        time.sleep(0.5)
        second = servers(port=port)
        runner.join(60)
        assert len(done) == len(jobs)
        assert all(r.ok and r.all_passed for r in done), [r.infra_error for r in done if not r.ok]
        assert client.stats.retries >= 1 and client.stats.infra_failures == 0
    assert jobs_ok(second.url) >= 1


def test_two_servers_one_stopped(servers, pairs):
    a, b = servers(), servers()
    reference = Submission(pairs, pairs.reference_solution)
    with RemoteExecutor(f"{a.url},{b.url}", chunk_size=1, parallel=4, retry_budget_s=20) as client:
        assert all(r.all_passed for r in client.run_many([reference] * 8))
        assert jobs_ok(a.url) > 0 and jobs_ok(b.url) > 0  # both took work
        before = jobs_ok(a.url)
        b.stop()
        results = client.run_many([reference] * 8)
        assert all(r.all_passed for r in results)
        assert jobs_ok(a.url) == before + 8
        assert client.health() == {a.url: True, b.url: False}


def test_graceful_shutdown_lets_in_flight_jobs_finish(servers, pairs):
    server = servers("--shutdown-grace", "20")
    with RemoteExecutor(server.url, retry_budget_s=0.5) as client:
        done: list = []
        runner = threading.Thread(target=lambda: done.extend(client.run_many([sleepy(pairs, 1.5)] * 2)))
        runner.start()
        time.sleep(0.6)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        try:  # uvicorn stops listening at once; what still answers says it is draining
            refused = httpx.get(server.url + "/health", timeout=2).status_code == 503
        except httpx.ConnectError:
            refused = True
        runner.join(30)
    assert refused
    assert [r.all_passed for r in done] == [True, True]
    server.process.wait(20)


def test_shutdown_past_the_grace_period_reports_jobs_as_interrupted(servers, pairs):
    server = servers("--shutdown-grace", "0.5")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        answers: list[httpx.Response] = []
        job = {
            "task_id": "x",
            "problem": _payload(pairs),
            "code": sleepy(pairs, 20).code,
            "limits": {"time_s": 30},
        }
        runner = threading.Thread(
            target=lambda: answers.append(http.post("/api/execute_batch", json={"jobs": [job]}))
        )
        runner.start()
        time.sleep(0.6)
        stopped = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        runner.join(30)
    assert answers[0].status_code == 503 and "interrupted" in answers[0].json()["error"]
    assert answers[0].headers["retry-after"]
    server.process.wait(15)
    assert time.monotonic() - stopped < 10  # the sandbox did not keep the server alive for 20 s


def _payload(problem):
    from grpo4codegen.server.models import problem_payload

    return problem_payload(problem)
