"""The data layer on datasets it has not seen, built from the real rows in tmp_path: what `datasets`
makes of them (timestamps, .arrow shards, `save_to_disk` directories, hub-style shard directories,
globs), gzip told by its bytes, and `test` fields in the shapes other LeetCode-style datasets use
(another parameter name, `[0] * n` literals, float-tolerance asserts, an indented field). Rows that
cannot work (an entry point that is not a method, a `prompt` that is not code) are refused naming
the field; rows without a preamble get the standard one. Shapes that cannot be expressed as a test
case (`in [...]`, `sorted(...)`, `abs(...) > tol`) stay unparsed, so their problem is left out."""

from __future__ import annotations

import ast
import bz2
import gzip
import json
import lzma
import re
from pathlib import Path
from typing import Any

import pytest

from grpo4codegen.data import load_problems, testparse
from grpo4codegen.data.loader import problem_from_row, read_rows
from grpo4codegen.data.testparse import parse_check
from grpo4codegen.errors import UserError

from .conftest import V020, V031, needs_data

pytestmark = needs_data


def real_rows(path: Path, count: int | None = None) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return rows[:count] if count else rows


def by_id(path: Path, task_id: str) -> dict[str, Any]:
    return next(r for r in real_rows(path) if r["task_id"] == task_id)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return path


def summary(problems: list) -> list[tuple[str, int, str | None, int | None]]:
    return [(p.task_id, len(p.tests), p.date, p.question_id) for p in problems]


@pytest.fixture(autouse=True)
def _no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GRPO4CODEGEN_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def hub_rows(tmp_path_factory):
    """The v0.3.1 rows as `datasets` reads the hub's JSON: `estimated_date` becomes a timestamp."""
    datasets = pytest.importorskip("datasets")
    cache = tmp_path_factory.mktemp("hf")
    ds = datasets.load_dataset("json", data_files=str(V031), split="train", cache_dir=str(cache))
    return ds.select(range(6))


def test_rows_read_by_datasets_keep_their_dates(hub_rows, tmp_path, monkeypatch):
    """The hub's rows (and parquet or `save_to_disk` output written from them) hold `estimated_date`
    as a datetime: loading refused every row ("must be text")."""
    import datasets

    expected = summary(load_problems(write_jsonl(tmp_path / "plain.jsonl", real_rows(V031, 6))))
    assert expected[0][2] == "2024-08-04"
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: hub_rows)
    assert summary(load_problems("newfacade/LeetCodeDataset", split="train")) == expected
    hub_rows.to_parquet(str(tmp_path / "hub.parquet"))
    assert summary(load_problems(tmp_path / "hub.parquet")) == expected


def test_directories_globs_and_arrow_shards_load(hub_rows, tmp_path):
    """What `datasets` writes and `load_dataset(path)` reads: a `save_to_disk` directory (of a Dataset
    or a DatasetDict, by split), its .arrow shard, a hub-style directory of split shards, a glob."""
    import datasets

    expected = summary(load_problems(write_jsonl(tmp_path / "plain.jsonl", real_rows(V031, 6))))
    hub_rows.save_to_disk(str(tmp_path / "saved"))
    assert summary(load_problems(tmp_path / "saved")) == expected
    arrow = next((tmp_path / "saved").glob("*.arrow"))
    assert summary(load_problems(arrow)) == expected
    train = datasets.Dataset.from_list(real_rows(V020, 3))
    datasets.DatasetDict({"test": hub_rows, "train": train}).save_to_disk(str(tmp_path / "dict"))
    assert summary(load_problems(tmp_path / "dict")) == expected
    assert len(load_problems(tmp_path / "dict", split="train")) == 3
    with pytest.raises(UserError, match="no split 'validation'"):
        load_problems(tmp_path / "dict", split="validation")

    shards = tmp_path / "repo" / "data"
    shards.mkdir(parents=True)
    for i in range(3):
        hub_rows.select(range(2 * i, 2 * i + 2)).to_parquet(str(shards / f"test-0000{i}-of-00003.parquet"))
    train.to_parquet(str(shards / "train-00000-of-00001.parquet"))
    assert summary(load_problems(tmp_path / "repo")) == expected
    assert len(load_problems(tmp_path / "repo", split="train")) == 3
    assert summary(load_problems(str(shards / "test-*.parquet"))) == expected
    with pytest.raises(UserError, match="no file matches"):
        load_problems(str(shards / "nothing-*.parquet"))
    # the project's own data directory: its file named `test` is the test split
    assert len(load_problems(V031.parent)) == 228


