"""A problem whose tests could not all be parsed is incomplete: a reward from the asserts that were
parsed can pass a wrong answer that the dataset's own check fails. Such problems are left out of
training and scoring (saying so), kept by `data stats`, and reported by `verify-references`."""

from __future__ import annotations

import json
import logging

from grpo4codegen.cli import main
from grpo4codegen.data import load_problems


def _rows(tmp_path):
    """Two built-in rows: the first kept whole, the second with an assert in a loop added (the parser
    reads top-level asserts only), which its reference fails."""
    from importlib import resources

    text = resources.files("grpo4codegen").joinpath("data/builtin/problems.jsonl").read_text("utf-8")
    complete, partial = (json.loads(line) for line in text.splitlines()[:2])
    partial["test"] += "\n    for k in range(2):\n        assert k == 5\n"
    path = tmp_path / "two.jsonl"
    path.write_text(json.dumps(complete) + "\n" + json.dumps(partial) + "\n")
    return path, complete["task_id"], partial["task_id"]


def test_incomplete_problems_are_left_out_saying_so(tmp_path, caplog):
    path, complete, partial = _rows(tmp_path)
    with caplog.at_level(logging.WARNING):
        problems = load_problems(path)
    assert [p.task_id for p in problems] == [complete]
    assert "LEFT OUT 1 of 2 problems" in caplog.text and partial in caplog.text
    kept = load_problems(path, keep_incomplete=True)
    assert [p.task_id for p in kept] == [complete, partial]
    assert "For statement is not an assert" in kept[1].unparsed_tests[0].reason


def test_verify_references_reports_an_incomplete_problem(tmp_path, capsys):
    path, complete, partial = _rows(tmp_path)
    assert main(["verify-references", "--dataset", str(path), "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["problems"] == 2 and summary["all_passed"] == 1 and summary["incomplete"] == 1
    (failure,) = summary["failures"]
    assert failure["task_id"] == partial
    assert failure["first_failure"]["exec_outcome"] == "UNPARSED"
    assert "1 asserts not parsed" in failure["first_failure"]["error"]


def test_data_stats_still_lists_them(tmp_path, capsys):
    path, _, partial = _rows(tmp_path)
    assert main(["data", "stats", "--dataset", str(path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["problems"] == 2 and stats["unparsed_tests"] == 1
    assert stats["unparsed"][0]["task_id"] == partial
