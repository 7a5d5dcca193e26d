"""The execution server over real HTTP: ExecEval format, batches, auth, bad payloads, hostile code."""

from __future__ import annotations

import socket
import textwrap
import threading

import httpx
import pytest

from grpo4codegen.data import load_problems
from grpo4codegen.server.bench import ServerProcess
from grpo4codegen.server.models import BatchResponse, ExecEvalResponse, problem_payload

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PAIRS_OK = """
class Solution:
    def countPairs(self, nums, target):
        seen, pairs = {}, 0
        for x in nums:
            pairs += seen.get(target - x, 0)
            seen[x] = seen.get(x, 0) + 1
        return pairs
"""
PAIRS_WRONG = "class Solution:\n    def countPairs(self, nums, target):\n        return 0\n"
ADD_PROGRAM = "a, b = map(int, input().split())\nprint(a + b)\n"


def pairs_body(body: str, header: str = "") -> str:
    """A countPairs solution whose method body is `body`."""
    return (
        textwrap.dedent(header)
        + "class Solution:\n    def countPairs(self, nums, target):\n"
        + textwrap.indent(textwrap.dedent(body), "        ")
    )


@pytest.fixture(scope="module")
def server():
    args = ["--dataset", "builtin", "--sandbox-workers", "2", "--token", TOKEN]
    args += ["--max-queue", "8", "--max-jobs", "8", "--max-body-mb", "1"]
    proc = ServerProcess(*args).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as client:
        yield client


def batch(http: httpx.Client, jobs: list[dict], **extra) -> httpx.Response:
    return http.post("/api/execute_batch", json={"jobs": jobs, **extra})


def assert_serving(http: httpx.Client) -> None:
    r = batch(http, [{"task_id": "pair-sum-count", "code": PAIRS_OK}])
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["summary"]["passed"] == 12