def test_gzip_is_told_by_its_bytes_not_its_name(tmp_path):
    """A plain file named .gz, or a gzipped one named .jsonl, was "cannot read"."""
    rows = real_rows(V031, 3)
    plain = write_jsonl(tmp_path / "plain.jsonl.gz", rows)
    packed = tmp_path / "packed.jsonl"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert len(load_problems(plain)) == len(load_problems(packed)) == 3
    (tmp_path / "rows.jsonl.bz2").write_bytes(bz2.compress(plain.read_bytes()))
    (tmp_path / "rows.jsonl.xz").write_bytes(lzma.compress(plain.read_bytes()))
    assert (
        len(load_problems(tmp_path / "rows.jsonl.bz2")) == len(load_problems(tmp_path / "rows.jsonl.xz")) == 3
    )
    truncated = tmp_path / "truncated.jsonl.gz"
    truncated.write_bytes(gzip.compress(plain.read_bytes())[:2000])
    with pytest.raises(UserError, match="truncated.jsonl.gz: cannot read"):
        load_problems(truncated)


def test_an_integer_past_pythons_digit_limit_is_a_user_error(tmp_path):
    """json.loads raises a plain ValueError for a 5,000-digit integer: it escaped as a traceback."""
    row = json.dumps(real_rows(V031, 1)[0])[:-1] + ', "extra": ' + "7" * 5000 + "}"
    for name, text in (("lines.jsonl", row + "\n" + row + "\n"), ("array.json", f"[{row}]")):
        (tmp_path / name).write_text(text)
        with pytest.raises(UserError, match="4300 digits"):
            load_problems(tmp_path / name)


def test_the_check_parameter_may_have_any_name():
    """`def check(solution): assert solution(...) == ...` left every assert unparsed (the problem was
    dropped as incomplete)."""
    row = real_rows(V031, 1)[0]
    renamed = dict(row, test=re.sub(r"\bcandidate\b", "solution", row["test"]))
    original, again = problem_from_row(row), problem_from_row(renamed)
    assert not again.unparsed_tests
    assert [(t.args, t.expected) for t in again.tests] == [(t.args, t.expected) for t in original.tests]
    _, unparsed = parse_check("def check(solution):\n    assert candidate(x=1) == 1\n")
    assert "solution(...)" in unparsed[0].reason


def test_repeated_and_concatenated_literals_parse_to_the_same_values():
    """`[0] * n`, `"a" * n` and `+` of sequences are how hand-written tests spell big inputs; they
    were unparsed ("arithmetic on non-numbers")."""
    row = real_rows(V031, 1)[0]
    original = problem_from_row(row)
    first = original.tests[0]
    nums = first.args[1].value  # queries: a list of pairs
    spelled = " + ".join(f"[{json.dumps(q)}] * 1" for q in nums)
    test = f"def check(candidate):\n    assert candidate(n = {first.args[0].value}, queries = {spelled}) == {first.expected}\n"
    again = problem_from_row(dict(row, test=test))
    assert again.tests[0].args == first.args and again.tests[0].expected == first.expected
    tests, unparsed = parse_check(
        "def check(candidate):\n"
        "    assert candidate(s = 'ab' * 3 + 'c', nums = 2 * [0] + [1], grid = [[0] * 2] * 2) == [1] * 3\n"
        "    assert candidate(nums = [1] * -1, t = (1,) + (2,)) == 10 ** 9 % 7 + 7 // 2 + 1 / 4\n"
    )
    assert not unparsed
    assert [a.value for a in tests[0].args] == ["abababc", [0, 0, 1], [[0, 0], [0, 0]]]
    assert tests[0].expected == [1, 1, 1]
    assert [a.value for a in tests[1].args] == [[], (1, 2)] and tests[1].expected == 6 + 3 + 0.25
    # each operand is evaluated once: a long sum was evaluated 2**terms times
    chain = " + ".join(["[1]"] * 100)
    tests, _ = parse_check(
        f"def check(candidate):\n    assert candidate(nums = {chain}) == 1 + {' + '.join(['1'] * 99)}\n"
    )
    assert tests[0].args[0].value == [1] * 100 and tests[0].expected == 100


