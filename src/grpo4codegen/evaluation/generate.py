"""The resumable generation loop shared by every backend.

Rows are keyed by (task_id, sample). A rerun reads the output, drops a truncated last line, and asks
the backend only for the missing keys; each finished row is appended and flushed at once, so an
interrupted run loses at most the requests in flight. One output file holds one model under one set
of generation settings: resuming with other settings would silently mix two experiments, so it is
refused.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..data.problems import Problem
from ..errors import InfrastructureError, UserError
from .records import append_row, repair

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationSettings:
    """The sampling parameters recorded with every row (what makes two runs comparable)."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.max_new_tokens < 1:
            raise UserError("need temperature >= 0, 0 < top_p <= 1 and max_new_tokens >= 1")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Request:
    """One sample to generate: which problem, which sample index, and its own seed."""

    problem: Problem
    sample: int
    seed: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.problem.task_id, self.sample)


@dataclass
class Generation:
    """A backend's answer to one request; `error` set (and no text) when it failed for good."""

    request: Request
    text: str | None
    finish_reason: str | None = None
    error: str | None = None
    usage: dict[str, int] = field(default_factory=dict)


class Backend(Protocol):
    """Turns requests into generations, yielding each as soon as it is done (any order)."""

    name: str

    def describe(self) -> dict[str, Any]:
        """Backend details worth recording with each row (model path, adapter, endpoint)."""
        ...

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> Iterator[Generation]: ...


@dataclass
class GenerationStats:
    """What a run did: rows already there, rows written now, and requests that failed."""

    existing: int = 0
    written: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def sample_seed(seed: int, task_id: str, sample: int) -> int:
    """A per-sample seed independent of order and batching, so resumed samples match fresh ones."""
    digest = hashlib.sha256(f"{seed}:{task_id}:{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def pending_requests(
    problems: Sequence[Problem], n: int, done: set[tuple[str, int]], seed: int
) -> list[Request]:
    """Every (problem, sample < n) not yet in `done`, in problem order."""
    return [
        Request(p, s, sample_seed(seed, p.task_id, s))
        for p in problems
        for s in range(n)
        if (p.task_id, s) not in done
    ]


def check_compatible(rows: list[dict[str, Any]], model: str, settings: dict[str, Any], path: Path) -> None:
    """Refuse to add rows of another model or other settings to an existing file."""
    for row in rows:
        if row.get("model") != model:
            raise UserError(
                f"{path} holds generations of model {row.get('model')!r}, not {model!r}: "
                "write to another --output"
            )
        if row.get("settings") != settings:
            raise UserError(
                f"{path} was generated with settings {row.get('settings')} but this run uses {settings}: "
                "write to another --output (or rerun with the same settings to resume)"
            )


def run_generation(
    backend: Backend,
    problems: Sequence[Problem],
    n: int,
    settings: GenerationSettings,
    output: str | Path,
    dataset: str | None = None,
    progress: bool = True,
    extra_fields: Callable[[Problem], dict[str, Any]] | None = None,
) -> GenerationStats:
    """Generate the missing samples of `problems` into `output`; returns what happened.

    `extra_fields` adds each problem's own fields to its rows (ours win on a clash), and `response`
    repeats the completion: the row shape the seed's score.py reads."""
    if n < 1:
        raise UserError("--n must be at least 1")
    output = Path(output)
    recorded = {"backend": backend.name, **settings.to_dict()}
    existing = repair(output)
    check_compatible(existing, backend.describe()["model"], recorded, output)
    done = {(str(r.get("task_id")), int(r.get("sample", -1))) for r in existing}
    todo = pending_requests(problems, n, done, settings.seed)
    stats = GenerationStats(existing=len(existing))
    if not todo:
        return stats
    output.parent.mkdir(parents=True, exist_ok=True)
    info = backend.describe()
    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc=f"generate {info['model']}", unit="sample", disable=not progress)
    with open(output, "a", encoding="utf-8") as handle:
        try:
            for gen in backend.generate(todo, settings):
                bar.update(1)
                if gen.error is not None or gen.text is None:
                    stats.failed += 1
                    stats.errors.append(f"{gen.request.problem.task_id}#{gen.request.sample}: {gen.error}")
                    continue
                row = _row(gen, info, recorded, dataset)
                if extra_fields is not None:
                    row = {**extra_fields(gen.request.problem), **row, "response": gen.text}
                append_row(handle, row)
                stats.written += 1
        finally:
            bar.close()
    if stats.failed:
        shown = "; ".join(stats.errors[:3])
        raise InfrastructureError(
            f"{stats.failed} of {len(todo)} samples failed ({shown}); {stats.written} were written to "
            f"{output}: rerun the same command to generate only the missing ones"
        )
    return stats


def _row(
    gen: Generation, info: dict[str, Any], settings: dict[str, Any], dataset: str | None
) -> dict[str, Any]:
    req = gen.request
    row: dict[str, Any] = {
        "model": info["model"],
        "task_id": req.problem.task_id,
        "sample": req.sample,
        "completion": gen.text,
        "finish_reason": gen.finish_reason,
        "settings": settings,
        "sample_seed": req.seed,
        "source": {k: v for k, v in info.items() if k != "model"},
    }
    if dataset is not None:
        row["dataset"] = dataset
    if gen.usage:
        row["usage"] = gen.usage
    return row
