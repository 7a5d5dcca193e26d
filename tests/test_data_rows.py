"""Dataset rows the loader must read as they are meant (seed-like extra keys, JSON arrays, BOMs, line
separators inside strings, mixed-schema parquet) or refuse with a UserError naming the row, the task
and the field (duplicate ids, empty prompts, fields of the wrong type), never a raw traceback."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from grpo4codegen.data import chat_messages, load_problems
from grpo4codegen.data.loader import problem_from_row
from grpo4codegen.data.problems import Problem
from grpo4codegen.data.selection import difficulty_rank, select_problems
from grpo4codegen.data.testparse import parse_check
from grpo4codegen.errors import UserError


def builtin_rows() -> list[dict[str, Any]]:
    """The built-in problems' rows (v0.3.x schema), fresh copies each call."""
    text = resources.files("grpo4codegen.data.builtin").joinpath("problems.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]


ROWS = builtin_rows()


def row(index: int = 0, **changes: Any) -> dict[str, Any]:
    """A built-in row with `changes` applied (a value of `...` deletes the key)."""
    out = copy.deepcopy(ROWS[index])
    for key, value in changes.items():
        if value is ...:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def v020_row(index: int = 0) -> dict[str, Any]:
    """A built-in row in the v0.2.0 schema: metadata under `meta`, no flat fields."""
    r = row(index)
    meta = {
        "question_id": r.pop("question_id"),
        "difficulty": r.pop("difficulty"),
        "question_title": r.pop("problem_description").split(".")[0],
        "lang_code": r.pop("starter_code"),
    }
    for key in ("tags", "estimated_date"):
        r.pop(key)
    return {**r, "meta": meta}


def write_jsonl(path: Path, rows: list[Any], newline: str = "\n", bom: bool = False) -> str:
    text = "".join(json.dumps(r, ensure_ascii=False) + newline for r in rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return str(path)


# -- F5: seed detection ----------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [{"unittests": None}, {"postCodeSegment": ""}, {"preCodeSegment": " "}])
def test_empty_seed_keys_leave_a_leetcodedataset_row_as_it_is(extra):
    r = row(**extra)
    problem = problem_from_row(r)
    assert problem.preamble == r["prompt"] and problem.query == r["query"]
    assert chat_messages(problem)[1]["content"] == r["query"]
    assert len(problem.tests) == len(problem_from_row(row()).tests) and not problem.unparsed_tests


def test_a_query_keeps_a_row_on_the_leetcodedataset_path_even_with_seed_values():
    r = row(unittests=[{"input": '{"x": 1}\n', "output": [{"type": "general", "value": "1"}]}])
    problem = problem_from_row(r)
    assert problem.preamble == r["prompt"] and problem.query == r["query"]


# -- F6: duplicate task ids ------------------------------------------------------------------------
def test_duplicate_task_ids_are_refused_naming_the_id_and_both_rows(tmp_path):
    rows = [row(0), row(1), row(2, task_id=ROWS[0]["task_id"])]
    path = write_jsonl(tmp_path / "dup.jsonl", rows)
    with pytest.raises(UserError, match=rf"{ROWS[0]['task_id']}.*rows 1 and 3"):
        load_problems(path)


# -- F7: no text to ask ----------------------------------------------------------------------------
def test_a_row_without_query_or_description_is_refused_naming_the_task(tmp_path):
    path = write_jsonl(tmp_path / "no_text.jsonl", [row(0), row(1, query=..., problem_description="")])
    with pytest.raises(UserError, match=rf"row 2: task '{ROWS[1]['task_id']}'.*query or problem_description"):
        load_problems(path)
    # a description alone (no query) is enough
    path = write_jsonl(tmp_path / "description_only.jsonl", [row(1, query=...)])
    assert chat_messages(load_problems(path)[0])[1]["content"].startswith(ROWS[1]["problem_description"][:20])


# -- F8: fields of the wrong type ------------------------------------------------------------------
LONG_SUM = "def check(candidate):\n    assert candidate(x=1) == " + "+".join(["1"] * 3000) + "\n"
WRONG_TYPES = {
    "meta_as_text": ({"meta": json.dumps({"question_id": 1})}, "meta"),
    "question_id_text": ({"question_id": "3243a"}, "question_id"),
    "question_id_fraction": ({"question_id": 3243.5}, "question_id"),
    "test_as_list": ({"test": ["assert candidate(x=1) == 1"]}, "test"),
    "test_too_deep": ({"test": LONG_SUM}, "nested too deeply"),
    "difficulty_number": ({"difficulty": 2}, "difficulty"),
    "tags_as_text": ({"tags": "Array, Graph"}, "tags"),
    "tags_not_strings": ({"tags": [1, 2]}, "tags"),
    "entry_point_number": ({"entry_point": 7}, "entry_point"),
}


def test_an_integer_task_id_is_its_text(tmp_path):
    path = write_jsonl(tmp_path / "ids.jsonl", [row(0, task_id=42), row(1)])
    assert load_problems(path)[0].task_id == "42"
    with pytest.raises(UserError, match="task_id must be text or an integer"):
        load_problems(write_jsonl(tmp_path / "bad.jsonl", [row(0, task_id=["a"])]))


@pytest.mark.parametrize("changes, field", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_fields_of_the_wrong_type_are_user_errors_naming_task_and_field(tmp_path, changes, field):
    task_id = ROWS[1]["task_id"]
    path = write_jsonl(tmp_path / "typed.jsonl", [row(0), row(1, **changes)])
    with pytest.raises(UserError, match=rf"row 2: task '{task_id}'.*{field}"):
        load_problems(path)


def test_meta_fields_of_the_wrong_type_are_named():
    r = v020_row()
    r["meta"]["difficulty"] = 3
    with pytest.raises(UserError, match=r"meta\.difficulty"):
        problem_from_row(r)


def test_integral_question_ids_are_read_as_numbers():
    assert problem_from_row(row(question_id="42")).question_id == 42
    assert problem_from_row(row(question_id=42.0)).question_id == 42
    assert problem_from_row(row(question_id=0)).question_id == 0


def test_the_parser_turns_a_too_deep_test_into_a_value_error():
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_check(LONG_SUM)
    with pytest.raises(ValueError, match="must be a string"):
        parse_check(["assert candidate() == 1"])  # type: ignore[arg-type]


def test_selection_takes_a_difficulty_that_is_not_text():
    odd = Problem(task_id="odd", entry_point="Solution().f", preamble="", tests=[], difficulty=2)  # type: ignore[arg-type]
    easy = Problem(task_id="easy", entry_point="Solution().f", preamble="", tests=[], difficulty="Easy")
    assert [p.task_id for p in select_problems([odd, easy], difficulties=["easy"])] == ["easy"]
    assert [p.task_id for p in select_problems([odd, easy], curriculum=True)] == ["easy", "odd"]
    assert difficulty_rank(odd) == 3


# -- F9, F10: how the file is written --------------------------------------------------------------
def test_line_separators_inside_strings_do_not_split_rows(tmp_path):
    odd = "first\u2028second\u2029third\u0085fourth"
    rows = [row(0, problem_description=odd), row(1), row(2)]
    path = write_jsonl(tmp_path / "separators.jsonl", rows)
    loaded = load_problems(path)
    assert [p.task_id for p in loaded] == [r["task_id"] for r in rows]
    assert loaded[0].description == odd


def test_crlf_lines_and_a_byte_order_mark_are_read(tmp_path):
    rows = [row(0), row(1)]
    for name, newline, bom in [("crlf.jsonl", "\r\n", False), ("bom.jsonl", "\n", True)]:
        path = write_jsonl(tmp_path / name, rows, newline=newline, bom=bom)
        assert [p.task_id for p in load_problems(path)] == [r["task_id"] for r in rows], name


def test_a_json_file_may_hold_an_array_of_rows_or_json_lines(tmp_path):
    rows = [row(0), row(1), row(2)]
    ids = [r["task_id"] for r in rows]
    pretty = tmp_path / "array.json"
    pretty.write_text(json.dumps(rows, indent=2, ensure_ascii=False), "utf-8")
    one_line = tmp_path / "one_line.json"
    one_line.write_bytes(b"\xef\xbb\xbf" + json.dumps(rows).encode())
    lines = write_jsonl(tmp_path / "lines.json", rows)
    for path in (pretty, one_line, lines):
        assert [p.task_id for p in load_problems(str(path))] == ids, path.name
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"data": rows}), "utf-8")
    with pytest.raises(UserError, match="one JSON object"):
        load_problems(str(wrapped))


# -- F12: v0.2.0 rows in a mixed-schema parquet ----------------------------------------------------
def test_a_null_question_id_falls_back_to_meta():
    r = v020_row()
    assert problem_from_row({**r, "question_id": None}).question_id == r["meta"]["question_id"]
    assert problem_from_row({**r, "question_id": 0}).question_id == 0


def test_mixed_schema_parquet_keeps_the_v020_question_ids(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [row(0), v020_row(1)]
    path = tmp_path / "mixed.parquet"
    schema = pa.unify_schemas([pa.Table.from_pylist([r]).schema for r in rows])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)  # absent columns become nulls
    loaded = load_problems(str(path))
    assert [p.question_id for p in loaded] == [ROWS[0]["question_id"], ROWS[1]["question_id"]]
    assert loaded[1].difficulty == ROWS[1]["difficulty"] and loaded[0].tags == ROWS[0]["tags"]
