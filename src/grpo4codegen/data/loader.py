"""Load LeetCodeDataset (hub name or local files) or the built-in problems.

Local sources: a .jsonl/.json/.parquet/.arrow file (gzipped or not, told by its bytes), a glob of
such shards, or a directory of them (a hub-style `data/test-*.parquet` layout, whose files are
picked by `split`, or what `datasets.save_to_disk` wrote). Both published schemas are accepted:
v0.3.x (flat fields) and v0.2.0 (metadata under `meta`).
"""

from __future__ import annotations

import ast
import bz2
import datetime
import functools
import glob
import gzip
import hashlib
import json
import logging
import lzma
import math
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from ..astparse import parse
from ..errors import UserError
from .problems import Arg, Problem, TestCase, UnparsedTest
from .seed import is_seed_row, signature, tests_from_unittests
from .testparse import parse_check

BUILTIN = "builtin"
HUB_NAME = "newfacade/LeetCodeDataset"
#: `Solution().twoSum` or `Solution.twoSum`: the sandbox calls a method of a class
_ENTRY_POINT_RE = re.compile(r"\s*[A-Za-z_]\w*\s*(\(\s*\))?\s*\.\s*[A-Za-z_]\w*\s*")
#: the data files read (JSON ones also compressed: .gz, .bz2, .xz, told by their bytes)
_DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".arrow", ".feather")
_COMPRESSED = (".gz", ".bz2", ".xz")
#: what `datasets` writes beside its data files, never rows
_METADATA_FILES = {"dataset_info.json", "dataset_infos.json", "state.json", "dataset_dict.json"}
#: the words `datasets` recognises in a data file's path as naming its split
_SPLIT_WORDS = {
    "train": ("train", "training"),
    "test": ("test", "testing", "eval", "evaluation"),
    "validation": ("validation", "valid", "val", "dev"),
}
_STARTER_RE = re.compile(r"```python\n(.*?)```", re.DOTALL)
log = logging.getLogger(__name__)


def load_problems(
    source: str | Path = BUILTIN, split: str = "test", strict: bool = True, keep_incomplete: bool = False
) -> list[Problem]:
    """Problems from `builtin`, a local file, or a hub dataset name (with `split`).

    With `strict`, a row without the fields a problem needs is an error naming the row; otherwise it
    is skipped. Unparsed asserts never fail loading: they are kept on the problem with their reason.
    A problem with any (or with no test at all) is incomplete: its tests are not the dataset's, and a
    reward from part of them can pass a wrong answer. Unless `keep_incomplete` (for inspecting a
    dataset), incomplete problems are left out, with one warning that names how many and why.
    """
    problems = _load_all(str(source), split, strict)
    if keep_incomplete:
        return problems
    complete = [p for p in problems if not p.incomplete]
    if len(complete) < len(problems):
        first = next(p for p in problems if p.incomplete)
        why = first.unparsed_tests[0].reason if first.unparsed_tests else "no test"
        log.warning(
            "%s: LEFT OUT %d of %d problems whose tests could not all be parsed, so that no reward "
            "comes from part of a problem's tests (first: %s: %s); `grpo4codegen data stats` lists them",
            source,
            len(problems) - len(complete),
            len(problems),
            first.task_id,
            why,
        )
        if not complete:
            raise UserError(
                f"{source}: no problem whose tests could all be parsed (first: {first.task_id}: {why})"
            )
    return complete


def _load_all(source: str, split: str, strict: bool) -> list[Problem]:
    cache = _cache_path(source)
    cached = _read_cache(cache) if cache else None
    if cached is not None:
        return cached
    rows, origin = _read_rows(source, split)
    problems: list[Problem] = []
    row_of: dict[str, int] = {}
    for index, row in enumerate(rows, start=1):
        try:
            problem = problem_from_row(row, origin)
            _require_prompt(problem)
        except UserError as e:
            if strict:
                raise UserError(f"{origin}: row {index}: {e}") from None
            continue
        first = row_of.setdefault(problem.task_id, index)
        if first != index:
            raise UserError(
                f"{origin}: task {problem.task_id!r} appears twice (rows {first} and {index}); "
                "task ids must be unique, since generations and scores are matched by them"
            )
        problems.append(problem)
    if not problems:
        raise UserError(f"{origin}: no problems found")
    if cache and strict:
        _write_cache(cache, problems)
    return problems