def test_health_is_open_everything_else_needs_the_token(server, http):
    assert httpx.get(server.url + "/health").json() == {"status": "ok"}
    for method, path in [
        ("GET", "/ready"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("POST", "/api/execute_batch"),
        ("POST", "/api/execute_code"),
    ]:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            r = httpx.request(method, server.url + path, headers=headers, json={})
            assert r.status_code == 401, (path, headers)
            assert "token" in r.json()["error"] and r.headers["www-authenticate"] == "Bearer"
    ready = http.get("/ready").json()
    assert ready["problems"] == len(load_problems("builtin")) and ready["sandbox_workers"] == 2


def test_openapi_documents_both_execution_endpoints(http):
    spec = http.get("/openapi.json").json()
    assert {"/api/execute_code", "/api/execute_batch", "/health", "/ready", "/metrics"} <= set(spec["paths"])
    assert "ExecEvalRequest" in spec["components"]["schemas"]
    assert http.get("/docs").status_code == 200


def test_exec_eval_request_gets_exec_eval_response(http):
    request = {  # as a seed client sends it, ExecEval-only fields included
        "language": "Python 3",
        "source_code": ADD_PROGRAM,
        "unittests": [
            {"input": "1 2\n", "output": ["3"]},
            {"input": "5 5\n", "output": ["11"]},
            {"input": "2 2\n", "output": ["5", "4"]},  # a later accepted output
        ],
        "limits": {"cpu": 2, "_as": 512 * 1024**2, "nofile": 4, "nproc": 1},
        "block_network": True,
        "stop_on_first_fail": False,
        "compile_cmd": None,
        "use_sanitizer": False,
    }
    r = http.post("/api/execute_code", json=request)
    assert r.status_code == 200, r.text
    data = ExecEvalResponse.model_validate(r.json()).data
    assert [d.exec_outcome for d in data] == ["PASSED", "WRONG_ANSWER", "PASSED"]
    assert [d.result for d in data] == ["3\n", "10\n", "4\n"]
    assert data[0].input == "1 2\n" and data[2].output == ["5", "4"]
    fields = {"exec_outcome", "result", "time_consumed", "tracemalloc_current", "tracemalloc_peak"}
    assert fields | {"cpu_instruction_count"} <= set(r.json()["data"][0])
    assert all(d.time_consumed is not None for d in data)


def test_exec_eval_stop_on_first_fail_time_limit_and_errors(http):
    loop = {"language": "PyPy 3", "source_code": "while True:\n    pass\n", "limits": {"cpu": 0.5}}
    loop["unittests"] = [{"input": "", "output": "x"}] * 3
    data = http.post("/api/execute_code", json=loop).json()["data"]
    assert data[0]["exec_outcome"] == "TIME_LIMIT_EXCEEDED" and data[1]["skipped"]
    crash = {
        "language": "python",
        "source_code": "raise ValueError('boom')",
        "unittests": [{"input": "", "output": [""]}],
    }
    assert http.post("/api/execute_code", json=crash).json()["data"][0]["exec_outcome"] == "RUNTIME_ERROR"
    syntax = {"language": "Python 3", "source_code": "def (:", "unittests": [{"input": "", "output": [""]}]}
    assert (
        http.post("/api/execute_code", json=syntax).json()["data"][0]["exec_outcome"] == "COMPILATION_ERROR"
    )
    r = http.post("/api/execute_code", json={**crash, "language": "GNU C++17"})
    assert r.status_code == 400 and "Python" in r.json()["error"]


def test_batch_by_task_id_and_by_inline_problem_in_order(http):
    problem = next(p for p in load_problems("builtin") if p.task_id == "pair-sum-count")
    jobs = [
        {"task_id": "pair-sum-count", "code": PAIRS_OK},
        {"problem": problem_payload(problem), "code": PAIRS_WRONG},
        {"problem": problem.to_dict(), "code": PAIRS_OK, "limits": {"metrics": ["time", "memory", "steps"]}},
        {"cases": [["1 2", "3"]], "code": ADD_PROGRAM},
    ]
    r = batch(http, jobs, limits={"time_s": 2})
    assert r.status_code == 200, r.text
    results = BatchResponse.model_validate(r.json()).results
    zeros = sum(t.expected == 0 for t in problem.tests)  # what `return 0` gets right
    assert [(x.summary.passed, x.summary.total) for x in results] == [(12, 12), (zeros, 12), (12, 12), (1, 1)]
    assert all(x.infra_error is None for x in results)
    assert results[2].tests[0].tracemalloc_peak is not None and results[2].tests[0].steps is not None
    assert results[0].tests[0].tracemalloc_peak is None


def test_unknown_task_id_is_404_naming_it(http):
    r = batch(http, [{"task_id": "no-such-task", "code": PAIRS_OK}])
    assert r.status_code == 404 and r.json()["unknown_task_ids"] == ["no-such-task"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"{not json", "JSON decode error"),
        (b'{"jobs": [{"task_id": "pair-sum-count"}]}', "jobs.0.code"),
        (b'{"jobs": []}', "jobs"),
        (b'{"jobs": [{"code": "x"}]}', "task_id"),
        (b'{"jobs": [{"task_id": "pair-sum-count", "code": "x", "limits": {"time_s": 1e9}}]}', "time_s"),
        (b'{"jobs": [{"task_id": "pair-sum-count", "code": "x", "limits": {"metrics": ["x"]}}]}', "metrics"),
        (b'{"jobs": [{"problem": {"task_id": "t"}, "code": "x"}]}', "entry_point"),
        (b"[1, 2]", "body"),
    ],
)
def test_malformed_payload_is_422_with_a_clear_message(http, content, message):
    r = http.post("/api/execute_batch", content=content, headers={"content-type": "application/json"})
    assert r.status_code == 422 and message in r.json()["error"], r.text


def test_payload_without_json_content_type_is_told_so(http):
    r = http.post("/api/execute_batch", content=b'{"jobs": []}', headers={"content-type": "text/plain"})
    assert r.status_code == 422 and "Content-Type: application/json" in r.json()["error"]


