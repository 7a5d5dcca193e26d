"""Metrics over scored rows: pass@k, strict accuracy, test-case average, efficiency, static scores.

Rows whose execution failed for infrastructure reasons say nothing about the model: they are
counted apart and left out of every metric. Efficiency is only comparable on the same work, so it is
measured on the problems every compared model solved (at least one sample passing all tests),
averaging each model's passing samples per problem, then over problems.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .passk import mean_pass_at_k

Row = Mapping[str, Any]

#: per-sample dimension means reported for every model
DIMENSION_KEYS = ("correctness", "correctness_strict", "efficiency", "comment", "maintainability", "reward")
#: efficiency ratio metrics, as the rewards compute them
RATIO_METRICS = ("time", "memory", "steps", "instructions")


def is_valid(row: Row) -> bool:
    """A row that measured the model: executed without an infrastructure failure, with tests to run."""
    return not row.get("infra_failure") and row.get("correctness") is not None


def is_solved(row: Row) -> bool:
    return is_valid(row) and row.get("correctness_strict") == 1


def by_model(rows: Iterable[Row]) -> dict[str, list[Row]]:
    """Rows grouped by their `model` field, in order of first appearance."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[str(row.get("model", "unknown"))].append(row)
    return dict(groups)


def solved_problems(rows: Iterable[Row]) -> set[str]:
    """Problems with at least one sample passing every test."""
    return {str(r["task_id"]) for r in rows if is_solved(r)}


def common_solved(groups: Mapping[str, Sequence[Row]]) -> set[str]:
    """Problems every model solved: where efficiency compares like with like."""
    sets = [solved_problems(rows) for rows in groups.values()]
    return set.intersection(*sets) if sets else set()


def problem_counts(rows: Iterable[Row]) -> dict[str, tuple[int, int]]:
    """(valid samples, solved samples) per problem."""
    n: Counter[str] = Counter()
    c: Counter[str] = Counter()
    for r in rows:
        if is_valid(r):
            n[str(r["task_id"])] += 1
            c[str(r["task_id"])] += int(is_solved(r))
    return {t: (n[t], c[t]) for t in n}


def efficiency_on(rows: Iterable[Row], problems: set[str]) -> dict[str, Any]:
    """Mean efficiency ratio (and per-metric ratios) over `problems`, from the passing samples only."""
    per_problem: dict[str, list[float]] = defaultdict(list)
    per_metric: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        task = str(r["task_id"])
        if task not in problems or not is_solved(r) or r.get("efficiency") is None:
            continue
        per_problem[task].append(float(r["efficiency"]))
        for metric, value in (r.get("efficiency_ratios") or {}).items():
            per_metric[metric][task].append(float(value))
    ratio = _mean([statistics.fmean(v) for v in per_problem.values()])
    metrics = {
        m: _mean([statistics.fmean(v) for v in per_metric[m].values()])
        for m in RATIO_METRICS
        if per_metric.get(m)
    }
    return {"efficiency_ratio": ratio, "efficiency_problems": len(per_problem), "efficiency_metrics": metrics}


def efficiency_samples(rows: Iterable[Row], problems: set[str], metric: str | None = None) -> list[float]:
    """Each passing sample's efficiency ratio on `problems` (or one metric's ratio), for distribution plots."""
    values = []
    for r in rows:
        if str(r["task_id"]) not in problems or not is_solved(r):
            continue
        value = r.get("efficiency") if metric is None else (r.get("efficiency_ratios") or {}).get(metric)
        if value is not None:
            values.append(float(value))
    return values


def model_summary(rows: Sequence[Row], common: set[str] | None = None) -> dict[str, Any]:
    """Every metric of one model; efficiency on `common` (default: the problems this model solved)."""
    valid = [r for r in rows if is_valid(r)]
    counts = problem_counts(rows)
    out: dict[str, Any] = {
        "samples": len(rows),
        "problems": len({str(r["task_id"]) for r in rows}),
        "scored_problems": len(counts),
        "samples_per_problem": _spread([n for n, _ in counts.values()]),
    }
    out.update({f"pass@{k}": v for k, v in mean_pass_at_k(list(counts.values())).items()})
    out["strict_accuracy"] = _mean([float(r["correctness_strict"]) for r in valid])
    out["test_case_average"] = _mean([float(r["correctness"]) for r in valid])
    out["solved_problems"] = len(solved_problems(rows))
    out.update(efficiency_on(rows, solved_problems(rows) if common is None else common))
    out["dimensions"] = {
        d: _mean([float(r[d]) for r in valid if r.get(d) is not None]) for d in DIMENSION_KEYS
    }
    out["infra_failures"] = sum(1 for r in rows if r.get("infra_failure"))
    out["unscorable"] = sum(1 for r in rows if not r.get("infra_failure") and r.get("correctness") is None)
    out["no_code"] = sum(1 for r in rows if r.get("code_found") is False)
    out["truncated"] = sum(1 for r in rows if r.get("finish_reason") == "length")
    out["by_difficulty"] = _grouped(rows, lambda r: [str(r.get("difficulty") or "unknown")])
    out["by_tag"] = _grouped(rows, lambda r: list(r.get("tags") or []) or ["untagged"])
    return out


def summarise(rows: Sequence[Row]) -> dict[str, Any]:
    """The summary of a scored file: per model, plus top-level figures (one model: its own)."""
    groups = by_model(rows)
    common = common_solved(groups)
    models = {m: model_summary(r, common) for m, r in groups.items()}
    if len(models) == 1:
        ((name, only),) = models.items()
        top = {"model": name, **only}
    else:
        top = {
            "samples": len(rows),
            "problems": len({str(r["task_id"]) for r in rows}),
            "infra_failures": sum(s["infra_failures"] for s in models.values()),
        }
        for key in ("pass@1", "strict_accuracy", "test_case_average", "efficiency_ratio"):
            top[key] = _mean([s[key] for s in models.values() if s.get(key) is not None])
    top["common_solved_problems"] = len(common)
    top["models"] = models
    return top


def _grouped(rows: Sequence[Row], keys_of: Any) -> dict[str, dict[str, Any]]:
    """pass@1, strict accuracy and test-case average per group (a row may belong to several, e.g. tags)."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        for key in keys_of(r):
            groups[key].append(r)
    out = {}
    for key, members in sorted(groups.items(), key=lambda kv: (-len({r["task_id"] for r in kv[1]}), kv[0])):
        valid = [r for r in members if is_valid(r)]
        counts = problem_counts(members)
        out[key] = {
            "problems": len({str(r["task_id"]) for r in members}),
            "samples": len(members),
            "pass@1": mean_pass_at_k(list(counts.values()), [1]).get(1),
            "strict_accuracy": _mean([float(r["correctness_strict"]) for r in valid]),
            "test_case_average": _mean([float(r["correctness"]) for r in valid]),
        }
    return out


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _spread(values: Sequence[int]) -> dict[str, int]:
    return {"min": min(values), "max": max(values)} if values else {"min": 0, "max": 0}