def test_literals_too_big_or_ill_typed_stay_unparsed_without_building_them():
    n = testparse.MAX_LITERAL_ITEMS
    tests, unparsed = parse_check(
        "def check(candidate):\n"
        f"    assert candidate(grid = [[0] * {n}] * {n}) == 1\n"
        f"    assert candidate(s = 'a' * {n + 1}) == 1\n"
        "    assert candidate(nums = [1] + (2,)) == 1\n"
        "    assert candidate(nums = [1] * 1.5) == 1\n"
        "    assert candidate(nums = [1] * True) == 1\n"
        "    assert candidate(x = 1 / 0) == 1\n"
        "    assert candidate(x = ((2 ** 4096) ** 4096) ** 4096) == 1\n"
    )
    assert not tests and len(unparsed) == 7
    assert "longer than" in unparsed[0].reason and "longer than" in unparsed[1].reason


def test_float_tolerance_asserts_become_float_comparisons():
    """`abs(candidate(...) - x) < tol` and `math.isclose(candidate(...), x, abs_tol=tol)` were unparsed;
    with a tolerance within 10x of 1e-5 they are `== float(x)` (the sandbox compares floats within
    LeetCode's 1e-5). An int x becomes a float, so that an answer within tolerance of it passes, as
    the assert meant."""
    row = by_id(V020, "median-of-two-sorted-arrays")
    original = problem_from_row(row)
    lines = row["test"].splitlines()
    asserts = [line.strip() for line in lines if line.strip().startswith("assert")]
    rewritten = []
    for i, line in enumerate(asserts):
        call, expected = line[len("assert ") :].split(" == ")
        rewritten.append(
            [
                f"assert abs({call} - {expected}) < 1e-5",
                f"assert abs({expected} - {call}) <= 1e-6",
                f"assert math.isclose({call}, {expected}, rel_tol=1e-9, abs_tol=1e-5)",
                f"assert isclose({expected}, {call}, abs_tol=1e-4)",
            ][i % 4]
        )
    test = "def check(candidate):\n" + "".join(f"    {a}\n" for a in rewritten)
    again = problem_from_row(dict(row, test=test))
    assert not again.unparsed_tests and len(again.tests) == len(original.tests)
    for a, b in zip(again.tests, original.tests, strict=True):
        assert a.args == b.args and a.compare == "eq"
        assert type(a.expected) is float and a.expected == b.expected
    tests, _ = parse_check("def check(candidate):\n    assert abs(candidate(x = 1) - 3) < 1e-6\n")
    assert type(tests[0].expected) is float and tests[0].expected == 3.0
    tests, unparsed = parse_check(
        "def check(candidate):\n    import math\n    from math import isclose as close\n"
        "    assert math.isclose(candidate(x = 1), 0.5, abs_tol=1e-5)\n"
    )
    assert len(tests) == 1 and not unparsed
    _, unparsed = parse_check("def check(candidate):\n    from os import path as candidate\n")
    assert unparsed


def test_float_tolerance_asserts_run_the_reference_to_a_pass(executor):
    row = by_id(V020, "median-of-two-sorted-arrays")
    test = re.sub(r"assert (candidate\(.*\)) == (.*)", r"assert abs(\1 - \2) < 1e-5", row["test"])
    problem = problem_from_row(dict(row, test=test))
    assert problem.tests and not problem.unparsed_tests
    assert executor.run(problem, problem.reference_solution).passed == len(problem.tests)


