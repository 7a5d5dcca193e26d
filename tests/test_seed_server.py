"""The seed's reward client against a real `grpo4codegen serve`: its extended ExecEval request as it
builds it (dict inputs, typed outputs, preCodeSegment + response + postCodeSegment), and hostile
variants of it."""

from __future__ import annotations

import json

import httpx
import pytest

from grpo4codegen.data import load_problems
from grpo4codegen.server.bench import ServerProcess

from .seed_format import PRE_CODE, post_code, reward_request, seed_client_reward, seed_row

PROBLEMS = {p.task_id: p for p in load_problems("builtin")}


def fenced(code: str) -> str:
    return f"Here is my solution:\n```python\n{code}\n```\n"


def adapted(task_id: str, params: dict[str, str], code: str | None = None) -> str:
    """The reference (or `code`) taking plain lists where it expects nodes: the seed's postCodeSegment
    calls the entry point with the decoded JSON, so a node argument arrives as a list."""
    problem = PROBLEMS[task_id]
    converts = "".join(
        f"    {name} = {builder}({name}) if isinstance({name}, list) else {name}\n"
        for name, builder in params.items()
    )
    names = ", ".join(params)
    return (
        (code if code is not None else problem.reference_solution)
        + f"\n_original = Solution.{problem.method_name}\n"
        + f"def _adapted(self, {names}, **kwargs):\n{converts}"
        + f"    return _original(self, {names}, **kwargs)\n"
        + f"Solution.{problem.method_name} = _adapted\n"
    )


@pytest.fixture(scope="module")
def http():
    proc = ServerProcess("--sandbox-workers", "2", "--max-body-mb", "1").start()
    try:
        with httpx.Client(base_url=proc.url, timeout=120) as client:
            yield client
    finally:
        proc.stop()


def post(http: httpx.Client, body: dict) -> httpx.Response:
    return http.post("/api/execute_code", json=body, headers={"Content-Type": "application/json"})


