"""Files written by the seed's notebooks load as problems: typed unittests become structured tests, node
arguments are built as nodes, the file's order is kept, and broken rows say what is wrong."""

from __future__ import annotations

import json

import pytest

from grpo4codegen.data import load_problems
from grpo4codegen.data.loader import problem_from_row
from grpo4codegen.data.selection import DIFFICULTY_RANK, select_problems
from grpo4codegen.errors import UserError
from grpo4codegen.sandbox.executor import Submission

from .seed_format import PRE_CODE, seed_row

BUILTIN = load_problems("builtin")


def write_seed_files(tmp_path, problems=BUILTIN):
    """LeetCodeDataset-v0.3.1-train.jsonl and its `_sorting` variant (grouped by first tag, easy -> hard
    within a tag), as the seed's notebooks leave them."""
    rows = [seed_row(p, response=f"```python\n{p.reference_solution}\n```") for p in problems]
    plain = tmp_path / "LeetCodeDataset-v0.3.1-train.jsonl"
    plain.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    ordered = sorted(
        rows, key=lambda r: (r["tags"][0] if r["tags"] else "", DIFFICULTY_RANK[r["difficulty"].lower()])
    )
    sorting = tmp_path / "LeetCodeDataset-v0.3.1-train_sorting.jsonl"
    sorting.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ordered), "utf-8")
    return plain, sorting, [r["task_id"] for r in ordered]


def test_seed_files_load_with_the_same_tests_and_node_arguments(tmp_path):
    plain, _, _ = write_seed_files(tmp_path)
    loaded = load_problems(str(plain))
    assert [p.task_id for p in loaded] == [p.task_id for p in BUILTIN]
    for ours, seed in zip(BUILTIN, loaded, strict=True):
        assert len(seed.tests) == len(ours.tests) and not seed.unparsed_tests, seed.task_id
        assert [[a.kind for a in t.args] for t in seed.tests] == [
            [a.kind for a in t.args] for t in ours.tests
        ]
        assert [t.compare for t in seed.tests] == [t.compare for t in ours.tests]
        assert seed.preamble == PRE_CODE and seed.query and seed.reference_solution == ours.reference_solution
        assert seed.response.startswith("```python")  # the train split's recorded answer


def test_reference_solutions_pass_the_seed_files_tests(tmp_path, executor):
    plain, _, _ = write_seed_files(tmp_path)
    loaded = load_problems(str(plain))
    results = executor.run_many([Submission(p, p.reference_solution) for p in loaded])
    failing = {
        p.task_id: r.tests[0] for p, r in zip(loaded, results, strict=True) if not r.ok or r.passed != r.total
    }
    assert not failing
    assert sum(r.total for r in results) == sum(len(p.tests) for p in BUILTIN)


def test_sorting_order_is_kept_unless_curriculum_is_asked_for(tmp_path):
    _, sorting, order = write_seed_files(tmp_path)
    loaded = load_problems(str(sorting))
    assert [p.task_id for p in loaded] == order
    assert [p.task_id for p in select_problems(loaded)] == order
    easy_first = select_problems(loaded, curriculum=True)
    assert [DIFFICULTY_RANK[p.difficulty.lower()] for p in easy_first] == sorted(
        DIFFICULTY_RANK[p.difficulty.lower()] for p in loaded
    )


def test_unquoted_string_answers_stay_strings_for_str_entry_points():
    row = seed_row(BUILTIN[0])
    row["prompt"] = "Solve it.\n```python\nclass Solution:\n    def f(self, n: int) -> str:\n```"
    row["entry_point"] = "Solution().f"
    row["unittests"] = [{"input": '{"n": 8}\n', "output": [{"type": "general", "value": "8"}]}]
    [test] = problem_from_row(row).tests
    assert test.expected == "8"
    row["prompt"] = row["prompt"].replace("-> str", "-> int")
    assert problem_from_row(row).tests[0].expected == 8


def test_broken_rows_keep_their_reasons(tmp_path):
    row = seed_row(BUILTIN[0])
    row["unittests"] = [
        {"input": "not json", "output": [{"type": "general", "value": "1"}]},
        {"input": '{"nums": [1]}', "output": [{"type": "graph", "value": "1"}]},
        {"input": '{"nums": [1]}', "output": []},
        {"input": "[1, 2]", "output": [{"type": "general", "value": "1"}]},
        {"input": '{"nums": [1], "target": 2}', "output": [{"type": "general", "value": "0"}]},
    ]
    problem = problem_from_row(row)
    assert len(problem.tests) == 1 and len(problem.unparsed_tests) == 4
    reasons = " | ".join(u.reason for u in problem.unparsed_tests)
    assert "graph" in reasons and "keyword arguments" in reasons and "non-empty" in reasons
    assert "input is not JSON" in reasons
    # the notebook writes None where no input parsed: the problem loads, without tests, with a reason
    row["unittests"] = None
    empty = problem_from_row(row)
    assert empty.tests == [] and "no unittests" in empty.unparsed_tests[0].reason
    # a row without an entry point is an error naming the task
    del row["entry_point"]
    with pytest.raises(UserError, match="entry_point"):
        problem_from_row(row)
