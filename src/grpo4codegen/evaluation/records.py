"""Jsonl files that survive interruption: append-and-flush while running, atomic rewrites when done.

A run killed mid-write leaves at most a partial last line; readers drop it (and say so) instead of
failing, and `repair` cuts it off before anything is appended after it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from ..errors import UserError

log = logging.getLogger(__name__)


def read_rows(path: str | Path) -> tuple[list[dict[str, Any]], bool]:
    """The rows of a jsonl file and whether a truncated last line was dropped. A missing file is empty."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], False
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    lines = data.split(b"\n")  # decoded line by line: a write cut inside a character spoils only its line
    rows: list[dict[str, Any]] = []
    truncated = False
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            if number == len(lines):  # the last line has no newline: an interrupted write
                log.warning("%s: dropping a truncated last line (interrupted write)", path)
                truncated = True
                break
            what = "UTF-8" if isinstance(e, UnicodeDecodeError) else f"JSON ({e.msg})"
            raise UserError(f"{path}: line {number} is not valid {what}") from None
        if not isinstance(row, dict):
            raise UserError(f"{path}: line {number} is not a JSON object")
        rows.append(row)
    return rows, truncated


def repair(path: str | Path) -> list[dict[str, Any]]:
    """Read `path` for appending: a truncated last line is removed from the file first."""
    rows, truncated = read_rows(path)
    if truncated:
        write_rows_atomic(path, rows)
    else:
        _ensure_trailing_newline(Path(path))
    return rows


def _ensure_trailing_newline(path: Path) -> None:
    try:
        with open(path, "rb+") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")
    except FileNotFoundError:
        pass


def sample_number(value: Any, where: str) -> int:
    """A row's `sample` as an integer (a digit string is read as one); UserError naming `where` else."""
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{where}: sample must be an integer, not {value!r:.50}")
    return value


def json_line(row: dict[str, Any]) -> str:
    """A row as one line of JSON. Text is kept readable (not escaped), except in a row holding a lone
    surrogate (which UTF-8 cannot encode: a candidate's `raise ValueError(chr(0xD800))` puts one in its
    error text), which is written with escapes and reads back the same."""
    line = json.dumps(row, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(row)
    return line + "\n"


def append_row(handle: IO[str], row: dict[str, Any]) -> None:
    """One complete line, flushed, so a crash afterwards cannot lose it."""
    handle.write(json_line(row))
    handle.flush()


def write_rows_atomic(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Replace `path` in one step: readers see the old file or the new one, never half of it."""
    write_text_atomic(path, "".join(json_line(row) for row in rows))


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write a sibling temp file, then rename it over `path`: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # a lone surrogate (e.g. in a crafted task id) is written as a backslash escape, not a crash
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; outputs are ordinary shared files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
