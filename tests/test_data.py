"""Loader, test parser, prompts, selection and the data CLI, on real rows and on bad input."""

from __future__ import annotations

import gzip
import json
import math
import subprocess
import sys

import pytest

from grpo4codegen.cli import main
from grpo4codegen.data import chat_messages, load_problems
from grpo4codegen.data.loader import problem_from_row
from grpo4codegen.data.selection import select_problems
from grpo4codegen.data.testparse import parse_check
from grpo4codegen.errors import UserError

from .conftest import V020, V031, needs_data


def test_parser_shapes():
    tests, unparsed = parse_check(
        "def check(candidate):\n"
        "    assert candidate(nums = [1, 2], k = -3) == [2, 1]\n"
        "    assert candidate(1, 'a') == inf\n"
        "    assert candidate(x=2 ** 10) == -1.5\n"
        "    assert is_same_list(candidate(head=list_node([1, 2])), list_node([2, 1]))\n"
        "    assert is_same_tree(candidate(root=tree_node([1, None, 2])), tree_node([1, 2]))\n"
        "    assert candidate(x=1) != 2\n"
        "    assert candidate(x=foo()) == 1\n"
        "    print('not an assert')\n"
    )
    assert [t.compare for t in tests] == ["eq", "eq", "eq", "list_node", "tree_node"]
    assert tests[0].args[0].name == "nums" and tests[0].args[1].value == -3 and tests[0].expected == [2, 1]
    assert tests[1].args[0].name is None and tests[1].expected == math.inf
    assert tests[2].args[0].value == 1024 and tests[2].expected == -1.5
    assert tests[3].args[0].kind == "list_node" and tests[3].expected == [2, 1]
    assert tests[4].args[0].kind == "tree_node" and tests[4].expected == [1, 2]
    reasons = [u.reason for u in unparsed]
    assert reasons[0] == "comparison is not a single =="
    assert "not a literal" in reasons[1]
    assert "not an assert" in reasons[2]


def test_parser_never_executes_dataset_text(tmp_path):
    marker = tmp_path / "executed"
    tests, unparsed = parse_check(
        f"def check(candidate):\n    assert candidate(x=__import__('os').system('touch {marker}')) == 1\n"
    )
    assert not tests and len(unparsed) == 1 and not marker.exists()


@needs_data
@pytest.mark.parametrize("path", [V031, V020], ids=["v0.3.1", "v0.2.0"])
def test_real_files_load_and_parse(path):
    problems = load_problems(path)
    parsed = sum(len(p.tests) for p in problems)
    unparsed = sum(len(p.unparsed_tests) for p in problems)
    assert parsed / (parsed + unparsed) >= 0.995
    assert all(p.tests and p.entry_point.startswith("Solution().") for p in problems)
    assert all(p.difficulty in ("Easy", "Medium", "Hard") and p.question_id for p in problems)
    first = problems[0]
    assert first.description and first.starter_code.startswith("class Solution") and first.reference_solution
    assert "def list_node" in first.preamble or "from typing import" in first.preamble


@needs_data
def test_v020_linked_lists_and_trees_stay_marked():
    problems = {p.task_id: p for p in load_problems(V020)}
    add_two = problems["add-two-numbers"]
    assert add_two.tests[0].args[0].kind == "list_node" and add_two.tests[0].compare == "list_node"
    assert add_two.description.startswith("You are given two non-empty linked lists")
    trees = [t for p in problems.values() for t in p.tests if t.compare == "tree_node"]
    assert len(trees) == 53


def test_builtin_problems_and_prompts():
    problems = load_problems("builtin")
    messages = chat_messages(problems[0])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert problems[0].starter_code.strip() in messages[1]["content"]
    no_query = problem_from_row(
        {"task_id": "t", "entry_point": "Solution().f", "test": "def check(candidate):\n    assert candidate(x=1) == 1\n",
         "problem_description": "Return x.", "starter_code": "class Solution:\n    def f(self, x): ..."}
    )  # fmt: skip
    content = chat_messages(no_query)[1]["content"]
    assert content.startswith("Return x.") and "class Solution" in content


def test_selection_is_deterministic_and_curriculum_orders():
    problems = load_problems("builtin")
    a = select_problems(problems, sample=10, seed=3)
    b = select_problems(problems, sample=10, seed=3)
    assert [p.task_id for p in a] == [p.task_id for p in b] and len(a) == 10
    ordered = select_problems(problems, curriculum=True)
    ranks = [{"Easy": 0, "Medium": 1, "Hard": 2}[p.difficulty] for p in ordered]
    assert ranks == sorted(ranks)
    assert {p.difficulty for p in select_problems(problems, difficulties=["hard"])} == {"Hard"}
    with pytest.raises(UserError):
        select_problems(problems, difficulties=["impossible"])


def _cli(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grpo4codegen.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_data_stats_json(capsys):
    assert main(["data", "stats", "--dataset", "builtin", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert {"problems", "tests", "unparsed_tests"} <= set(stats) and stats["problems"] >= 24


@needs_data
def test_data_stats_json_on_real_file():
    out = _cli(["data", "stats", "--dataset", str(V031), "--json"])
    assert out.returncode == 0
    stats = json.loads(out.stdout)
    assert (stats["problems"], stats["tests"], stats["unparsed_tests"]) == (228, 23234, 0)


def test_bad_input_is_a_clear_error(tmp_path):
    corrupt = tmp_path / "corrupt.jsonl.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00not really gzip")
    no_test = tmp_path / "no_test.jsonl"
    no_test.write_text(json.dumps({"task_id": "abc", "entry_point": "Solution().f"}) + "\n")
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"task_id": 1}\n{oops\n')
    cases = {
        str(tmp_path / "missing.jsonl"): "no such file",
        str(corrupt): "cannot read",
        str(no_test): "row 1: task 'abc' has no test field",
        str(bad_json): "line 2 is not valid JSON",
    }
    for dataset, message in cases.items():
        out = _cli(["data", "stats", "--dataset", dataset])
        assert out.returncode == 2, out
        assert message in out.stderr and dataset.split("/")[-1] in out.stderr
        assert "Traceback" not in out.stderr


def test_unknown_hub_name_is_a_clear_error():
    env_out = subprocess.run(
        [sys.executable, "-m", "grpo4codegen.cli", "data", "stats", "--dataset", "nobody/no-such-dataset"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
    )
    assert env_out.returncode == 2
    assert "nobody/no-such-dataset" in env_out.stderr and "local file" in env_out.stderr
    assert "Traceback" not in env_out.stderr


def test_export_round_trips(tmp_path):
    out = tmp_path / "problems.jsonl"
    assert main(["data", "export", "--dataset", "builtin", "-o", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    from grpo4codegen.data.problems import Problem

    again = [Problem.from_dict(r) for r in rows]
    original = load_problems("builtin")
    assert [p.tests for p in again] == [p.tests for p in original]


def test_gz_and_parquet_load(tmp_path):
    rows = [
        json.loads(line)
        for line in open(__import__("grpo4codegen").__path__[0] + "/data/builtin/problems.jsonl")
    ]
    gz = tmp_path / "p.jsonl.gz"
    with gzip.open(gz, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows[:3])
    assert len(load_problems(gz)) == 3
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    table = pa.Table.from_pylist([{k: v for k, v in r.items() if k != "input_output"} for r in rows[:3]])
    pq.write_table(table, tmp_path / "p.parquet")
    assert [p.task_id for p in load_problems(tmp_path / "p.parquet")] == [r["task_id"] for r in rows[:3]]
