"""The execution server against hostile candidates and malformed clients: a candidate's text can never
turn into a 500 or an executor failure, and bad input is a 4xx in the server's `{"error": ...}` shape
that names the problem, never a 500 or a 503 that a client would retry and blame on the server."""

from __future__ import annotations

import json

import httpx
import pytest

from grpo4codegen.data import load_problems
from grpo4codegen.sandbox.executor import StdioSubmission, Submission
from grpo4codegen.server.bench import ServerProcess
from grpo4codegen.server.client import RemoteExecutor
from grpo4codegen.server.models import problem_payload

from .test_server import PAIRS_OK

SURROGATE_ERROR = (
    "class Solution:\n    def countPairs(self, nums, target):\n        raise ValueError(chr(0xD800))\n"
)
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def server():
    # max-jobs above max-queue: a request bigger than the whole queue must be told so (413), not 429
    proc = ServerProcess(
        "--dataset", "builtin", "--sandbox-workers", "2", "--max-queue", "4", "--max-jobs", "8"
    )
    yield proc.start()
    proc.stop()


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def pairs_problem():
    return next(p for p in load_problems("builtin") if p.task_id == "pair-sum-count")


def _batch(http: httpx.Client, jobs: list[dict], **extra) -> httpx.Response:
    return http.post("/api/execute_batch", content=json.dumps({"jobs": jobs, **extra}), headers=JSON)


def _assert_serving(http: httpx.Client) -> None:
    r = _batch(http, [{"task_id": "pair-sum-count", "code": PAIRS_OK}])
    assert r.status_code == 200 and r.json()["results"][0]["summary"]["passed"] == 12, r.text


def test_a_candidate_error_holding_a_lone_surrogate_is_a_verdict_not_a_500(http):
    # before: Starlette's JSON renderer raised UnicodeEncodeError, a 500 for the whole batch
    jobs = [{"task_id": "pair-sum-count", "code": c} for c in (PAIRS_OK, SURROGATE_ERROR, PAIRS_OK)]
    r = _batch(http, jobs)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["summary"]["passed"] for x in results] == [12, 0, 12]
    assert all(x["infra_error"] is None for x in results)
    assert results[1]["tests"][0]["exec_outcome"] == "RUNTIME_ERROR"
    assert results[1]["tests"][0]["error"] in (
        "ValueError: \ud800",
        "ValueError: ?",
    )  # as the sandbox keeps it
    stdio = {
        "language": "python",
        "source_code": "raise ValueError(chr(0xDFFF))",
        "unittests": [{"input": "", "output": "1"}],
    }
    r = http.post("/api/execute_code", json=stdio)
    assert r.status_code == 200 and r.json()["data"][0]["exec_outcome"] == "RUNTIME_ERROR", r.text
    _assert_serving(http)


def test_remote_executor_reports_the_surrogate_candidate_as_a_verdict(server, pairs_problem):
    subs = [Submission(pairs_problem, SURROGATE_ERROR), Submission(pairs_problem, PAIRS_OK)]
    subs.append(StdioSubmission("raise ValueError(chr(0xD800))", [("", "1")]))
    with RemoteExecutor(server.url, retry_budget_s=5) as remote:
        results = remote.run_many(subs)
    assert [r.infra_error for r in results] == [None, None, None]
    assert results[0].tests[0].exec_outcome.value == "RUNTIME_ERROR" and results[1].passed == 12
    assert remote.stats.retries == 0 and remote.stats.marked_unhealthy == 0


def test_client_values_echoed_back_render_whatever_they_hold(http):
    for value in (b'"\\ud800"', b"NaN", b"Infinity"):  # lone surrogate, and JSON's non-standard numbers
        body = b'{"language": "python", "source_code": "print(1)", "unittests": [{"input": {"a": 1}, '
        body += b'"output": [{"type": "general", "value": ' + value + b"}]}]}"
        r = http.post("/api/execute_code", content=body, headers=JSON)
        assert r.status_code == 200 and r.json()["data"][0]["exec_outcome"] == "WRONG_ANSWER", (value, r.text)
    r = _batch(http, [{"task_id": "\ud800", "code": "x"}])  # the unknown id is named in the error
    assert r.status_code == 404 and r.json()["unknown_task_ids"] == ["\ud800"]


def test_an_inline_problem_the_executor_cannot_encode_is_a_422_naming_the_job(http, pairs_problem):
    # before: the executor raised while preparing it, the whole batch got 503 "executor failure", and
    # the client set the server aside and retried for its whole budget
    good = {"task_id": "pair-sum-count", "code": PAIRS_OK}
    payload = problem_payload(pairs_problem)
    for compare, expected in (("list_node", 5), ("tree_node", None), ("list_node", None)):
        bad = {**payload, "tests": [{**payload["tests"][0], "compare": compare, "expected": expected}]}
        r = _batch(http, [good, {"problem": bad, "code": PAIRS_OK}])
        assert r.status_code == 422 and "jobs.1.problem" in r.json()["error"], (compare, r.text)
    _assert_serving(http)


