"""Pull the candidate program out of a model completion.

Completions are chatty: prose, several fenced blocks (the solution, then "example usage"), a
``<think>`` section with drafts, or a final fence cut off by the length limit. The rule is:

1. Look at the text outside ``<think>...</think>`` first; fall back to the reasoning only when the
   answer part yields nothing.
2. Among fenced blocks tagged ``python``/``py``/``python3`` or untagged, take the last one that
   parses and defines the entry point (``Solution().twoSum`` -> class ``Solution`` with method
   ``twoSum``; a bare name -> a top-level function).
3. Otherwise the last block that parses; otherwise the whole text if it parses.

Blocks are never concatenated: example usage in a second block must not run with the solution.
"""

from __future__ import annotations

import ast
import re
import textwrap
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from grpo4codegen.astparse import parse

__all__ = [
    "completion_text",
    "defines_entry_point",
    "extract_code",
    "fenced_blocks",
    "has_real_function",
    "is_trivial_statement",
    "logical_statement_count",
    "own_statements",
    "parse_or_none",
    "parses",
]

_PY_TAGS = frozenset({"", "python", "py", "python3", "py3"})
#: the tag is the longest run of tag characters (the lookahead): without it, a fence line that fails
#: later (a backtick at its end) tried every split of that run against the rest, quadratic in its
#: length: 2.6 s of the scorer's CPU for one 32,000-character line
_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<tag>[\w+#.-]*)(?![\w+#.-])[^\n`]*$")
_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"
#: how many trailing lines may be dropped from a block cut off by the length limit
_MAX_TRUNCATION_TRIM = 3


def _message_content(message: Mapping[str, Any]) -> str:
    """Text of one chat message; content may be a string or a list of typed parts."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return str(content)


def completion_text(completion: Any) -> str:
    """The assistant's text, whether TRL passed a plain string or a list of chat messages."""
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return _message_content(completion)
    if isinstance(completion, Sequence):
        messages = [m for m in completion if isinstance(m, Mapping)]
        assistant = [m for m in messages if m.get("role") == "assistant"]
        if assistant:
            return "\n".join(_message_content(m) for m in assistant)
        if not any("role" in m for m in messages):
            return "\n".join(_message_content(m) for m in messages)
        return ""
    return str(completion)


def parses(code: str) -> bool:
    """True when ``code`` is non-blank, syntactically valid Python."""
    return _parse(code) is not None


def _parse(code: str) -> ast.Module | None:
    if not code.strip():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences etc. are not our concern here
            return parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _entry_names(entry_point: str) -> tuple[str | None, str]:
    """``"Solution().twoSum"`` -> ``("Solution", "twoSum")``; ``"two_sum"`` -> ``(None, "two_sum")``."""
    head, _, tail = entry_point.strip().rpartition(".")
    if not head:
        return None, tail.strip()
    return head.split("(", 1)[0].strip() or None, tail.strip()


def defines_entry_point(tree: ast.Module, entry_point: str) -> bool:
    """Whether a module defines the entry point at top level (class method or plain function)."""
    cls_name, func_name = _entry_names(entry_point)
    funcs = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if cls_name is None and isinstance(node, funcs) and node.name == func_name:
            return True
        if cls_name is not None and isinstance(node, ast.ClassDef) and node.name == cls_name:
            if any(isinstance(item, funcs) and item.name == func_name for item in node.body):
                return True
    return False


def _split_think(text: str) -> tuple[str, str]:
    """Split into (answer, reasoning). An unclosed ``<think>`` runs to the end; a lone
    ``</think>`` (template opened it in the prompt) means everything before it is reasoning."""
    answer: list[str] = []
    reasoning: list[str] = []
    if _THINK_CLOSE in text and _THINK_OPEN not in text.split(_THINK_CLOSE, 1)[0]:
        before, text = text.split(_THINK_CLOSE, 1)
        reasoning.append(before)
    while True:
        start = text.find(_THINK_OPEN)
        if start < 0:
            answer.append(text)
            break
        answer.append(text[:start])
        end = text.find(_THINK_CLOSE, start)
        if end < 0:
            reasoning.append(text[start + len(_THINK_OPEN) :])
            break
        reasoning.append(text[start + len(_THINK_OPEN) : end])
        text = text[end + len(_THINK_CLOSE) :]
    return "\n".join(answer), "\n".join(reasoning)


def fenced_blocks(text: str) -> list[tuple[str, bool]]:
    """Python-or-untagged fenced blocks in order, as (dedented code, was_terminated)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[tuple[str, bool]] = []
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        fence, tag = match.group("fence"), match.group("tag").lower()
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        i += 1
        terminated = False
        while i < len(lines):
            if close.match(lines[i]):
                terminated = True
                i += 1
                break
            body.append(lines[i])
            i += 1
        if tag in _PY_TAGS:
            code = textwrap.dedent("\n".join(body)).strip("\n")
            if code.strip():
                blocks.append((code + "\n", terminated))
    return blocks


def _repair_truncated(code: str) -> str | None:
    """A block cut off by max length often parses once its last (partial) lines are dropped."""
    lines = code.rstrip("\n").split("\n")
    for drop in range(1, min(_MAX_TRUNCATION_TRIM, len(lines) - 1) + 1):
        candidate = "\n".join(lines[:-drop]) + "\n"
        if parses(candidate):
            return candidate
    return None


def _choose(text: str, entry_point: str | None) -> str | None:
    """Apply the block rule to one region of text (answer or reasoning)."""
    parsed: list[tuple[str, ast.Module]] = []
    for code, terminated in fenced_blocks(text):
        tree = _parse(code)
        if tree is None and not terminated:
            repaired = _repair_truncated(code)
            if repaired is not None:
                code, tree = repaired, _parse(repaired)
        if tree is not None:
            parsed.append((code, tree))
    if entry_point:
        for code, tree in reversed(parsed):
            if defines_entry_point(tree, entry_point):
                return code
    if parsed:
        return parsed[-1][0]
    raw = text.strip("\n")
    tree = _parse(raw)
    if tree is not None and _has_real_statement(tree):
        return raw + "\n"
    return None


def _has_real_statement(tree: ast.Module) -> bool:
    """Prose like ``Sure`` or ``Done`` parses as a bare name; unfenced text must do more than that."""
    return any(
        not (isinstance(node, ast.Expr) and isinstance(node.value, (ast.Name, ast.Constant)))
        for node in tree.body
    )


def extract_code(completion: Any, entry_point: str | None = None) -> str | None:
    """The program to run for a completion, or None when it contains no parseable Python."""
    text = completion_text(completion).replace("\r\n", "\n").replace("\r", "\n")
    answer, reasoning = _split_think(text)
    code = _choose(answer, entry_point)
    if code is None and reasoning.strip():
        code = _choose(reasoning, entry_point)
    return code


# --- shape of an extracted program, shared by the static reward dimensions -------------------------

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_NON_LOGIC = (*_DEFS, ast.Import, ast.ImportFrom)


def is_trivial_statement(node: ast.stmt) -> bool:
    """``pass``, ``...``, a bare string, ``return`` / ``return <constant>``, ``raise NotImplementedError``:
    statements that make a body look filled without doing anything."""
    if isinstance(node, ast.Pass):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return True
    if isinstance(node, ast.Return):
        return node.value is None or isinstance(node.value, ast.Constant)
    if isinstance(node, ast.Raise) and node.exc is not None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def own_statements(node: ast.AST) -> list[ast.stmt]:
    """Statements inside ``node`` (through if/for/try/...), not descending into nested defs."""
    found: list[ast.stmt] = []
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        if isinstance(child, ast.stmt):
            found.append(child)
            if isinstance(child, _DEFS):
                continue
        if isinstance(child, ast.Lambda):
            continue
        stack.extend(ast.iter_child_nodes(child))
    return found


def logical_statement_count(tree: ast.AST) -> int:
    """Non-trivial statements anywhere in the program, not counting def/class/import lines."""
    return sum(
        1
        for node in ast.walk(tree)
        if isinstance(node, ast.stmt) and not isinstance(node, _NON_LOGIC) and not is_trivial_statement(node)
    )


def has_real_function(tree: ast.AST) -> bool:
    """Whether some function's own body does real work (not just ``pass`` / ``return 0``)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(
                not isinstance(stmt, _NON_LOGIC) and not is_trivial_statement(stmt)
                for stmt in own_statements(node)
            ):
                return True
    return False


def parse_or_none(code: str) -> ast.Module | None:
    """``ast.parse`` that returns None instead of raising (and stays quiet about warnings)."""
    return _parse(code)
