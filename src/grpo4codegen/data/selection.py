"""Filters, deterministic sampling and curriculum order over a list of problems."""

from __future__ import annotations

import random
from collections.abc import Sequence

from ..errors import UserError
from .problems import Problem

DIFFICULTY_RANK = {"easy": 0, "medium": 1, "hard": 2}


def select_problems(
    problems: Sequence[Problem],
    difficulties: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    task_ids: Sequence[str] | None = None,
    sample: int | None = None,
    seed: int = 0,
    curriculum: bool = False,
) -> list[Problem]:
    """Filter (difficulty, any-of tags, ISO date range, ids), then sample, then optionally order easy->hard.

    Sampling is deterministic for a seed; curriculum ordering is stable (ties keep dataset order).
    """
    out = list(problems)
    if difficulties:
        wanted = {d.lower() for d in difficulties}
        unknown = wanted - set(DIFFICULTY_RANK)
        if unknown:
            raise UserError(f"unknown difficulty {sorted(unknown)}; use Easy, Medium or Hard")
        out = [p for p in out if difficulty_name(p) in wanted]
    if tags:
        wanted_tags = {t.lower() for t in tags}
        out = [p for p in out if wanted_tags & {str(t).lower() for t in p.tags}]
    if date_from:
        out = [p for p in out if p.date and p.date >= date_from]
    if date_to:
        out = [p for p in out if p.date and p.date <= date_to]
    if task_ids:
        by_id = {p.task_id: p for p in out}
        missing = [t for t in task_ids if t not in by_id]
        if missing:
            raise UserError(f"unknown task_id(s): {', '.join(missing[:5])}")
        out = [by_id[t] for t in task_ids]
    if sample is not None and sample < len(out):
        rng = random.Random(seed)
        keep = sorted(rng.sample(range(len(out)), sample))
        out = [out[i] for i in keep]
    if curriculum:
        out = sorted(out, key=difficulty_rank)
    return out


def difficulty_rank(problem: Problem) -> int:
    """0 easy, 1 medium, 2 hard; unknown difficulty sorts last."""
    return DIFFICULTY_RANK.get(difficulty_name(problem), len(DIFFICULTY_RANK))


def difficulty_name(problem: Problem) -> str:
    """The problem's difficulty in lower case; "" when it has none or it is not text (a number)."""
    difficulty = problem.difficulty
    return difficulty.strip().lower() if isinstance(difficulty, str) else ""