def test_oversize_and_too_many_jobs_are_413_and_the_server_is_unharmed(http):
    r = batch(http, [{"task_id": "pair-sum-count", "code": "#" * (2 << 20)}])
    assert r.status_code == 413 and "larger than" in r.json()["error"]
    r = batch(http, [{"task_id": "pair-sum-count", "code": PAIRS_OK}] * 9)
    assert r.status_code == 413 and "at most 8" in r.json()["error"]
    assert_serving(http)


def test_hostile_code_mixed_with_good_code(http):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    hostile = {
        "loop": pairs_body("while True:\n    pass\n"),
        "fork": pairs_body("os.fork()\nreturn 0\n", "import os\n"),
        "socket": pairs_body(
            f"socket.create_connection(('127.0.0.1', {port}), 1)\nreturn 0\n", "import socket\n"
        ),
        "exit": pairs_body("sys.exit(0)\n", "import sys\n"),
        "kill_parent": pairs_body("os.kill(os.getppid(), 9)\nreturn 0\n", "import os\n"),
        "memory": pairs_body("x = bytearray(8 * 1024 ** 3)\nreturn 0\n"),
    }
    jobs = [{"task_id": "pair-sum-count", "code": PAIRS_OK}]
    jobs += [{"task_id": "pair-sum-count", "code": code} for code in hostile.values()]
    jobs += [{"task_id": "pair-sum-count", "code": PAIRS_OK}]
    r = batch(http, jobs, limits={"time_s": 0.5, "total_time_s": 5, "memory_mb": 256})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert results[0]["summary"]["passed"] == 12 and results[-1]["summary"]["passed"] == 12
    verdicts = {name: results[i + 1] for i, name in enumerate(hostile)}
    for name, result in verdicts.items():
        assert result["infra_error"] is None, name
        assert result["summary"]["passed"] == 0, name
    first = {name: result["tests"][0]["exec_outcome"] for name, result in verdicts.items()}
    assert first["loop"] == "TIME_LIMIT_EXCEEDED"
    assert first["memory"] == "MEMORY_LIMIT_EXCEEDED"
    assert first["fork"] == first["socket"] == first["exit"] == first["kill_parent"] == "RUNTIME_ERROR"
    with pytest.raises(TimeoutError):  # the connection attempt never arrived
        listener.accept()
    listener.close()
    assert_serving(http)


def test_full_queue_is_429_with_retry_after(http):
    slow = pairs_body("time.sleep(0.5)\nraise ValueError\n", "import time\n")  # stops at test 1
    jobs = [{"task_id": "pair-sum-count", "code": slow, "limits": {"stop_on_first_fail": True}}] * 8
    answers: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: answers.append(batch(http, jobs)))
    worker.start()
    try:
        for _ in range(100):  # until the 8 slow jobs hold the whole queue
            if http.get("/ready").json()["queue_depth"] == 8:
                break
            threading.Event().wait(0.02)
        r = batch(http, [{"task_id": "pair-sum-count", "code": PAIRS_OK}])
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "queue full" in r.json()["error"]
    finally:
        worker.join()
    assert answers[0].status_code == 200
    assert_serving(http)


def test_metrics_count_requests_outcomes_queue_and_pool(http):
    text = http.get("/metrics").text
    for name in (
        'g4c_http_requests_total{route="/api/execute_batch",status="200"}',
        'g4c_http_requests_total{route="/api/execute_batch",status="422"}',
        "g4c_http_request_seconds_bucket",
        'g4c_test_outcomes_total{outcome="PASSED"}',
        'g4c_jobs_total{result="ok"}',
        "g4c_queue_depth",
        "g4c_queue_capacity 8.0",
        "g4c_pool_worker_restarts_total",
        'g4c_rejected_total{reason="queue_full"}',
    ):
        assert name in text, name