@pytest.mark.parametrize(
    "assertion",
    [
        "assert candidate(x = 1) in [[1, 2], [2, 1]]",
        "assert sorted(candidate(x = 1)) == [1, 2]",
        "assert (candidate(x = 1) == 2, 'always true')",
        "assert abs(candidate(x = 1) - 2.5) > 1e-5",
        "assert abs(candidate(x = 1) - 2.5) < -1",
        "assert abs(candidate(x = 1) - [2.5]) < 1e-5",
        "assert abs(candidate(x = 1) - candidate(x = 2)) < 1e-5",
        "assert not math.isclose(candidate(x = 1), 2.5)",
        "assert math.isclose(candidate(x = 1), 2.5, 1e-3)",
        # a stated tolerance the sandbox's 1e-5 does not mean: looser fails right answers, tighter (or
        # isclose's relative default) passes wrong ones
        "assert abs(candidate(x = 1) - 2.5) < 1e-2",
        "assert abs(candidate(x = 1) - 2.5) < 1e-9",
        "assert math.isclose(candidate(x = 1), 2.5)",
        "assert math.isclose(candidate(x = 1), 2.5, rel_tol=0.1)",
        "assert math.isclose(candidate(x = 1), 2.5, abs_tol=1e-2)",
        "assert numpy.isclose(candidate(x = 1), 2.5)",
        "assert candidate(x = 1) is True",
        "assert candidate(x = 1) == 1 and candidate(x = 2) == 2",
    ],
)
def test_shapes_a_test_case_cannot_express_stay_unparsed(assertion):
    """Parsed as `==`, each of these would pass a wrong answer or fail a right one."""
    tests, unparsed = parse_check(f"def check(candidate):\n    {assertion}\n")
    assert not tests and len(unparsed) == 1


def test_an_indented_test_field_parses():
    row = real_rows(V031, 1)[0]
    indented = "".join("    " + line if line.strip() else line for line in row["test"].splitlines(True))
    assert problem_from_row(dict(row, test=indented)).tests == problem_from_row(row).tests


def test_a_dotted_entry_point_without_parentheses_runs(executor):
    """`Solution.twoSum` was read as the class `Solution.twoSum`: every answer, the reference's too,
    failed as "not defined"."""
    row = by_id(V020, "two-sum")
    problem = problem_from_row(dict(row, entry_point="Solution.twoSum"))
    assert (problem.class_name, problem.method_name) == ("Solution", "twoSum")
    assert executor.run(problem, problem.reference_solution).passed == len(problem.tests)


@pytest.mark.parametrize("entry_point", ["twoSum", "Solution()", "Solution(1).twoSum", "a.b.twoSum"])
def test_an_entry_point_that_is_not_a_method_is_refused_naming_it(entry_point, tmp_path):
    row = dict(by_id(V020, "two-sum"), entry_point=entry_point)
    with pytest.raises(UserError, match=r"row 1: task 'two-sum': field entry_point must name a method"):
        load_problems(write_jsonl(tmp_path / "rows.jsonl", [row]))


def test_a_row_without_a_preamble_runs_under_the_standard_one(executor):
    """Without `prompt`, `List[int]` in the signature and `list_node(...)` arguments failed for every
    answer, the reference's too."""
    for task_id in ("two-sum", "add-two-numbers"):
        row = by_id(V020, task_id)
        del row["prompt"]
        problem = problem_from_row(row)
        assert "def list_node" in problem.preamble and "from typing import *" in problem.preamble
        assert executor.run(problem, problem.reference_solution).passed == len(problem.tests)


