"""`grpo4codegen report`: compare scored runs in one self-contained HTML page and a Markdown summary.

Metrics are recomputed from the scored rows (not read from per-run summaries), so efficiency is
measured on the problems every compared model solved, whichever files they came from.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import UserError
from . import plots
from .records import read_rows, sample_number, write_text_atomic
from .summary import (
    RATIO_METRICS,
    by_model,
    common_solved,
    efficiency_samples,
    is_solved,
    is_valid,
    model_summary,
)
from .tables import difficulty_rows, model_rows, print_summaries

log = logging.getLogger(__name__)
Rows = dict[str, list[dict[str, Any]]]
_LEVELS = {"Easy": 0, "Medium": 1, "Hard": 2}


def load_runs(paths: Sequence[str | Path]) -> Rows:
    """Scored rows per model label; a model name seen in two files gets the file name appended (then
    the path, then a number, so that no run hides another). A (model, task_id, sample) that appears
    twice in a file (an interrupted re-score appends before it rewrites; files concatenated) counts
    once, its last row winning, as `score` reads it."""
    runs: Rows = {}
    for path in paths:
        rows, _ = read_rows(path)
        if not rows:
            raise UserError(f"{path}: no scored rows (run `grpo4codegen score` first)")
        if "correctness" not in rows[0] and "infra_failure" not in rows[0]:
            raise UserError(f"{path}: not a scored file (no correctness field)")
        latest: dict[tuple[str, str, Any], dict[str, Any]] = {}
        for number, row in enumerate(rows, start=1):
            _check_row(path, number, row)
            sample = row.get("sample")
            key = (row["model"], row["task_id"], ("line", number) if sample is None else sample)
            latest.pop(key, None)  # the last row of a key wins, in the place of its last appearance
            latest[key] = row
        if len(latest) < len(rows):
            log.warning("%s: %d repeated (model, task_id, sample) rows; the last of each counts",
                        path, len(rows) - len(latest))  # fmt: skip
        for model, model_rows_ in by_model(latest.values()).items():
            label = model
            for candidate in (f"{model} ({Path(path).name})", f"{model} ({path})"):
                if label in runs:
                    label = candidate
            number = 2
            while label in runs:
                label, number = f"{model} ({path}, {number})", number + 1
            runs[label] = model_rows_
    return runs


_NUMBERS = ("correctness", "correctness_strict", "efficiency", "comment", "maintainability", "reward")


def _check_row(path: str | Path, number: int, row: dict[str, Any]) -> None:
    """What the metrics read of a scored row, checked (UserError naming the line) and normalised:
    `task_id`, `model` and `difficulty` as text, numbers as numbers, ratios as a mapping."""
    where = f"{path}: line {number}"
    if row.get("task_id") is None:
        raise UserError(f"{where}: no task_id")
    row["task_id"] = str(row["task_id"])
    row["model"] = str(row.get("model", "unknown"))
    if row.get("sample") is not None:  # (absent or null: the row is a sample of its own)
        row["sample"] = sample_number(row["sample"], where)
    if row.get("difficulty") is not None:
        row["difficulty"] = str(row["difficulty"])
    for name in _NUMBERS:
        value = row.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise UserError(f"{where}: {name} must be a number or null, not {value!r:.50}")
    if row.get("correctness") is not None and row.get("correctness_strict") is None:
        raise UserError(f"{where}: a scored row (correctness set) needs correctness_strict")
    ratios = row.get("efficiency_ratios")
    if ratios is not None and not (
        isinstance(ratios, dict)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in ratios.values())
    ):
        raise UserError(f"{where}: efficiency_ratios must map metrics to numbers")
    if not isinstance(row.get("tags") or [], list):
        raise UserError(f"{where}: tags must be a list")
    if not isinstance(row.get("infra_failure", False), (bool, type(None))):
        raise UserError(f"{where}: infra_failure must be true or false")


def per_problem(runs: Rows) -> list[dict[str, Any]]:
    """For each problem: difficulty and, per model, (solved samples, valid samples)."""
    table: dict[str, dict[str, Any]] = {}
    for label, rows in runs.items():
        for r in rows:
            entry = table.setdefault(
                str(r["task_id"]),
                {"task_id": str(r["task_id"]), "difficulty": r.get("difficulty"), "models": {}},
            )
            c, n = entry["models"].get(label, (0, 0))
            entry["models"][label] = (c + int(is_solved(r)), n + int(is_valid(r)))
    return sorted(table.values(), key=lambda e: (_LEVELS.get(e["difficulty"] or "", 3), e["task_id"]))


def problem_set_warning(runs: Rows) -> str:
    """Pass rates over different problem sets are not comparable: say so when the runs differ."""
    sets = {label: {str(r["task_id"]) for r in rows} for label, rows in runs.items()}
    shared = set.intersection(*sets.values()) if sets else set()
    if all(s == shared for s in sets.values()):
        return ""
    sizes = ", ".join(f"{label}: {len(s)}" for label, s in sets.items())
    return f"the runs cover different problems ({sizes}; {len(shared)} shared): their pass rates measure different work"


def write_report(
    paths: Sequence[str | Path], output_dir: str | Path, title: str = "Evaluation", progress: bool = True
) -> list[Path]:
    """Write report.html, report.md, summary.json and the plots; print the model table; return the paths."""
    from tqdm import tqdm

    runs = load_runs(paths)
    common = common_solved(runs)
    summaries = {label: model_summary(rows, common) for label, rows in runs.items()}
    figures: dict[str, Callable[[], bytes]] = {
        "pass_at_k": lambda: plots.pass_at_k_plot(summaries),
        "pass_by_difficulty": lambda: plots.difficulty_plot(summaries),
        "efficiency": lambda: plots.efficiency_plot(
            {
                panel: {m: efficiency_samples(r, common, metric) for m, r in runs.items()}
                for panel, metric in (("combined", None), *((m, m) for m in RATIO_METRICS))
            },
            len(common),
        ),
        "dimensions": lambda: plots.dimensions_plot(summaries),
    }
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    images: dict[str, bytes] = {}
    for name, draw in tqdm(figures.items(), desc="report plots", unit="plot", disable=not progress):
        images[name] = draw()
        (out / f"{name}.png").write_bytes(images[name])
    problems = per_problem(runs)
    meta = {
        "title": title,
        "files": [str(p) for p in paths],
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "common": len(common),
        "warning": problem_set_warning(runs),
    }
    html_path, md_path, json_path = out / "report.html", out / "report.md", out / "summary.json"
    write_text_atomic(html_path, render_html(meta, summaries, images, problems))
    write_text_atomic(md_path, render_markdown(meta, summaries, list(images), problems))
    write_text_atomic(
        json_path, json.dumps({"common_solved_problems": len(common), "models": summaries}, indent=2) + "\n"
    )
    print_summaries(summaries, f"{title} ({len(common)} problems solved by every model)")
    return [html_path, md_path, json_path]


# -- HTML ------------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f3f3f3}
.all{background:#c8e6c9}.some{background:#fff9c4}.none{background:#ffcdd2}.missing{background:#eee;color:#888}
.plots img{max-width:48%;margin:.5%;border:1px solid #ddd}
.note{color:#555;font-size:.9rem}
.warn{background:#fff3e0;border-left:4px solid #ef6c00;padding:.5rem}
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell_class(c: int, n: int) -> str:
    if n == 0:
        return "missing"
    return "all" if c == n else "some" if c else "none"


def _problem_table(labels: Sequence[str], problems: Sequence[Mapping[str, Any]]) -> str:
    head = "".join(f"<th>{html.escape(x)}</th>" for x in ["problem", "difficulty", *labels])
    body = []
    for p in problems:
        cells = []
        for label in labels:
            c, n = p["models"].get(label, (0, 0))
            cells.append(f'<td class="{_cell_class(c, n)}">{c}/{n}</td>')
        body.append(
            f"<tr><td>{html.escape(p['task_id'])}</td><td>{html.escape(p['difficulty'] or '-')}</td>{''.join(cells)}</tr>"
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def solved_counts(labels: Sequence[str], problems: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How many problems every model, no model, and only one model solved."""
    solved = {p["task_id"]: {m for m in labels if p["models"].get(m, (0, 0))[0]} for p in problems}
    return {
        "all": sum(1 for s in solved.values() if len(s) == len(labels)),
        "none": sum(1 for s in solved.values() if not s),
        "only": {m: sorted(t for t, s in solved.items() if s == {m}) for m in labels}
        if len(labels) > 1
        else {},
    }