def _require_prompt(problem: Problem) -> None:
    """A dataset problem must say what to solve: without a query or a description, the model would be
    asked an empty question."""
    if not (problem.query.strip() or problem.description.strip()):
        raise UserError(
            f"task {problem.task_id!r} has no query or problem_description (nor a seed `prompt`): "
            "its prompt would be empty"
        )


#: bump when parsing or the Problem layout changes, so stale caches are ignored
PARSER_VERSION = "4"


def _cache_path(source: str) -> Path | None:
    """Where parsed problems of a local file are cached: parsing big test literals takes seconds."""
    path = Path(source).expanduser()
    if source == BUILTIN or not path.is_file():
        return None
    stat = path.stat()
    key = hashlib.sha1(
        f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{PARSER_VERSION}".encode()
    ).hexdigest()
    root = Path(os.environ.get("GRPO4CODEGEN_CACHE", Path.home() / ".cache" / "grpo4codegen"))
    return root / "problems" / f"{key}.json"


def _read_cache(path: Path) -> list[Problem] | None:
    try:
        return [Problem.from_dict(d) for d in json.loads(path.read_text("utf-8"))]
    except (OSError, ValueError, TypeError, KeyError):
        return None  # absent or unreadable: parse again


def _write_cache(path: Path, problems: list[Problem]) -> None:
    """Write only when JSON keeps every value exactly (sets or non-string dict keys would not survive)."""
    dicts = [p.to_dict() for p in problems]
    try:
        text = json.dumps(dicts)
        if json.loads(text) != dicts:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text, "utf-8")
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        pass  # caching is an optimisation only


def problem_from_row(row: dict[str, Any], origin: str = "") -> Problem:
    """Normalise one dataset row (either schema, or the seed's files) into a Problem.

    Raises UserError naming the task and the field when a field is missing or of the wrong type."""
    if not isinstance(row, dict):
        raise UserError(f"row is not a JSON object (got {type(row).__name__})")
    row = _without_nan(row)
    label = _label(row)
    _check_types(row, label)
    if is_seed_row(row):
        return _problem_from_seed_row(row, label, origin)
    _require(row, ("task_id", "entry_point", "test"), label)
    meta = row.get("meta") or {}
    tests, unparsed = _parse_test(row["test"], label)
    starter = (
        row.get("starter_code")
        or _starter_from_query(row.get("query") or "")
        or _starter_from_solution(row.get("completion") or "", row["entry_point"])
    )
    tests = _match_starter(tests, starter, row.get("completion") or "", row["entry_point"])
    question_id = row.get("question_id")
    return Problem(
        task_id=str(row["task_id"]),
        entry_point=row["entry_point"],
        preamble=_preamble(row.get("prompt"), label),
        tests=tests,
        question_id=_question_id(meta.get("question_id") if question_id is None else question_id, label),
        difficulty=row.get("difficulty") or meta.get("difficulty"),
        tags=list(row.get("tags") or meta.get("tags") or []),
        date=_date(row.get("estimated_date") or meta.get("estimated_date")),
        title=row.get("title") or _title_from_task_id(str(row["task_id"])),
        description=row.get("problem_description") or meta.get("question_title") or "",
        starter_code=starter,
        reference_solution=row.get("completion") or "",
        query=row.get("query") or "",
        response=row.get("response") or "",
        unparsed_tests=unparsed,
        source=origin,
    )


def _preamble(prompt: str | None, label: str) -> str:
    """The code every solution runs under: the row's `prompt`, or, for a row without one, the standard
    preamble (typing's names, the usual imports, ListNode/TreeNode and their builders), without which
    `List[int]` in a signature, or a list_node(...) argument, fails for every answer."""
    if prompt is None:
        return default_preamble()
    if not _is_python(prompt):
        raise UserError(
            f"{label}: field prompt is not Python; in LeetCodeDataset rows it is the code (imports, "
            "helpers) every solution runs under, and the question goes in query or problem_description"
        )
    return prompt


@functools.cache
def default_preamble() -> str:
    """The built-in problems' preamble, with the `datetime` and `random` imports LeetCodeDataset's has."""
    text = resources.files("grpo4codegen.data.builtin").joinpath("problems.jsonl").read_text("utf-8")
    return "import datetime\nimport random\n" + json.loads(text.split("\n", 1)[0])["prompt"]


