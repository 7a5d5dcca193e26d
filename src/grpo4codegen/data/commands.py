"""`grpo4codegen data stats|export`: inspect what the loader and the test parser make of a dataset."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import UserError
from .loader import BUILTIN, load_problems
from .problems import Problem
from .selection import select_problems


def add_dataset_args(p: argparse.ArgumentParser, default: str | None = BUILTIN) -> None:
    """The dataset and selection flags shared by every command that reads problems."""
    p.add_argument(
        "--dataset",
        default=default,
        help="`builtin`, a .jsonl/.json/.parquet/.arrow file (JSON may be gzipped), a glob of shards, "
        "a directory of them (or `save_to_disk` output), or a hub name",
    )
    p.add_argument(
        "--split", default="test", help="split name when loading from the hub or a directory of split shards"
    )
    p.add_argument("--difficulty", nargs="*", help="keep only these difficulties (Easy Medium Hard)")
    p.add_argument("--tags", nargs="*", help="keep problems with any of these tags")
    p.add_argument("--date-from", help="keep problems dated on/after this ISO date")
    p.add_argument("--date-to", help="keep problems dated on/before this ISO date")
    p.add_argument("--task-ids", nargs="*", help="keep only these task ids, in this order")
    p.add_argument("--sample", type=int, help="deterministic random sample of this many problems")
    p.add_argument("--seed", type=int, default=0, help="seed of --sample")
    p.add_argument("--curriculum", action="store_true", help="order easy -> hard")


def problems_from_args(args: argparse.Namespace, keep_incomplete: bool = False) -> list[Problem]:
    """The problems the dataset flags select (`load_problems`: incomplete ones left out unless kept)."""
    problems = load_problems(args.dataset, split=args.split, keep_incomplete=keep_incomplete)
    return select_problems(
        problems,
        difficulties=args.difficulty,
        tags=args.tags,
        date_from=args.date_from,
        date_to=args.date_to,
        task_ids=args.task_ids,
        sample=args.sample,
        seed=args.seed,
        curriculum=args.curriculum,
    )


def dataset_stats(problems: list[Problem]) -> dict[str, Any]:
    tests = sum(len(p.tests) for p in problems)
    unparsed = [
        {"task_id": p.task_id, "source": u.source, "reason": u.reason}
        for p in problems
        for u in p.unparsed_tests
    ]
    total_asserts = tests + len(unparsed)
    return {
        "problems": len(problems),
        "tests": tests,
        "unparsed_tests": len(unparsed),
        "parsed_fraction": tests / total_asserts if total_asserts else 1.0,
        "problems_without_tests": [p.task_id for p in problems if not p.tests],
        "tests_per_problem": {
            "min": min((len(p.tests) for p in problems), default=0),
            "median": sorted(len(p.tests) for p in problems)[len(problems) // 2] if problems else 0,
            "max": max((len(p.tests) for p in problems), default=0),
        },
        "compare_modes": dict(Counter(t.compare for p in problems for t in p.tests)),
        "difficulty": dict(Counter(p.difficulty or "unknown" for p in problems)),
        "tags": dict(Counter(t for p in problems for t in p.tags).most_common()),
        "unparsed": unparsed,
    }


def _stats(args: argparse.Namespace) -> int:
    stats = dataset_stats(problems_from_args(args, keep_incomplete=True))
    if args.json:
        print(json.dumps(stats))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"Dataset: {args.dataset}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("problems", "tests", "unparsed_tests"):
        table.add_row(key, str(stats[key]))
    table.add_row("parsed fraction", f"{stats['parsed_fraction']:.4%}")
    tpp = stats["tests_per_problem"]
    table.add_row("tests per problem (min/median/max)", f"{tpp['min']}/{tpp['median']}/{tpp['max']}")
    for mode, n in stats["compare_modes"].items():
        table.add_row(f"compare: {mode}", str(n))
    for level, n in stats["difficulty"].items():
        table.add_row(f"difficulty: {level}", str(n))
    console.print(table)
    top_tags = list(stats["tags"].items())[:15]
    if top_tags:
        console.print("top tags: " + ", ".join(f"{t} ({n})" for t, n in top_tags))
    for u in stats["unparsed"]:
        console.print(f"[yellow]unparsed[/] {u['task_id']}: {u['reason']}: {u['source'][:120]}")
    return 0


def _export(args: argparse.Namespace) -> int:
    problems = problems_from_args(args, keep_incomplete=True)
    lines = (json.dumps(p.to_dict(), default=_json_default) + "\n" for p in problems)
    if args.output == "-":
        sys.stdout.writelines(lines)
        return 0
    try:
        with open(Path(args.output), "w", encoding="utf-8") as f:
            f.writelines(lines)
    except OSError as e:
        raise UserError(f"{args.output}: cannot write ({e.strerror})") from None
    print(f"wrote {len(problems)} problems to {args.output}", file=sys.stderr)
    return 0


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="inspect and export datasets")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    stats = data_sub.add_parser("stats", help="problems, tests, unparsed asserts, difficulty and tag counts")
    add_dataset_args(stats)
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(handler=_stats)
    export = data_sub.add_parser("export", help="write normalised problems as jsonl")
    add_dataset_args(export)
    export.add_argument("--output", "-o", default="-", help="output .jsonl path (- for stdout)")
    export.set_defaults(handler=_export)
