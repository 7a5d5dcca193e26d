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
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return [], False
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    lines = text.split("\n")
    rows: list[dict[str, Any]] = []
    truncated = False
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            if number == len(lines):  # the last line has no newline: an interrupted write
                log.warning("%s: dropping a truncated last line (interrupted write)", path)
                truncated = True
                break
            raise UserError(f"{path}: line {number} is not valid JSON ({e.msg})") from None
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


def append_row(handle: IO[str], row: dict[str, Any]) -> None:
    """One complete line, flushed, so a crash afterwards cannot lose it."""
    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    handle.flush()


def write_rows_atomic(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Replace `path` in one step: readers see the old file or the new one, never half of it."""
    write_text_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write a sibling temp file, then rename it over `path`: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; outputs are ordinary shared files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