@functools.lru_cache(maxsize=64)
def _is_python(text: str) -> bool:
    """Whether `text` parses (rows share a few preambles, so each is parsed once)."""
    try:
        parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _problem_from_seed_row(row: dict[str, Any], label: str, origin: str) -> Problem:
    """A row of the seed's preprocessed files: `prompt` holds the query, `preCodeSegment` the helpers
    every solution runs under (ListNode, TreeNode, list_node, tree_node), and the tests come from
    `unittests` (or `test`, when the row kept it). Node arguments are found from the starter code's
    annotations, so they are built as nodes (the seed's own postCodeSegment passed them as lists)."""
    _require(row, ("task_id", "entry_point"), label)
    entry_point = row["entry_point"]
    query = row.get("prompt") or row.get("query") or ""
    starter = row.get("starter_code") or _starter_from_query(query)
    if row.get("test"):
        tests, unparsed = _parse_test(row["test"], label)
    elif isinstance(row.get("unittests"), list):
        method = entry_point.rsplit(".", 1)[-1].strip()
        tests, unparsed = tests_from_unittests(row["unittests"], signature(starter, method))
    else:
        tests, unparsed = (
            [],
            [UnparsedTest("unittests", "the row has no unittests (none of its inputs parsed)")],
        )
    return Problem(
        task_id=str(row["task_id"]),
        entry_point=entry_point,
        preamble=row.get("preCodeSegment") or "",
        tests=tests,
        question_id=_question_id(row.get("question_id"), label),
        difficulty=row.get("difficulty"),
        tags=list(row.get("tags") or []),
        date=_date(row.get("estimated_date")),
        title=row.get("title") or _title_from_task_id(str(row["task_id"])),
        description=row.get("problem_description") or "",
        starter_code=starter,
        reference_solution=row.get("completion") or "",
        query=query,
        response=row.get("response") or "",
        unparsed_tests=unparsed,
        source=origin,
    )


#: fields that, when present and not null, must be text (in a row, or in a v0.2.0 row's `meta`)
_TEXT_FIELDS = (
    "entry_point",
    "test",
    "prompt",
    "query",
    "response",
    "completion",
    "problem_description",
    "starter_code",
    "title",
    "difficulty",
    "question_title",
    "preCodeSegment",
    "postCodeSegment",
)


def _without_nan(row: dict[str, Any]) -> dict[str, Any]:
    """The row (and its `meta`) with NaN values as missing ones: how pandas writes a field that some
    rows lack (a v0.3.1 row's `meta`, a v0.2.0 row's `question_id`) into JSON records."""
    out = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
    if isinstance(out.get("meta"), dict):
        out["meta"] = _without_nan(out["meta"])
    return out


def _label(row: dict[str, Any]) -> str:
    """How errors name the row: by its task id when it has a usable one."""
    task_id = row.get("task_id")
    return "row" if task_id is None or task_id == "" else f"task {task_id!r}"


def _require(row: dict[str, Any], keys: tuple[str, ...], label: str) -> None:
    missing = [k for k in keys if not row.get(k)]
    if missing:
        raise UserError(f"{label} has no {', '.join(missing)} field")


def _check_types(row: dict[str, Any], label: str, prefix: str = "") -> None:
    """Raise UserError naming the field whose value has the wrong type (text fields, tags, meta)."""
    task_id = row.get("task_id")
    if task_id is not None and (isinstance(task_id, bool) or not isinstance(task_id, (str, int))):
        raise UserError(f"{label}: field {prefix}task_id must be text or an integer, got {_shown(task_id)}")
    for key in _TEXT_FIELDS:
        value = row.get(key)
        if value is not None and not isinstance(value, str):
            raise UserError(f"{label}: field {prefix}{key} must be text, got {_shown(value)}")
    entry_point = row.get("entry_point")
    if not prefix and entry_point and not _ENTRY_POINT_RE.fullmatch(entry_point):
        raise UserError(
            f"{label}: field entry_point must name a method as `Solution().method`, got {_shown(entry_point)}"
        )
    date = row.get("estimated_date")
    if date is not None and not isinstance(date, (str, datetime.date)):
        raise UserError(f"{label}: field {prefix}estimated_date must be a date or text, got {_shown(date)}")
    tags = row.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise UserError(f"{label}: field {prefix}tags must be a list of strings, got {_shown(tags)}")
    meta = row.get("meta")
    if prefix or meta is None:
        return
    if not isinstance(meta, dict):
        raise UserError(f"{label}: field meta must be an object, got {_shown(meta)}")
    _check_types(meta, label, "meta.")