def outcomes(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [ut["exec_outcome"] for ut in r.json()["data"]]


@pytest.mark.parametrize("task_id", ["pair-sum-count", "run-length-compress", "max-average-window"])
def test_general_outputs_pass_with_correct_code_and_fail_with_wrong(http, task_id):
    problem = PROBLEMS[task_id]
    row = seed_row(problem, fenced(problem.reference_solution))
    r = post(http, reward_request(row))
    assert outcomes(r) == ["PASSED"] * len(problem.tests), r.json()["data"][:2]
    data = r.json()["data"]
    # the seed client's own arithmetic works on the answer: no nulls where it expects numbers
    reward = seed_client_reward(data)
    assert reward["pass_rate"] == 1.0 and reward["avg_time_consumed"] > 0
    entry = data[0]
    assert entry["input"] == json.dumps(json.loads(row["unittests"][0]["input"])) + "\n"
    assert entry["output"] == row["unittests"][0]["output"]
    assert "tracemalloc_peak" not in entry or isinstance(entry["tracemalloc_peak"], int)

    constant = "'zz'" if task_id == "run-length-compress" else "-12345"
    wrong = (
        f"class Solution:\n    def {problem.method_name}(self, *args, **kwargs):\n        return {constant}\n"
    )
    got = outcomes(post(http, reward_request(seed_row(problem, fenced(wrong)))))
    assert got == ["WRONG_ANSWER"] * len(problem.tests)


def test_linked_list_outputs_are_compared_as_lists(http):
    problem = PROBLEMS["sort-linked-list"]
    good = adapted("sort-linked-list", {"head": "list_node"})
    assert outcomes(post(http, reward_request(seed_row(problem, fenced(good))))) == ["PASSED"] * len(
        problem.tests
    )
    # unsorted result: the printed list differs wherever the input was not already sorted
    identity = "class Solution:\n    def sortLinkedList(self, head):\n        return head\n"
    bad = adapted("sort-linked-list", {"head": "list_node"}, identity)
    got = outcomes(post(http, reward_request(seed_row(problem, fenced(bad)))))
    expected = [
        "PASSED" if t.args[0].value == sorted(t.args[0].value) else "WRONG_ANSWER" for t in problem.tests
    ]
    assert got == expected and "WRONG_ANSWER" in got


def test_tree_outputs_are_compared_as_trees(http):
    problem = PROBLEMS["mirror-binary-tree"]
    good = adapted("mirror-binary-tree", {"root": "tree_node"})
    assert outcomes(post(http, reward_request(seed_row(problem, fenced(good))))) == ["PASSED"] * len(
        problem.tests
    )
    identity = "class Solution:\n    def mirrorTree(self, root):\n        return root\n"
    bad = adapted("mirror-binary-tree", {"root": "tree_node"}, identity)
    got = outcomes(post(http, reward_request(seed_row(problem, fenced(bad)))))
    assert "WRONG_ANSWER" in got


SORTED_TO_BST = """
class Solution:
    def sortedArrayToBST(self, nums):
        def build(lo, hi):
            if lo > hi:
                return None
            mid = (lo + hi) // 2
            return TreeNode(nums[mid], build(lo, mid - 1), build(mid + 1, hi))
        return build(0, len(nums) - 1)
"""


def test_the_seed_notebooks_own_tree_example(http):
    """List input, tree output (the example in the seed's test cell), expected value written several
    ways: LeetCode text with trailing nulls, Python-style text, a decoded JSON list."""
    nums = [-100, -50, -25, -10, -3, 0, 5, 9, 20, 50, 75, 100]
    level = [0, -25, 20, -100, -10, 5, 75, None, -50, None, -3, None, 9, 50, 100]
    values = [
        json.dumps(level + [None, None]),
        str(level),
        level,
    ]
    body = {
        "language": "Python 3",
        "source_code": "\n\n".join(
            [PRE_CODE, SORTED_TO_BST, post_code("Solution().sortedArrayToBST", "tree_node")]
        ),
        "unittests": [
            {"input": {"nums": nums}, "output": [{"type": "tree_node", "value": v}]} for v in values
        ]
        + [{"input": {"nums": []}, "output": [{"type": "tree_node", "value": "[]"}]}]
        + [{"input": {"nums": [1, 2]}, "output": [{"type": "tree_node", "value": "[2,1]"}]}],
        "block_network": True,
        "stop_on_first_fail": False,
        "use_sanitizer": False,
    }
    assert outcomes(post(http, body)) == ["PASSED"] * 4 + ["WRONG_ANSWER"]  # [1,2] builds 1 -> right 2


def test_typed_general_values_compare_by_type(http):
    program = PRE_CODE + "\n" + post_code("f", "general") + "\n"
    program = program.replace("if __name__", "def f(x):\n    return x\n\nif __name__", 1)
    cases = [
        ({"x": 2.5}, "2.50000", "PASSED"),
        ({"x": 2.500001}, "2.5", "PASSED"),  # within 1e-5
        ({"x": 2.6}, "2.5", "WRONG_ANSWER"),
        ({"x": True}, "true", "PASSED"),
        ({"x": "abc"}, '"abc"', "PASSED"),
        ({"x": ["a", "b"]}, '["a","b"]', "PASSED"),
        ({"x": [1, 2]}, "[1,2,3]", "WRONG_ANSWER"),
        ({"x": None}, "null", "PASSED"),
        ({"x": "hello world"}, "hello world", "PASSED"),  # text that is no value: compared as printed
    ]
    body = {
        "language": "Python 3",
        "source_code": program,
        "unittests": [{"input": i, "output": [{"type": "general", "value": v}]} for i, v, _ in cases],
        "stop_on_first_fail": False,
    }
    assert outcomes(post(http, body)) == [c[2] for c in cases]
    # any accepted output may match; plain-string outputs mix with typed ones
    body["unittests"] = [{"input": {"x": 3}, "output": [{"type": "general", "value": "4"}, "3"]}]
    assert outcomes(post(http, body)) == ["PASSED"]


def test_the_plain_exec_eval_form_still_works(http):
    body = {
        "language": "PyPy 3",
        "source_code": "a, b = map(int, input().split())\nprint(a + b)\n",
        "unittests": [{"input": "1 2\n", "output": ["3"]}, {"input": "2 2\n", "output": ["5"]}],
    }
    data = post(http, body).json()["data"]
    assert [d["exec_outcome"] for d in data] == ["PASSED", "WRONG_ANSWER"]
    assert "tracemalloc_peak" in data[0]  # the plain form keeps every field, null when not measured


@pytest.mark.parametrize(
    ("unittests", "message"),
    [
        ([{"input": {"x": 1}, "output": [{"type": "graph", "value": "1"}]}], "unittests.0.output.0"),
        ([{"input": {"x": 1}, "output": [{"type": "tree_node", "value": "[1,2"}]}], "is not a list"),
        ([{"input": {"x": 1}, "output": [{"type": "list_node", "value": {"a": 1}}]}], "must be a list"),
        ([{"input": {"x": 1}, "output": [{"type": "list_node"}]}], "type"),
        ([{"input": {"x": 1}, "output": []}], "at least one"),
        ([{"input": {"x": 1}, "output": [5]}], "unittests.0.output"),
        ([{"output": [{"type": "general", "value": "1"}]}], "unittests.0.input"),
        ("not a list", "unittests"),
    ],
)
def test_malformed_seed_requests_get_a_clear_4xx(http, unittests, message):
    body = {"language": "Python 3", "source_code": "print(1)", "unittests": unittests}
    r = post(http, body)
    assert r.status_code == 422, r.text
    assert message in r.json()["error"], r.json()["error"]


def test_hostile_outputs_and_bodies(http):
    program = PRE_CODE + "\nimport sys\nsys.stdout.write(sys.stdin.readline().strip().split('\"')[3])\n"
    hostile = [
        "(10**400)**400",  # arithmetic is never evaluated
        "[" * 5000 + "]" * 5000,  # nesting beyond the parser
        "__import__('os').system('true')",
        "9" * 100000,  # beyond int's digit limit
        "[" + "None, " * 100000 + "'x']",  # big: read through the JSON parser, not an AST
        "{" + ", ".join(map(str, range(20000))) + "}",  # a big set: too long for the AST path
    ]
    body = {
        "language": "Python 3",
        "source_code": program,
        "unittests": [
            {"input": {"p": text}, "output": [{"type": "general", "value": "1"}]} for text in hostile
        ],
    }
    r = post(http, body)
    assert outcomes(r) == ["WRONG_ANSWER"] * len(hostile)
    # a body over the server's limit, and a source over the field limit
    big = {"language": "Python 3", "source_code": "#" * (2 << 20), "unittests": []}
    assert post(http, big).status_code == 413
    r = post(http, {"language": "Rust", "source_code": "fn main(){}", "unittests": []})
    assert r.status_code == 400 and "Rust" in r.json()["error"]
    r = http.post(
        "/api/execute_code",
        content=b'{"language": "Python 3", "unittests": [',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422