def render_html(
    meta: Mapping[str, Any],
    summaries: Mapping[str, Any],
    images: Mapping[str, bytes],
    problems: Sequence[Mapping[str, Any]],
) -> str:
    """One page, no external resources: CSS inline, plots as data: URIs, no scripts."""
    labels = list(summaries)
    counts = solved_counts(labels, problems)
    imgs = "".join(
        f'<img alt="{html.escape(n)}" src="data:image/png;base64,{base64.b64encode(b).decode()}">'
        for n, b in images.items()
    )
    only = "".join(
        f"<li>{html.escape(m)}: {html.escape(', '.join(ts) or 'none')}</li>"
        for m, ts in counts["only"].items()
    )
    files = "".join(f"<li><code>{html.escape(f)}</code></li>" for f in meta["files"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(meta["title"])}</title><style>{_CSS}</style></head>
<body>
<h1>{html.escape(meta["title"])}</h1>
<p class="note">Created {html.escape(meta["created"])} from:</p><ul class="note">{files}</ul>
<h2>Models</h2>
{_table(*model_rows(summaries))}
<p class="note">pass@k: unbiased estimator over each model's samples. Efficiency: mean ratio reference/candidate
(1 = as efficient as the reference) on the {meta["common"]} problems every model solved. Infrastructure failures are
excluded from every metric.</p>
{f'<p class="warn">{html.escape(meta["warning"])}</p>' if meta["warning"] else ""}
<h2>Plots</h2>
<div class="plots">{imgs}</div>
<h2>pass@1 by difficulty</h2>
{_table(*difficulty_rows(summaries))}
<h2>Per problem</h2>
<p>Solved by every model: {counts["all"]}; by none: {counts["none"]}. Cells: samples passing all tests / valid samples.</p>
<ul>{only}</ul>
{_problem_table(labels, problems)}
</body></html>
"""


# -- Markdown --------------------------------------------------------------------------------------
_MD_SPECIAL = frozenset("\\`*_[]<>|&!#$~:")


def _md(text: Any) -> str:
    """Text from the rows (task ids, model names, difficulties, file names, the title) as literal
    Markdown: one line, and no link (autolinked URLs included), image, raw HTML, emphasis or math,
    whatever it holds (a task id `[x](javascript:...)` or `<img onerror=...>` must not become one in
    a previewer)."""
    flat = " ".join(str(text).splitlines())
    return "".join(f"\\{c}" if c in _MD_SPECIAL else c for c in flat)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(_md(h) for h in header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(
    meta: Mapping[str, Any],
    summaries: Mapping[str, Any],
    images: Sequence[str],
    problems: Sequence[Mapping[str, Any]],
) -> str:
    """The summary tables, the plots (as files beside it), and the problems where models disagree."""
    labels = list(summaries)
    counts = solved_counts(labels, problems)
    disagree = [p for p in problems if len({bool(p["models"].get(m, (0, 0))[0]) for m in labels}) > 1]
    rows = [
        [p["task_id"], p["difficulty"] or "-", *["{}/{}".format(*p["models"].get(m, (0, 0))) for m in labels]]
        for p in disagree
    ]
    parts = [
        f"# {_md(meta['title'])}",
        f"Created {meta['created']} from " + ", ".join(_md(f) for f in meta["files"]) + ".",
        "## Models",
        _md_table(*model_rows(summaries)),
        f"Efficiency: mean reference/candidate ratio on the {meta['common']} problems every model solved.",
        f"**Warning:** {_md(meta['warning'])}" if meta["warning"] else "",
        "## pass@1 by difficulty",
        _md_table(*difficulty_rows(summaries)),
        "## Plots",
        "\n".join(f"![{n}]({n}.png)" for n in images),
        "## Per problem",
        f"Solved by every model: {counts['all']}; by none: {counts['none']}.",
        "\n".join(f"- only {_md(m)}: {_md(', '.join(ts) or 'none')}" for m, ts in counts["only"].items()),
    ]
    if len(labels) > 1:
        parts += [
            f"Problems where the models disagree ({len(disagree)}):",
            _md_table(["problem", "difficulty", *labels], rows) if rows else "none",
        ]
    return "\n\n".join(p for p in parts if p) + "\n"
