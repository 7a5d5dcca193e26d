"""Rich terminal tables shared by `score` and `report`: models side by side, then by difficulty."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .passk import STANDARD_KS


def fmt(value: Any, percent: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1%}" if percent else f"{value:.3f}"
    return str(value)


def pass_ks(summaries: Mapping[str, Mapping[str, Any]]) -> list[int]:
    """The k values present in any of the summaries."""
    return [k for k in STANDARD_KS if any(f"pass@{k}" in s for s in summaries.values())]


def model_rows(summaries: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Metrics (rows) by model (columns): the side-by-side comparison for terminal, HTML and Markdown."""
    ks = pass_ks(summaries)
    metrics: list[tuple[str, Any]] = [
        ("samples", lambda s: fmt(s["samples"])),
        ("problems", lambda s: fmt(s["problems"])),
        *[(f"pass@{k}", lambda s, k=k: fmt(s.get(f"pass@{k}"), True)) for k in ks],
        ("strict accuracy", lambda s: fmt(s.get("strict_accuracy"), True)),
        ("test-case average", lambda s: fmt(s.get("test_case_average"), True)),
        ("efficiency ratio", lambda s: fmt(s.get("efficiency_ratio"))),
        ("  on problems", lambda s: fmt(s.get("efficiency_problems"))),
        *[
            (f"  {m} ratio", lambda s, m=m: fmt(s.get("efficiency_metrics", {}).get(m)))
            for m in ("time", "memory", "steps", "instructions")
            if any(m in s.get("efficiency_metrics", {}) for s in summaries.values())
        ],
        ("comment", lambda s: fmt(s.get("dimensions", {}).get("comment"))),
        ("maintainability", lambda s: fmt(s.get("dimensions", {}).get("maintainability"))),
        ("reward", lambda s: fmt(s.get("dimensions", {}).get("reward"))),
        ("no code found", lambda s: fmt(s.get("no_code"))),
        ("truncated (length)", lambda s: fmt(s.get("truncated"))),
        ("infra failures", lambda s: fmt(s.get("infra_failures"))),
    ]
    header = ["metric", *summaries]
    return header, [[name, *[cell(s) for s in summaries.values()]] for name, cell in metrics]


def difficulty_rows(summaries: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """pass@1 per difficulty (rows) and model (columns)."""
    levels: list[str] = []
    for s in summaries.values():
        levels += [lv for lv in s.get("by_difficulty", {}) if lv not in levels]
    order = {"Easy": 0, "Medium": 1, "Hard": 2}
    levels.sort(key=lambda lv: (order.get(lv, 3), lv))
    header = ["difficulty", *summaries]
    rows = []
    for level in levels:
        cells = []
        for s in summaries.values():
            g = s.get("by_difficulty", {}).get(level)
            cells.append(f"{fmt(g['pass@1'], True)} ({g['problems']})" if g else "-")
        rows.append([level, *cells])
    return header, rows


def print_summaries(summaries: Mapping[str, Mapping[str, Any]], title: str) -> None:
    """Models side by side, then pass@1 by difficulty, on the terminal."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for caption, (header, rows) in (
        (title, model_rows(summaries)),
        ("pass@1 by difficulty", difficulty_rows(summaries)),
    ):
        table = Table(title=caption)
        for i, column in enumerate(header):
            table.add_column(column, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