def test_a_prompt_that_is_not_code_is_refused_naming_the_field(tmp_path):
    """Datasets that put the question in `prompt` would run it as the preamble: every answer fails."""
    row = by_id(V031, "shortest-distance-after-road-addition-queries-i")
    row["prompt"] = row["problem_description"]
    with pytest.raises(
        UserError, match="task 'shortest-distance-after-road-addition-queries-i': field prompt"
    ):
        load_problems(write_jsonl(tmp_path / "rows.jsonl", [row]))


def test_read_rows_reads_every_local_form(hub_rows, tmp_path):
    hub_rows.save_to_disk(str(tmp_path / "saved"))
    assert [r["task_id"] for r in read_rows(tmp_path / "saved")] == [r["task_id"] for r in real_rows(V031, 6)]


def test_nan_fields_written_by_pandas_are_missing(tmp_path):
    """`json.dump(df.to_dict("records"))` of mixed v0.3.1/v0.2.0 rows writes NaN for the fields a row
    lacks (`meta`, `question_id`): every row was refused ("meta must be an object, got float nan")."""
    pandas = pytest.importorskip("pandas")
    rows = real_rows(V031, 3) + real_rows(V020, 3)
    frame = pandas.concat([pandas.DataFrame(rows[:3]), pandas.DataFrame(rows[3:])], ignore_index=True)
    path = tmp_path / "records.json"
    path.write_text(json.dumps(frame.to_dict("records")))
    assert "NaN" in path.read_text()
    plain = load_problems(write_jsonl(tmp_path / "plain.jsonl", rows))
    assert summary(load_problems(path)) == summary(plain)


def test_assert_sources_are_the_asserts_own_text():
    """`str.splitlines` also breaks at \\f or U+2028 inside a string, and column offsets count bytes:
    each assert's source (shown in failure reports) was another assert's text, or a fragment."""
    tests, _ = parse_check(
        "def check(candidate):\n"
        '    assert candidate(s = "a\x0cb") == 1\n'
        '    assert candidate(s = "é") == 2; assert candidate(s = "x") == 3\n'
        '    assert candidate(s = "\u2028") == 4\n'
    )
    assert [t.source for t in tests] == [
        'assert candidate(s = "a\x0cb") == 1',
        'assert candidate(s = "é") == 2',
        'assert candidate(s = "x") == 3',
        'assert candidate(s = "\u2028") == 4',
    ]


def test_a_row_without_query_or_starter_code_shows_the_methods_signature():
    """A v0.2.0 row without `query` gave a prompt that never named the method the tests call."""
    from grpo4codegen.data import chat_messages

    row = by_id(V020, "two-sum")
    del row["query"]
    problem = problem_from_row(row)
    assert problem.starter_code.startswith(
        "class Solution:\n    def twoSum(self, nums: List[int], target: int)"
    )
    assert (
        "def twoSum(self, nums: List[int], target: int) -> List[int]:"
        in chat_messages(problem)[-1]["content"]
    )


def test_tests_whose_keywords_the_prompt_does_not_show_pass_by_position(executor):
    """v0.2.0's `minimum-genetic-mutation` shows `minMutation(self, startGene, endGene, bank)` but its
    tests call `candidate(start=..., end=..., bank=...)` (the reference's names): an answer written to
    the prompt failed every test with a TypeError."""
    row = by_id(V020, "minimum-genetic-mutation")
    problem = problem_from_row(row)
    assert "startGene: str" in problem.starter_code
    assert all(a.name is None for t in problem.tests for a in t.args)
    to_the_prompt = re.sub(
        r"\bstart\b", "startGene", re.sub(r"\bend\b", "endGene", problem.reference_solution)
    )
    assert "def minMutation(self, startGene: str, endGene: str" in to_the_prompt
    for code in (problem.reference_solution, to_the_prompt):
        assert executor.run(problem, code).passed == len(problem.tests)
    # tests that already use the prompt's names are left as they are
    two_sum = problem_from_row(by_id(V020, "two-sum"))
    assert [a.name for a in two_sum.tests[0].args] == ["nums", "target"]