def _question_id(value: Any, label: str) -> int | None:
    """LeetCode's question number: an integer, or text or a float that is one; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        return int(value)
    raise UserError(f"{label}: field question_id must be an integer, got {_shown(value)}")


def _date(value: str | datetime.date | None) -> str | None:
    """The ISO date text selection compares: `datasets` reads the JSON's "2024-08-04" as a timestamp
    (so the hub's rows, and parquet written from them, hold a datetime)."""
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        value = value.date()
    return value.isoformat() if isinstance(value, datetime.date) else value


def _parse_test(test: str, label: str) -> tuple[list[TestCase], list[UnparsedTest]]:
    try:
        return parse_check(test)
    except ValueError as e:
        raise UserError(f"{label}: {e}") from None


def _shown(value: Any) -> str:
    """A value's type and a short view of it, for error messages."""
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def _starter_from_query(query: str) -> str:
    blocks = _STARTER_RE.findall(query)
    return blocks[-1] if blocks else ""


def _parameters(code: str, entry_point: str) -> list[str] | None:
    """The parameter names (after `self`) of the entry method in `code` (a solution or a starter whose
    body is empty); None when it cannot be read, or takes *args, **kwargs or keyword-only ones."""
    head, _, method = entry_point.strip().rpartition(".")
    class_name, method = head.split("(", 1)[0].strip(), method.strip()
    for text in (code, code.rstrip() + "\n        pass\n"):
        try:
            module = parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in module.body:
            if isinstance(node, ast.ClassDef) and node.name == class_name:
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name == method:
                        a = item.args
                        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
                            return None
                        return [x.arg for x in a.args[1:]]
        return None
    return None


def _match_starter(tests: list[TestCase], starter: str, solution: str, entry_point: str) -> list[TestCase]:
    """Tests whose keyword names the prompt's starter code does not have (v0.2.0's
    `minimum-genetic-mutation`: the starter says `startGene, endGene`, the tests and the reference
    `start, end`) would fail every answer written to the prompt. When the reference's signature has
    those names and as many parameters as the starter, its order says where each argument goes:
    such tests pass their arguments by position, which both spellings accept."""
    keywords = {a.name for t in tests for a in t.args if a.name is not None}
    shown = _parameters(starter, entry_point) if keywords and starter else None
    if shown is None or keywords <= set(shown):
        return tests
    names = _parameters(solution, entry_point)
    if names is None or len(names) != len(shown) or not keywords <= set(names):
        return tests
    out = []
    for test in tests:
        given = [a.name for a in test.args]
        first = next((i for i, n in enumerate(given) if n is not None), len(given))  # positional first
        if set(given[first:]) <= set(shown) or given[first:] != names[first : len(given)]:
            out.append(test)  # the prompt's names, or keywords out of the signature's order: as it is
            continue
        args = tuple(Arg(None, a.value, a.kind) for a in test.args)
        out.append(TestCase(args=args, expected=test.expected, compare=test.compare, source=test.source))
    return out


def _starter_from_solution(solution: str, entry_point: str) -> str:
    """LeetCode's starter code (the class and the method's signature) read off a reference solution,
    for a row with neither `starter_code` nor a query to take it from: without it the prompt would
    not say which method, with which parameter names, the tests call."""
    head, _, method = entry_point.strip().rpartition(".")
    class_name = head.split("(", 1)[0].strip()
    try:
        module = parse(solution)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ""
    for node in module.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == method.strip():
                    returns = f" -> {ast.unparse(item.returns)}" if item.returns else ""
                    return f"class {class_name}:\n    def {item.name}({ast.unparse(item.args)}){returns}:\n        "
    return ""


def _title_from_task_id(task_id: str) -> str:
    return " ".join(w.capitalize() for w in task_id.split("-"))


def read_rows(path: str | Path, split: str = "test") -> list[dict[str, Any]]:
    """The raw rows of a local dataset (a file, a glob of shards or a directory), as they are."""
    return _read_source(str(path), split)


def _read_rows(source: str, split: str) -> tuple[Iterable[dict[str, Any]], str]:
    if source == BUILTIN:
        text = resources.files("grpo4codegen.data.builtin").joinpath("problems.jsonl").read_text("utf-8")
        return list(_parse_jsonl(_lines(text), "builtin problems")), BUILTIN
    path = Path(source).expanduser()
    if path.exists() or _is_glob(source) or _is_data_file(Path(source)) or source.startswith((".", "/", "~")):
        return _read_source(source, split), str(path)
    return _read_hub(source, split), f"{source}[{split}]"


def _is_data_file(path: Path) -> bool:
    name = path.name.lower()
    for suffix in _COMPRESSED:
        name = name.removesuffix(suffix)
    return name.endswith(_DATA_SUFFIXES) and name not in _METADATA_FILES


def _is_glob(source: str) -> bool:
    return any(c in source for c in "*?[")


def _read_source(source: str, split: str) -> list[dict[str, Any]]:
    """Rows of one file, of the files a glob matches, or of a directory (in name order)."""
    path = Path(source).expanduser()
    if not path.exists() and _is_glob(source):
        files = sorted(Path(f) for f in glob.glob(str(path), recursive=True) if Path(f).is_file())
        if not files:
            raise UserError(f"{source}: no file matches")
        return _read_files(files, source)
    if path.is_dir():
        return _read_files(_directory_files(path, split), source)
    return _read_local(path)


def _read_files(files: list[Path], source: str) -> list[dict[str, Any]]:
    """The rows of several files, in order; a task in two of them (two releases, or a file and its
    .gz copy, side by side) is an error naming both files."""
    rows: list[dict[str, Any]] = []
    seen: dict[Any, Path] = {}
    for f in files:
        for row in _read_local(f):
            task_id = row.get("task_id") if isinstance(row, dict) else None
            if isinstance(task_id, (str, int)) and seen.setdefault(task_id, f) != f:
                raise UserError(
                    f"{source}: task {task_id!r} is in both {seen[task_id]} and {f}; "
                    "give one file, or a glob of the files that belong together"
                )
            rows.append(row)
    return rows


def _directory_files(path: Path, split: str) -> list[Path]:
    """The data files of a directory: what `save_to_disk` listed (a DatasetDict's `split`), or the
    .jsonl/.json/.parquet/.arrow files under it, only those whose path names `split` when some name
    a split (as the hub's `data/test-00000-of-00001.parquet` do)."""
    if (path / "dataset_dict.json").is_file():  # DatasetDict.save_to_disk: one directory per split
        splits = sorted(d.name for d in path.iterdir() if (d / "state.json").is_file())
        if split not in splits:
            raise UserError(f"{path}: has no split {split!r} (splits: {', '.join(splits) or 'none'})")
        path = path / split
    state = path / "state.json"
    if state.is_file():  # Dataset.save_to_disk
        try:
            names = [f["filename"] for f in json.loads(state.read_text("utf-8"))["_data_files"]]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserError(f"{state}: not a `datasets` state file ({type(e).__name__}: {e})") from None
        return [path / name for name in names]
    files = sorted(
        f
        for f in path.rglob("*")
        if f.is_file()
        and _is_data_file(f)
        and not any(part.startswith(".") for part in f.relative_to(path).parts)
    )
    if not files:
        raise UserError(f"{path}: directory holds no .jsonl, .json, .parquet or .arrow file")
    by_split: dict[str, list[Path]] = {}
    for f in files:
        words = set(re.split(r"[-._ 0-9/\\]+", str(f.relative_to(path)).lower()))
        for name, aliases in _SPLIT_WORDS.items():
            if words & set(aliases):
                by_split.setdefault(name, []).append(f)
                break
    if not by_split:
        return files  # no file names a split: all of them are the data
    chosen = next(
        (name for name, aliases in _SPLIT_WORDS.items() if split.lower() in (name, *aliases)), split
    )
    if chosen not in by_split:
        raise UserError(
            f"{path}: no data file for split {split!r} (files name the splits {', '.join(sorted(by_split))}); "
            "pass --split, or the file itself"
        )
    return by_split[chosen]


def _read_local(path: Path) -> list[dict[str, Any]]:
    """Rows of a .parquet or .arrow file, or of a JSON text file (gzipped or not, whatever its name
    says; a UTF-8 BOM is fine): JSON lines, or one JSON array of rows."""
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a directory; give a .jsonl, .jsonl.gz, .json or .parquet file")
    name = path.name.lower()
    if name.endswith(".parquet"):
        return _read_parquet(path)
    if name.endswith((".arrow", ".feather")):
        return _read_arrow(path)
    if name.endswith((".csv", ".tsv")):
        raise UserError(f"{path}: CSV is not read (its lists would be text); give .jsonl, .json or .parquet")
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        elif data[:3] == b"BZh":
            data = bz2.decompress(data)
        elif data[:6] == b"\xfd7zXZ\x00":
            data = lzma.decompress(data)
        text = data.decode("utf-8-sig")
    except (OSError, EOFError, zlib.error, lzma.LZMAError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read ({type(e).__name__}: {e})") from None
    array = _json_array(text, str(path))
    return array if array is not None else list(_parse_jsonl(_lines(text), str(path)))


def _json_array(text: str, origin: str) -> list[Any] | None:
    """The rows of a file holding one JSON array (or one pretty-printed row); None for JSON lines."""
    head = text.lstrip()[:1]
    if head not in ("[", "{"):
        return None
    try:
        whole = json.loads(text)
    except ValueError as e:
        if not isinstance(e, json.JSONDecodeError):  # an integer literal past the 4,300-digit limit
            raise UserError(f"{origin}: cannot be read ({e})") from None
        if head == "{":
            return None  # JSON lines (or broken JSON, which the line reader names)
        raise UserError(f"{origin}: not a valid JSON array of rows ({e.msg}, line {e.lineno})") from None
    except RecursionError:
        raise UserError(f"{origin}: JSON nested too deeply") from None
    if isinstance(whole, list):
        return whole
    if "task_id" not in whole:
        keys = ", ".join(list(whole)[:5])
        raise UserError(
            f"{origin}: holds one JSON object (keys: {keys}), not rows; give a JSON array or JSON lines"
        )
    return [whole]


def _lines(text: str) -> list[str]:
    """JSON lines split on "\\n" only (a trailing "\\r" is JSON whitespace): `str.splitlines` would
    also split at U+2028, U+2029 or U+0085 inside a string, which JSON writes unescaped."""
    return text.split("\n")


def _parse_jsonl(lines: Iterable[str], origin: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{origin}: line {number} is not valid JSON ({e.msg})") from None
        except ValueError as e:  # an integer literal past Python's 4,300-digit limit
            raise UserError(f"{origin}: line {number} cannot be read ({e})") from None
        except RecursionError:
            raise UserError(f"{origin}: line {number} is JSON nested too deeply") from None


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError("reading .parquet needs pyarrow: pip install pyarrow") from None
    try:
        return pq.read_table(path).to_pylist()
    except Exception as e:  # pyarrow raises several unrelated types for corrupt files
        raise UserError(f"{path}: cannot read parquet ({e})") from None


def _read_arrow(path: Path) -> list[dict[str, Any]]:
    """An Arrow IPC file: the stream format `datasets` writes its shards in, or the file format."""
    try:
        import pyarrow as pa
    except ImportError:
        raise UserError("reading .arrow needs pyarrow: pip install pyarrow") from None
    errors = []
    for opener in (pa.ipc.open_stream, pa.ipc.open_file):
        try:
            with pa.memory_map(str(path)) as source:
                return opener(source).read_all().to_pylist()
        except Exception as e:  # noqa: PERF203 - not this format (pyarrow raises several types)
            errors.append(e)
    raise UserError(f"{path}: cannot read arrow ({errors[-1]})")


def _read_hub(name: str, split: str) -> list[dict[str, Any]]:
    try:
        import datasets
    except ImportError:
        raise UserError(
            f"{name!r} is not a local file, and loading from the Hugging Face hub needs `datasets` "
            "(pip install 'grpo4codegen[train]'); or pass a local .jsonl/.jsonl.gz/.parquet file"
        ) from None
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as e:  # offline, unknown repo, unknown split: all surface as various types
        raise UserError(
            f"cannot load {name!r} (split {split!r}) from the Hugging Face hub: {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}. Offline? Pass a local file instead, e.g. "
            "--dataset ../shared/data/leetcodedataset/LeetCodeDataset-v0.3.1-test.jsonl.gz"
        ) from None
    return [dict(r) for r in ds]
