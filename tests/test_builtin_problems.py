"""The built-in problem set: shape and coverage checks on the parsed problems (nothing is executed here)."""

from __future__ import annotations

import ast
import json
from collections import Counter
from importlib import resources

import pytest

from grpo4codegen.data import chat_messages, load_problems
from grpo4codegen.data.problems import Problem


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    return load_problems("builtin")


def _flatten(value):
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def test_count_and_unique_ids(problems):
    assert len(problems) >= 24
    ids = [p.task_id for p in problems]
    assert len(set(ids)) == len(ids)
    question_ids = [p.question_id for p in problems]
    assert all(isinstance(q, int) for q in question_ids)
    assert len(set(question_ids)) == len(question_ids)


def _raw_rows() -> list[dict]:
    text = resources.files("grpo4codegen.data.builtin").joinpath("problems.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_every_assert_parses(problems):
    assert sum(len(p.unparsed_tests) for p in problems) == 0
    asserts = {
        row["task_id"]: sum(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(row["test"])))
        for row in _raw_rows()
    }
    for p in problems:
        assert 8 <= len(p.tests) <= 15, p.task_id
        assert len(p.tests) == asserts[p.task_id], p.task_id


def test_input_output_mirrors_tests():
    for row in _raw_rows():
        assert len(row["input_output"]) == row["test"].count("\n    assert "), row["task_id"]
        assert all(set(pair) == {"input", "output"} for pair in row["input_output"])


def test_fields_present(problems):
    for p in problems:
        assert p.reference_solution.startswith("class Solution"), p.task_id
        ast.parse(p.reference_solution)  # well-formed Python (parsed, not run)
        assert "class Solution" in p.starter_code and p.method_name in p.starter_code, p.task_id
        assert p.entry_point == f"Solution().{p.method_name}"
        assert p.description and p.method_name in p.query and "```python" in p.query, p.task_id
        assert p.preamble and p.tags and p.date, p.task_id
    # One shared preamble with the helpers the tests call.
    preambles = {p.preamble for p in problems}
    assert len(preambles) == 1
    preamble = preambles.pop()
    for helper in ("def list_node", "def tree_node", "def is_same_list", "def is_same_tree", "inf = "):
        assert helper in preamble


def test_compare_modes_and_argument_kinds(problems):
    modes = Counter(t.compare for p in problems for t in p.tests)
    assert {"eq", "list_node", "tree_node"} <= set(modes)
    kinds = {a.kind for p in problems for t in p.tests for a in t.args}
    assert {"value", "list_node", "tree_node"} <= kinds
    list_problems = [p for p in problems if any(a.kind == "list_node" for a in p.tests[0].args)]
    tree_problems = [p for p in problems if any(a.kind == "tree_node" for a in p.tests[0].args)]
    assert len(list_problems) >= 3 and len(tree_problems) >= 3
    assert sum(p.tests[0].compare == "list_node" for p in list_problems) >= 2
    assert any(p.tests[0].compare == "tree_node" for p in tree_problems)


def test_result_types(problems):
    expected = [t.expected for p in problems for t in p.tests if t.compare == "eq"]
    floats = [x for e in expected for x in _flatten(e) if isinstance(x, float)]
    assert any(x != int(x) for x in floats), "some float answers should be non-integral"
    float_problems = {
        p.task_id
        for p in problems
        if any(isinstance(x, float) for t in p.tests if t.compare == "eq" for x in _flatten(t.expected))
    }
    assert len(float_problems) >= 2
    assert any(isinstance(e, bool) for e in expected)
    assert any(isinstance(e, str) for e in expected)
    assert any(isinstance(e, list) and e and all(isinstance(x, list) for x in e) for e in expected)


def test_difficulty_spread(problems):
    counts = Counter(p.difficulty for p in problems)
    assert set(counts) == {"Easy", "Medium", "Hard"}


def test_some_large_inputs(problems):
    def size(value) -> int:
        return len(value) if isinstance(value, (list, str)) else 0

    large = [p for p in problems if any(size(a.value) >= 200 for t in p.tests for a in t.args)]
    assert len(large) >= len(problems) // 2


def test_chat_messages(problems):
    for p in problems:
        messages = chat_messages(p)
        assert [m["role"] for m in messages] == ["system", "user"]
        assert messages[1]["content"] == p.query
