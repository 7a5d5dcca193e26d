"""Score a generations file: one row per (model, task_id, sample) with every reward dimension.

Scoring is resumable and idempotent. Rows are appended as chunks finish; a rerun reuses every row
whose completion and scoring configuration are unchanged (infrastructure failures are retried), and
the file is finally rewritten sorted by key, so scoring twice never duplicates a row.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..data.problems import Problem
from ..errors import UserError
from ..rewards.extract import completion_text
from ..rewards.scorer import CompletionScore, RewardConfig, RewardScorer
from ..sandbox.types import ExecutionResult
from .records import append_row, read_rows, repair, sample_number, write_rows_atomic

Key = tuple[str, str, int]

_VERDICT_LETTERS = {
    "PASSED": "P",
    "WRONG_ANSWER": "W",
    "RUNTIME_ERROR": "R",
    "TIME_LIMIT_EXCEEDED": "T",
    "MEMORY_LIMIT_EXCEEDED": "M",
    "COMPILATION_ERROR": "C",
}


def read_generations(path: str | Path) -> list[dict[str, Any]]:
    """Generation rows with `model` and `sample` filled in (other tools' task_id/completion files work)."""
    rows, _ = read_rows(path)
    if not rows:
        raise UserError(f"{path}: no generations")
    seen: dict[tuple[str, str], int] = defaultdict(int)
    keys: set[Key] = set()
    for number, row in enumerate(rows, start=1):
        if "task_id" not in row or "completion" not in row:
            raise UserError(f"{path}: row {number} needs `task_id` and `completion` fields")
        row["task_id"] = str(row["task_id"])
        row.setdefault("model", Path(path).name.split(".")[0])
        if "sample" not in row:
            row["sample"] = seen[(row["model"], row["task_id"])]
        else:
            row["sample"] = sample_number(row["sample"], f"{path}: row {number}")
        seen[(row["model"], row["task_id"])] += 1
        key = row_key(row)
        if key in keys:
            raise UserError(f"{path}: row {number} repeats (model, task_id, sample) = {key}")
        keys.add(key)
    return rows


def row_key(row: Mapping[str, Any]) -> Key:
    return (str(row["model"]), str(row["task_id"]), int(row["sample"]))


def completion_sha(completion: Any) -> str:
    return hashlib.sha256(json.dumps(completion, sort_keys=True).encode()).hexdigest()[:16]


def scoring_id(config: RewardConfig) -> str:
    """Identifies what a scored row depends on besides the completion (dimensions, weights, judge)."""
    judge = config.judge.model if config.judge else None
    spec = [list(config.reward_dimensions), config.weights(), config.aggregation, judge, config.judge_weight]
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def score_file(
    generations: Sequence[dict[str, Any]],
    problems: Sequence[Problem],
    config: RewardConfig,
    output: str | Path,
    rescore: bool = False,
    chunk_size: int = 64,
    runner: Any = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Score what is not scored yet into `output`; returns every scored row, sorted by key."""
    by_task = {p.task_id: p for p in problems}
    sid = scoring_id(config)
    previous = {row_key(r): r for r in repair(output)}  # the last row of a key wins
    scored: dict[Key, dict[str, Any]] = {}
    todo: list[dict[str, Any]] = []
    for gen in generations:
        old = previous.get(row_key(gen))
        if not rescore and old is not None and _reusable(old, gen, sid):
            scored[row_key(gen)] = old
        else:
            todo.append(gen)
    if todo:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        scorer = RewardScorer(by_task, config, runner=runner)
        from tqdm import tqdm

        with (
            open(output, "a", encoding="utf-8") as handle,
            tqdm(total=len(todo), desc="score", unit="sample", disable=not progress) as bar,
        ):
            for chunk in _chunks(todo, chunk_size):
                task_ids = [g["task_id"] for g in chunk]
                scores = scorer.score(
                    task_ids,
                    [g["completion"] for g in chunk],
                    group_ids=[(g["model"], g["task_id"]) for g in chunk],
                )
                for gen, score in zip(chunk, scores, strict=True):
                    row = scored_row(gen, by_task[gen["task_id"]], score, sid)
                    append_row(handle, row)
                    scored[row_key(gen)] = row
                bar.update(len(chunk))
    rows = [scored[k] for k in sorted(scored)]
    write_rows_atomic(output, rows)
    return rows


def _reusable(old: Mapping[str, Any], gen: Mapping[str, Any], sid: str) -> bool:
    return (
        old.get("completion_sha") == completion_sha(gen["completion"])
        and old.get("scoring") == sid
        and not old.get("infra_failure")
    )


def _chunks(rows: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    """Chunks of about `size` rows that never split one (model, problem) group (group-wise aggregation)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["model"], r["task_id"])].append(r)
    chunks: list[list[dict[str, Any]]] = [[]]
    for members in groups.values():
        if chunks[-1] and len(chunks[-1]) + len(members) > size:
            chunks.append([])
        chunks[-1].extend(members)
    return [c for c in chunks if c]


def scored_row(gen: Mapping[str, Any], problem: Problem, score: CompletionScore, sid: str) -> dict[str, Any]:
    """The scored form of a generation row: dimensions, verdicts, metrics, and what it was scored from."""
    base = score.to_row()
    result = score.execution.result if score.execution else None
    row: dict[str, Any] = {
        "model": gen["model"],
        "task_id": gen["task_id"],
        "sample": gen["sample"],
        "difficulty": problem.difficulty,
        "tags": list(problem.tags),
        **{
            k: base.get(k)
            for k in ("correctness", "correctness_strict", "efficiency", "comment", "maintainability")
        },
        "reward": base.get("reward"),
        "code_found": score.code is not None,
        "infra_failure": score.infra_failure,
        "passed": result.passed if result else 0,
        "total": result.total if result else len(problem.tests),
        "outcomes": base.get("outcomes", {}),
        "verdicts": _verdicts(result),
        "first_error": _first_error(result),
        "efficiency_ratios": base.get("efficiency_ratios", {}),
        "metrics": _metrics(result),
        "finish_reason": gen.get("finish_reason"),
        "completion_chars": len(completion_text(gen["completion"]) or ""),
        "completion_sha": completion_sha(gen["completion"]),
        "scoring": sid,
    }
    if result is not None and result.infra_error:
        row["infra_error"] = result.infra_error
    return row


def _verdicts(result: ExecutionResult | None) -> str:
    """One letter per test (P passed, W wrong, R runtime error, T time, M memory, C compile)."""
    if result is None:
        return ""
    return "".join(_VERDICT_LETTERS.get(t.exec_outcome.value, "?") for t in result.tests)


def _first_error(result: ExecutionResult | None) -> str:
    if result is None:
        return ""
    for t in result.tests:
        if not t.passed:
            return f"{t.exec_outcome.value}: {t.error}"[:300]
    return ""


def _metrics(result: ExecutionResult | None) -> dict[str, float | int | None]:
    """Totals over the tests (peak memory: the largest), None where a metric was not measured."""
    if result is None or not result.tests:
        return {}

    def total(name: str) -> float | None:
        values = [getattr(t, name) for t in result.tests if getattr(t, name) is not None]
        return sum(values) if values else None

    peaks = [t.tracemalloc_peak for t in result.tests if t.tracemalloc_peak is not None]
    return {
        "cpu_time_kernel": result.cpu_time_kernel,
        "peak_memory_kernel": result.peak_memory_kernel,
        "cpu_time": total("cpu_time"),
        "wall_time": total("time_consumed"),
        "peak_memory": max(peaks) if peaks else None,
        "steps": total("steps"),
        "instructions": total("cpu_instruction_count"),
    }
