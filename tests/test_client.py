"""RemoteExecutor against a real server: same results as the embedded executor, failures as None rewards."""

from __future__ import annotations

import time

import pytest

from grpo4codegen.data import load_problems
from grpo4codegen.rewards.scorer import RewardConfig, RewardScorer
from grpo4codegen.sandbox.executor import StdioSubmission, Submission
from grpo4codegen.sandbox.types import Limits
from grpo4codegen.server.bench import ServerProcess, free_port
from grpo4codegen.server.client import RemoteExecutor

from .conftest import make_problem


@pytest.fixture(scope="module")
def builtin():
    return load_problems("builtin")[:6]


@pytest.fixture(scope="module")
def server():
    proc = ServerProcess("--dataset", "builtin", "--sandbox-workers", "2", "--max-jobs", "4").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def remote(server):
    with RemoteExecutor(server.url, chunk_size=4, retry_budget_s=10) as client:
        yield client


def signature(result):
    return result.infra_error, [(t.exec_outcome, t.skipped) for t in result.tests]


def test_remote_results_match_the_embedded_executor(remote, executor, builtin):
    subs = [Submission(p, p.reference_solution) for p in builtin]
    subs += [Submission(p, "class Solution:\n    pass\n", Limits(time_s=1.0)) for p in builtin[:2]]
    subs.append(Submission(builtin[0], "def broken(:\n"))
    seen: list[int] = []
    remote_results = remote.run_many(subs, on_result=lambda i, r: seen.append(i))
    assert seen == list(range(len(subs)))
    assert [signature(r) for r in remote_results] == [signature(r) for r in executor.run_many(subs)]
    assert all(r.all_passed for r in remote_results[: len(builtin)])


def test_limits_travel_with_each_submission(remote, builtin):
    problem = builtin[0]
    metrics = Limits(metrics=("time", "memory", "steps"), traced_tests=(0,))
    traced, plain = remote.run_many(
        [Submission(problem, problem.reference_solution, metrics)] * 1
        + [Submission(problem, problem.reference_solution)]
    )
    assert traced.tests[0].tracemalloc_peak is not None and traced.tests[0].steps is not None
    assert traced.tests[1].steps is None  # only test 0 was traced
    assert plain.tests[0].tracemalloc_peak is None


def test_expected_values_keep_their_type_over_the_wire(remote, executor):
    cases = {
        "asSet": ("return set(range(1, n + 1))", "assert candidate(n=3) == {1, 2, 3}"),
        "asDict": ("return {i: str(i) for i in range(n)}", "assert candidate(n=2) == {0: '0', 1: '1'}"),
        "asTuple": ("return [n, n]", "assert candidate(n=2) == (2, 2)"),
        "asFloat": ("return 0.1 + 0.2", "assert candidate(n=0) == 0.3"),
        "asNested": ("return [{n}, {'k': [n]}]", "assert candidate(n=1) == [{1}, {'k': [1]}]"),
    }
    subs = []
    for method, (body, check) in cases.items():
        problem = make_problem(method, [check], task_id=f"wire-{method}")
        subs.append(Submission(problem, f"class Solution:\n    def {method}(self, n):\n        {body}\n"))
        subs.append(Submission(problem, f"class Solution:\n    def {method}(self, n):\n        return [n]\n"))
    results = remote.run_many(subs)
    assert [r.all_passed for r in results] == [True, False] * len(cases)
    assert [signature(r) for r in results] == [signature(r) for r in executor.run_many(subs)]


def test_task_id_mode_falls_back_to_sending_the_problem(server, builtin):
    own = make_problem("add", ["assert candidate(a=1, b=2) == 3"], task_id="not-preloaded")
    subs = [
        Submission(builtin[0], builtin[0].reference_solution),
        Submission(own, "class Solution:\n    def add(self, a, b):\n        return a + b\n"),
    ]
    with RemoteExecutor(server.url, send_problems=False, chunk_size=1) as client:
        results = client.run_many(subs)
    assert [r.all_passed for r in results] == [True, True]


def test_stdio_submissions_and_oversized_chunks(remote):
    with RemoteExecutor(remote.endpoints[0].url, chunk_size=16, parallel=1) as client:
        results = client.run_many([StdioSubmission("print(int(input()) * 2)", [("21", "42")])] * 10)
        assert client.stats.requests > 1  # the server takes 4 jobs a request: 413, split, resent
    assert all(r.ok and r.all_passed for r in results)


def test_unreachable_server_is_an_infrastructure_failure_in_bounded_time(builtin):
    started = time.monotonic()
    with RemoteExecutor(f"http://127.0.0.1:{free_port()}", retry_budget_s=1.5) as client:
        results = client.run_many([Submission(p, p.reference_solution) for p in builtin[:3]])
        assert client.stats.retries >= 1 and client.stats.infra_failures == 3
    assert time.monotonic() - started < 8
    assert all(r.infra_error and "remote execution failed" in r.infra_error and not r.tests for r in results)


def test_rejected_request_is_not_retried(server, builtin):
    with RemoteExecutor(server.url, chunk_size=1) as client:
        problem = make_problem("add", ["assert candidate(a=1, b=2) == 3"], preamble="x" * (17 << 20))
        [result] = client.run_many([Submission(problem, "")])  # body over the server's 16 MiB
        assert client.stats.retries == 0
    assert result.infra_error and "HTTP 413" in result.infra_error


def test_bad_url_is_refused():
    with pytest.raises(ValueError, match="http"):
        RemoteExecutor("127.0.0.1:8000")


def test_scorer_with_execute_code_url(server, builtin):
    wrong = "```python\nclass Solution:\n    pass\n```"
    right = f"```python\n{builtin[0].reference_solution}\n```"
    scorer = RewardScorer(builtin, RewardConfig(execute_code_url=server.url))
    scores = scorer.score([builtin[0].task_id] * 2, [right, wrong])
    assert scores[0].dimensions["correctness"] == 1.0 and scores[1].dimensions["correctness"] == 0.0

    down = RewardScorer(builtin, RewardConfig(execute_code_url=f"http://127.0.0.1:{free_port()}"))
    down.runner.retry_budget_s = 0.5
    [score] = down.score([builtin[0].task_id], [right])
    assert score.infra_failure and score.reward is None and score.dimensions["correctness"] is None