def test_shards_beside_each_other_are_read_together_unless_they_overlap(tmp_path):
    """A directory holding two copies of a release (a file and its .gz), or `datasets`' metadata JSON
    beside the shards: the copies are named in the error, the metadata is not read as rows."""
    rows = real_rows(V031, 4)
    shards = tmp_path / "shards"
    shards.mkdir()
    write_jsonl(shards / "part-0.jsonl", rows[:2])
    write_jsonl(shards / "part-1.jsonl", rows[2:])
    (shards / "dataset_infos.json").write_text(json.dumps({"default": {"features": {}}}))
    (shards / "README.md").write_text("# not data\n")
    assert [p.task_id for p in load_problems(shards)] == [r["task_id"] for r in rows]
    (shards / "part-1.jsonl.gz").write_bytes(gzip.compress((shards / "part-1.jsonl").read_bytes()))
    with pytest.raises(UserError, match=r"is in both .*part-1.jsonl and .*part-1.jsonl.gz"):
        load_problems(shards)
    (tmp_path / "rows.csv").write_text("task_id,test\n")
    with pytest.raises(UserError, match="rows.csv: CSV is not read"):
        load_problems(tmp_path / "rows.csv")


def _reformatted(test: str) -> dict[str, str]:
    """The same asserts as other datasets write them: unparsed, parenthesised over lines with
    comments, expected value first with a message, a line continuation, tabs and CRLF."""
    check = ast.parse(test).body[0]
    assert isinstance(check, ast.FunctionDef)
    wrapped, swapped, continued = [], [], []
    for stmt in check.body:
        assert isinstance(stmt, ast.Assert)
        if isinstance(stmt.test, ast.Compare):
            call, expected = ast.unparse(stmt.test.left), ast.unparse(stmt.test.comparators[0])
            wrapped.append(f"    assert (\n        {call}\n        == {expected}\n    )  # {expected[:10]!r}")
            swapped.append(f"    assert {expected} == {call}, 'message'")
            continued.append(f"    assert {call} \\\n        == {expected}")
        else:
            for lines in (wrapped, swapped, continued):
                lines.append(f"    {ast.unparse(stmt)}  # is_same")
    head = 'def check(candidate):\n    """docstring"""\n'
    return {
        "unparsed": ast.unparse(ast.parse(test)),
        "wrapped": head + "\n".join(wrapped) + "\n",
        "swapped": head + "\n".join(swapped) + "\n",
        "continued": head + "\n".join(continued) + "\n",
        "tabs_crlf": test.replace("\n    ", "\n\t").replace("\n", "\r\n"),
    }


@pytest.mark.parametrize("path", [V031, V020], ids=["v0.3.1", "v0.2.0"])
def test_reformatted_asserts_parse_to_the_same_tests(path):
    rows = real_rows(path, 40)
    for row in rows:
        original, unparsed = parse_check(row["test"])
        assert original and not unparsed
        for name, test in _reformatted(row["test"]).items():
            again, unparsed = parse_check(test)
            assert not unparsed, (row["task_id"], name, unparsed[:1])
            assert [(t.args, t.expected, t.compare) for t in again] == [
                (t.args, t.expected, t.compare) for t in original
            ], (row["task_id"], name)


def test_an_integer_literal_past_the_digit_limit_leaves_its_problem_out(tmp_path, caplog):
    """A test with a 5,000-digit integer is valid Python that `ast.parse` refuses: it aborted loading
    the whole dataset ("test field is not valid Python"); now that one problem is left out, saying so."""
    rows = real_rows(V031, 3)
    rows[1]["test"] = rows[1]["test"].replace(
        "def check(candidate):\n", f"def check(candidate):\n    assert candidate(n = {'9' * 5000}) == 1\n", 1
    )
    problems = load_problems(write_jsonl(tmp_path / "rows.jsonl", rows))
    assert [p.task_id for p in problems] == [rows[0]["task_id"], rows[2]["task_id"]]
    assert "LEFT OUT 1 of 3" in caplog.text and "4300 digits" in caplog.text
