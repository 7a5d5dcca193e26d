"""Scoring and reporting against hostile candidates and odd records: a candidate's text cannot crash
`score`, an interrupted write cannot crash a resume, repeated or malformed rows are neither counted twice
nor silently misread, and nothing a row holds becomes markup in the HTML or Markdown report."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from grpo4codegen.data import load_problems
from grpo4codegen.errors import UserError
from grpo4codegen.evaluation.passk import mean_pass_at_k, pass_at_k
from grpo4codegen.evaluation.records import append_row, read_rows, repair, write_rows_atomic
from grpo4codegen.evaluation.report import load_runs, write_report
from grpo4codegen.evaluation.score import read_generations, score_file
from grpo4codegen.rewards.scorer import RewardConfig
from grpo4codegen.sandbox.types import ExecOutcome, ExecutionResult, TestResult

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "a\n# b\n<b>c",
]


def _scored(model: str, task: str, sample: int, strict: float, **extra: Any) -> dict[str, Any]:
    row = {"model": model, "task_id": task, "sample": sample, "difficulty": "Easy", "tags": ["Array"],
           "correctness": strict, "correctness_strict": strict, "efficiency": 0.5 * strict,
           "efficiency_ratios": {"time": 0.5} if strict else {}, "reward": strict, "infra_failure": False}  # fmt: skip
    return {**row, **extra}


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _report(paths: list[Path], out: Path, title: str = "t") -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        write_report(paths, out, title=title, progress=False)


class SurrogateRunner:
    """Every test fails with an error text holding a lone surrogate, as a candidate's
    `raise ValueError(chr(0xD800))` reaches the scorer when the executor passes the text on."""

    def run_many(self, submissions: list[Any]) -> list[ExecutionResult]:
        error = TestResult(ExecOutcome.RUNTIME_ERROR, error="ValueError: \ud800")
        return [ExecutionResult(tests=[error] * len(s.problem.tests)) for s in submissions]


@pytest.mark.parametrize("runner", ["stub", "executor"])
def test_a_candidate_error_with_a_lone_surrogate_is_scored_not_a_crash(
    tmp_path: Path, runner: str, request: pytest.FixtureRequest
) -> None:
    # before: UnicodeEncodeError in append_row stopped `score` for the whole file, at every rerun
    problem = next(p for p in load_problems("builtin") if p.task_id == "pair-sum-count")
    body = "class Solution:\n    def countPairs(self, nums, target):\n        raise ValueError(chr(0xD800))\n"
    gens = [{"model": "m", "task_id": problem.task_id, "sample": 0, "completion": f"```python\n{body}```"}]
    out = tmp_path / "s.jsonl"
    run = SurrogateRunner() if runner == "stub" else request.getfixturevalue("executor")
    rows = score_file(gens, [problem], RewardConfig(), out, runner=run, progress=False)
    assert rows[0]["first_error"] in ("RUNTIME_ERROR: ValueError: \ud800", "RUNTIME_ERROR: ValueError: ?")
    assert not rows[0]["infra_failure"] and rows[0]["correctness"] == 0.0
    assert read_rows(out)[0] == rows
    again = score_file(gens, [problem], RewardConfig(), out, runner=run, progress=False)
    assert again == rows  # reused, not rescored


def test_rows_with_lone_surrogates_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        append_row(handle, {"e": "x\udc80y", "t": "中文"})
    write_rows_atomic(tmp_path / "w.jsonl", [{"e": "\ud800"}, {"t": "中文"}])
    assert read_rows(path)[0] == [{"e": "x\udc80y", "t": "中文"}]
    assert read_rows(tmp_path / "w.jsonl")[0] == [{"e": "\ud800"}, {"t": "中文"}]
    assert "中文" in (tmp_path / "w.jsonl").read_text("utf-8")  # ordinary text stays readable


def test_a_write_cut_inside_a_character_is_a_truncated_line(tmp_path: Path) -> None:
    # before: UnicodeDecodeError when resuming `generate` or `score` after an interrupted write
    path = tmp_path / "g.jsonl"
    whole = json.dumps({"a": 1}) + "\n" + json.dumps({"b": "中文"}, ensure_ascii=False)
    path.write_bytes(whole.encode()[:-4])  # the last line ends inside a character
    assert read_rows(path) == ([{"a": 1}], True)
    assert repair(path) == [{"a": 1}] and path.read_text() == '{"a": 1}\n'
    path.write_bytes(b'{"a": 1}\n\xff\xfe\n{"b": 2}\n')
    with pytest.raises(UserError, match="line 2 is not valid UTF-8"):
        read_rows(path)


def test_repeated_rows_count_once_the_last_winning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # an interrupted re-score leaves the old and new row of a key; before, both were counted
    rows = [_scored("m", "p1", 0, 0.0), _scored("m", "p1", 1, 0.0), _scored("m", "p1", 0, 1.0)]
    path = _write(tmp_path / "a.scored.jsonl", rows)
    with caplog.at_level(logging.WARNING):
        runs = load_runs([path])
    assert "1 repeated" in caplog.text
    assert [(r["sample"], r["correctness_strict"]) for r in runs["m"]] == [(1, 0.0), (0, 1.0)]
    _report([path], tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["models"]["m"]["samples"] == 2 and summary["models"]["m"]["pass@1"] == 0.5


def test_runs_of_one_model_in_same_named_files_are_all_kept(tmp_path: Path) -> None:
    # before: the third run took the second's label and replaced it without a word
    paths = [_write(tmp_path / run / "m.scored.jsonl", [_scored("m", "p", 0, s)]) for run, s in
             (("r1", 1.0), ("r2", 0.0), ("r3", 1.0))]  # fmt: skip
    runs = load_runs(paths)
    assert len(runs) == 3 and [r[0]["correctness"] for r in runs.values()] == [1.0, 0.0, 1.0]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"task_id": None}, "no task_id"),
        ({"correctness": "1"}, "correctness must be a number"),
        ({"efficiency": "fast"}, "efficiency must be a number"),
        ({"correctness_strict": None}, "needs correctness_strict"),
        ({"efficiency_ratios": [0.5]}, "efficiency_ratios"),
        ({"tags": "Array"}, "tags must be a list"),
        ({"infra_failure": "false"}, "infra_failure"),
    ],
)
def test_malformed_scored_rows_are_named_not_a_traceback(tmp_path: Path, change: dict, message: str) -> None:
    rows = [_scored("m", "p1", 0, 1.0), _scored("m", "p2", 0, 1.0, **change)]
    path = _write(tmp_path / "a.scored.jsonl", rows)
    with pytest.raises(UserError, match=rf"line 2: .*{message}"):
        load_runs([path])


def test_odd_but_readable_values_do_not_break_the_report(tmp_path: Path) -> None:
    rows = [
        _scored("m$\\frac{$", "p1", 0, 1.0, difficulty=3),  # broken TeX in a name; a numeric difficulty
        _scored("m$\\frac{$", "p2", 0, 0.0, difficulty=["x"]),
        _scored("m$\\frac{$", 7, 0, 1.0),
        _scored("m$\\frac{$", "p\ud800", 0, 1.0),
    ]
    _report([_write(tmp_path / "a.scored.jsonl", rows)], tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text()
    assert "m$\\frac{$" in page and "<td>3</td>" in page and "p\\ud800" in page


def test_row_text_never_becomes_markup_in_the_html_or_markdown(tmp_path: Path) -> None:
    a = [_scored(XSS[1], t, 0, 1.0, difficulty=XSS[0]) for t in XSS]
    b = [_scored(XSS[2], XSS[0], 0, 0.0), _scored(XSS[3], "p", 0, 1.0)]
    out = tmp_path / "out"
    _report(
        [_write(tmp_path / XSS[0].replace("/", "_") / "a.jsonl", a), _write(tmp_path / "b.jsonl", b)],
        out,
        XSS[0],
    )
    page = (out / "report.html").read_text()
    assert "<script" not in page and "<img src=x" not in page and "<b>" not in page
    markdown = (out / "report.md").read_text()
    rendered = MarkdownIt("commonmark").enable("table").render(markdown)
    assert "<script" not in rendered and "<img src=x" not in rendered and "<b>" not in rendered
    assert 'href="javascript' not in rendered and "<a " not in rendered
    assert "<h1>b" not in rendered  # a newline in a task id starts no heading
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered  # shown, as text


def test_scored_samples_read_as_integers_and_null_samples_stay_apart(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.scored.jsonl", [_scored("m", "p1", 0, 1.0), _scored("m", "p2", [0], 1.0)])
    with pytest.raises(UserError, match="line 2: sample must be an integer"):
        load_runs([bad])
    rows = [_scored("m", "p1", "0", 1.0), _scored("m", "p1", 0, 0.0)]  # the same sample: the last wins
    rows += [_scored("m", "p2", None, 1.0), _scored("m", "p2", None, 0.0)]  # no number: two samples
    runs = load_runs([_write(tmp_path / "a.scored.jsonl", rows)])
    kept = sorted((r["task_id"], r["correctness"]) for r in runs["m"])
    assert kept == [("p1", 0.0), ("p2", 0.0), ("p2", 1.0)]


def test_a_url_in_row_text_is_not_autolinked_in_the_markdown(tmp_path: Path) -> None:
    rows = [
        _scored("https://evil.example/x", "p1", 0, 1.0),
        _scored("https://evil.example/x", "$x^2$ ~~s~~", 0, 1.0),
    ]
    out = tmp_path / "out"
    _report([_write(tmp_path / "a.scored.jsonl", rows)], out)
    markdown = (out / "report.md").read_text()
    assert "https://" not in markdown  # GitHub autolinks a bare URL; an escaped colon breaks it
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    assert "<a " not in rendered and "<s>" not in rendered and "<del>" not in rendered


def test_generation_samples_must_be_integers(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    _write(path, [{"task_id": "t", "completion": "x", "sample": "3"}])
    assert read_generations(path)[0]["sample"] == 3
    _write(path, [{"task_id": "t", "completion": "x", "sample": "first"}])
    with pytest.raises(UserError, match="row 1: sample must be an integer"):
        read_generations(path)


def test_pass_at_k_edges() -> None:
    assert pass_at_k(5, 0, 5) == 0.0 and pass_at_k(5, 1, 5) == 1.0 and pass_at_k(1, 1, 1) == 1.0
    for n, c, k in ((3, 4, 1), (3, 1, 4), (3, 1, 0), (0, 0, 1)):
        with pytest.raises(ValueError):
            pass_at_k(n, c, k)
    # k above some problem's sample count is not reported at all, rather than estimated with bias
    assert set(mean_pass_at_k([(10, 3), (2, 1)])) == {1, 2}
    assert mean_pass_at_k([]) == {}