@pytest.mark.parametrize("where", ["expected", "args"])
def test_deeply_nested_problem_values_are_a_422_not_a_500(http, where):
    # before: RecursionError in decode_expected (a 500, connection dropped) or while encoding (a 503)
    deep = "[" * 900 + "]" * 900
    args = f'[{{"name": "nums", "value": {deep if where == "args" else "[1]"}}}, {{"name": "target", "value": 1}}]'
    expected = deep if where == "expected" else "0"
    problem = f'{{"task_id": "t", "entry_point": "Solution().countPairs", "tests": [{{"args": {args}, "expected": {expected}}}]}}'
    body = f'{{"jobs": [{{"problem": {problem}, "code": "x"}}]}}'
    r = http.post("/api/execute_batch", content=body, headers=JSON)
    assert r.status_code == 422 and "nested too deeply" in r.json()["error"], r.text
    _assert_serving(http)


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"jobs": [{"cases": [["", "\xff"]], "code": "x"}]}', "UnicodeDecodeError"),
        (
            b'{"jobs": [{"cases": [["", ""]], "code": "x", "limits": ' + b"[" * 5000 + b"]" * 5000 + b"}]}",
            "nesting",
        ),
        (
            b'{"jobs": [{"cases": [["", ""]], "code": "x", "limits": {"time_s": ' + b"1" * 5000 + b"}}]}",
            "digits",
        ),
    ],
)
def test_an_unreadable_body_is_a_400_in_the_error_shape(http, body, message):
    # before: FastAPI's {"detail": "There was an error parsing the body"}, which named nothing
    r = http.post("/api/execute_batch", content=body, headers=JSON)
    assert r.status_code == 400 and "not readable JSON" in r.json()["error"] and message in r.json()["error"]


def test_unknown_routes_answer_in_the_error_shape(http):
    assert http.get("/nope").json() == {"error": "Not Found"}
    assert (
        http.get("/api/execute_batch").status_code == 405 and "error" in http.get("/api/execute_batch").json()
    )


def test_code_over_the_size_limit_is_a_compile_error_like_the_embedded_executor(http):
    # before: 422 for the whole request, so one candidate's output failed its neighbours as infra errors
    huge = "x = 1\n" * 180_000  # 1.08 M characters, over MAX_CODE_CHARS
    jobs = [{"task_id": "pair-sum-count", "code": PAIRS_OK}, {"task_id": "pair-sum-count", "code": huge}]
    r = _batch(http, jobs)
    assert r.status_code == 200, r.text[:300]
    first, second = r.json()["results"]
    assert first["summary"]["passed"] == 12 and second["infra_error"] is None
    assert (
        second["tests"][0]["exec_outcome"] == "COMPILATION_ERROR" and "exceeds" in second["tests"][0]["error"]
    )
    code = {"language": "python", "source_code": huge, "unittests": [{"input": "", "output": ""}]}
    r = http.post("/api/execute_code", json=code)
    assert r.status_code == 200 and r.json()["data"][0]["exec_outcome"] == "COMPILATION_ERROR"


def test_exec_eval_cpu_limit_nan_is_rejected_not_ignored(http):
    body = b'{"language": "python", "source_code": "print(1)", "unittests": [{"input": "", "output": "1"}], '
    r = http.post("/api/execute_code", content=body + b'"limits": {"cpu": NaN}}', headers=JSON)
    assert r.status_code == 422 and "limits" in r.json()["error"], r.text
    r = http.post("/api/execute_code", content=body + b'"limits": {"cpu": -1}}', headers=JSON)
    assert r.status_code == 200  # ExecEval's "no limit": the server's default applies


def test_more_jobs_than_the_queue_holds_is_413_so_the_client_splits(server, http, pairs_problem):
    # before: 429 "queue full: 0 of 4 pending" on an idle server, forever
    r = _batch(http, [{"task_id": "pair-sum-count", "code": PAIRS_OK}] * 5)
    assert r.status_code == 413 and "at most 4" in r.json()["error"]
    with RemoteExecutor(server.url, chunk_size=8, parallel=1, retry_budget_s=5) as remote:
        results = remote.run_many([Submission(pairs_problem, PAIRS_OK)] * 6)
    assert [r.passed for r in results] == [12] * 6 and remote.stats.infra_failures == 0


def test_a_typed_check_that_fails_on_our_side_is_an_infrastructure_failure():
    """A typed ExecEval output check that cannot read the candidate's stdout is a wrong answer; one that
    fails for a reason of ours (here a SystemError, as CPython 3.11's parser race raised) is counted as
    an infrastructure failure, never as the candidate's wrong answer."""
    from grpo4codegen.sandbox.executor import Executor
    from grpo4codegen.server.execeval import TypedStdout

    class Broken(TypedStdout):
        def __call__(self, stdout: str) -> bool:
            raise SystemError("AST constructor recursion depth mismatch")

    typed = TypedStdout(())
    with Executor(workers=1) as executor:
        ours = executor.run_many([StdioSubmission("print(1)", [("", Broken(()))])])[0]
        fine = executor.run_many([StdioSubmission("print(1)", [("", typed)])])[0]
        assert executor.stats.infra_failures == 1
    assert ours.infra_error and "verdicts failed" in ours.infra_error and not ours.tests
    assert fine.infra_error is None and fine.tests[0].exec_outcome.value == "WRONG_ANSWER"
