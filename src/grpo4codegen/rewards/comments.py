"""Static comment-quality reward: does the code carry the kind of comments a reviewer wants?

A policy trained on a naive comment reward learns to stuff: identifier lists, a comment on every
line, the same comment repeated, essays, commented-out code. Every piece of this score exists to
make those lose against a plainly well-commented solution.

Formula (all terms in [0, 1]):

* Units. ``#`` comments come from ``tokenize`` (so a ``#`` inside a string is not a comment);
  consecutive full-line comments at the same column form one unit; an inline comment is its own
  unit. Docstrings and other bare string statements (found with ``ast``) are units too. Pragmas
  (``# noqa``, ``# type:``, shebang, coding line) are ignored.
* Per unit ``s = content * length``.
  ``content`` is 0 for commented-out code and for a repeat (same or near-same words as an earlier
  unit); 0.1 when the unit has no prose word (an identifier list, a banner); otherwise it depends
  on the share ``f`` of its words that are identifiers of the code: 0.8 when ``f = 0`` (prose that
  never names the code), 1.0 for ``0 < f <= 0.5``, falling linearly to 0.2 at ``f = 1``.
  ``length`` is 0.4 for one word, 0.75 for two, 1.0 up to 25 words (docstrings: 60), then falls
  linearly to 0 at 100 words (docstrings: 200); lines wider than 120 characters scale it down.
* ``quality`` = mean of ``s`` over units (0 without units).
* ``density``: ``r`` = documentation lines / code lines, where each comment line counts 1 and a
  docstring counts ``1 + 0.25`` per extra non-blank line (at most 3). It is ``r / 0.15`` below
  0.15, 1 on ``[0.15, 0.5]`` and ``1 - (r - 0.5) / 0.75`` above (0 from ``r = 1.25``).
* ``score = quality * density``, and 0 for unparseable code or code where no function does real
  work (empty code, only comments, ``pass``).
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass, field
from typing import Any

from grpo4codegen.rewards.extract import has_real_function, parse_or_none

__all__ = ["comment_score", "comment_details"]

RATIO_LOW = 0.15
RATIO_HIGH = 0.5
RATIO_ZERO = 1.25
WIDE_LINE = 120
DUPLICATE_JACCARD = 0.8

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PRAGMA = re.compile(r"^\s*(type:|noqa|pragma|pylint:|fmt:|isort:|mypy:|ruff:)", re.IGNORECASE)
_HEADER = re.compile(r"^(!|.*coding[:=])")
_BLOCK_KEYWORD = re.compile(r"^(else|try|finally)\s*:$|^(elif|except|with|async\s+for|async\s+with)\b.*:$")
_CODE_PUNCTUATION = re.compile(r"[=()\[\]{}:.+\-*/<>%,]")
_CODE_STATEMENTS = (
    ast.Assign,
    ast.AugAssign,
    ast.Return,
    ast.For,
    ast.While,
    ast.If,
    ast.With,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Import,
    ast.ImportFrom,
    ast.Delete,
    ast.Raise,
    ast.Try,
    ast.Break,
    ast.Continue,
    ast.Pass,
    ast.Global,
    ast.Nonlocal,
)
_SKIP_TOKENS = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}


@dataclass
class _Unit:
    """One piece of documentation: a comment block, an inline comment or a docstring."""

    kind: str  # "comment", "inline" or "docstring"
    line: int
    lines: list[str]
    words: list[str] = field(default_factory=list)
    content: float = 0.0
    length: float = 0.0
    flag: str = ""  # why content was cut: "code", "duplicate", "no_prose"

    @property
    def score(self) -> float:
        return self.content * self.length


_COUNTS = ("code_lines", "n_units", "n_docstrings", "commented_out_code", "duplicates", "no_prose")


def _zero(reason: str) -> dict[str, Any]:
    """Details for code that cannot earn anything; same keys as a full result."""
    floats = dict.fromkeys(
        ("score", "quality", "density", "ratio", "doc_lines", "mean_length", "mean_content"), 0.0
    )
    return {**floats, **dict.fromkeys(_COUNTS, 0), "reason": reason, "units": []}


def _identifiers(tree: ast.AST) -> set[str]:
    """Every name the code uses or defines, lower-cased: what a relevant comment talks about."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
    return {n.lower() for n in names}


def _string_statements(tree: ast.AST) -> list[ast.Expr]:
    """Docstrings and other bare string statements (prose hidden in a string, or disabled code)."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]


def _line_is_code(line: str, identifiers: frozenset[str] = frozenset()) -> bool:
    """Whether a comment line reads as disabled code rather than prose (``x = 1``, ``for i in x:``).

    Without code punctuation a line like ``return early`` is prose; it only counts as code when
    every name in it is a name of the program (``return res``).
    """
    text = line.strip()
    if not text:
        return False
    if _BLOCK_KEYWORD.match(text):
        return True
    tree = parse_or_none(text + " pass" if text.endswith(":") else text)
    if tree is None:
        return False
    if not _CODE_PUNCTUATION.search(text):
        names = {n.id.lower() for n in ast.walk(tree) if isinstance(n, ast.Name)}
        if not names <= identifiers:
            return False
    for stmt in tree.body:
        if isinstance(stmt, _CODE_STATEMENTS) or isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            return True
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            func = stmt.value.func
            # ``O(n)`` is complexity notation, ``print(ans)`` / ``nums.sort()`` is code
            if not (isinstance(func, ast.Name) and len(func.id) == 1):
                return True
    return False


def _is_code(lines: list[str], identifiers: frozenset[str]) -> bool:
    """A unit is disabled code when it parses as a program or most of its lines look like code."""
    body = [ln for ln in lines if ln.strip()]
    if not body:
        return False
    flags = [_line_is_code(ln, identifiers) for ln in body]
    if len(body) > 1 and any(flags) and parse_or_none(textwrap.dedent("\n".join(body))) is not None:
        return True
    return sum(flags) * 2 >= len(body)


def _comment_units(code: str) -> tuple[list[_Unit], set[int], int]:
    """Comment units, the set of lines holding code tokens, and the number of comment lines."""
    units: list[_Unit] = []
    code_lines: set[int] = set()
    comment_lines = 0
    last: tuple[int, int] | None = None  # (line, column) of the previous full-line comment
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type not in _SKIP_TOKENS:
            code_lines.update(range(tok.start[0], tok.end[0] + 1))
            continue
        if tok.type != tokenize.COMMENT:
            continue
        text = tok.string[1:].strip()
        line, col = tok.start
        if _PRAGMA.match(text) or (line <= 2 and _HEADER.match(tok.string[1:])):
            continue
        inline = line in code_lines
        continues = not inline and last == (line - 1, col) and bool(units) and units[-1].kind == "comment"
        if continues:
            units[-1].lines.append(text)
        elif text:
            units.append(_Unit("inline" if inline else "comment", line, [text]))
        else:
            continue  # a lone empty ``#`` neither documents nor stuffs
        comment_lines += 1
        last = None if inline else (line, col)
    return units, code_lines, comment_lines


def _length_score(n_words: int, widest: int, docstring: bool) -> float:
    """Short-but-informative wins; one-word tags and essays lose."""
    full, zero = (60, 200) if docstring else (25, 100)
    if n_words == 0:
        base = 0.0
    elif n_words == 1:
        base = 0.4
    elif n_words == 2:
        base = 0.75
    elif n_words <= full:
        base = 1.0
    else:
        base = max(0.0, 1.0 - (n_words - full) / (zero - full))
    if widest > WIDE_LINE:
        base *= max(0.3, WIDE_LINE / widest)
    return base


def _content_score(words: list[str], identifiers: frozenset[str]) -> tuple[float, str]:
    """Prose that names some of the code's identifiers is best; a bare identifier list is worst."""
    ids = [w for w in words if w.lower() in identifiers]
    prose = [
        w
        for w in words
        if w.lower() not in identifiers and w.isalpha() and len(w) >= 2 and re.search(r"[aeiouyAEIOUY]", w)
    ]
    if not prose:
        return 0.1, "no_prose"
    share = len(ids) / len(words)
    if share == 0:
        return 0.8, ""
    if share <= 0.5:
        return 1.0, ""
    return 1.0 - 1.6 * (share - 0.5), ""


def _density(ratio: float) -> float:
    if ratio < RATIO_LOW:
        return ratio / RATIO_LOW
    if ratio <= RATIO_HIGH:
        return 1.0
    return max(0.0, 1.0 - (ratio - RATIO_HIGH) / (RATIO_ZERO - RATIO_HIGH))


def _is_repeat(words: list[str], seen: list[set[str]]) -> bool:
    """Same words as an earlier unit, or nearly so (Jaccard above the threshold)."""
    bag = {w.lower() for w in words}
    for other in seen:
        union = bag | other
        if union and len(bag & other) / len(union) >= DUPLICATE_JACCARD:
            return True
    return False


def comment_details(code: str) -> dict[str, Any]:
    """The comment score with its parts, for debugging reward behaviour."""
    tree = parse_or_none(code)
    if tree is None:
        return _zero("unparseable")
    if not has_real_function(tree):
        return _zero("no_real_code")
    try:
        units, code_lines, doc_lines = _comment_units(code)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return _zero("untokenizable")
    doc_weight = float(doc_lines)
    for node in _string_statements(tree):
        text = textwrap.dedent(node.value.value).strip("\n")  # type: ignore[attr-defined]
        lines = [ln.strip() for ln in text.split("\n")]
        units.append(_Unit("docstring", node.lineno, lines))
        code_lines.difference_update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        doc_weight += min(3.0, 1.0 + 0.25 * (sum(1 for ln in lines if ln) - 1))
    units.sort(key=lambda u: u.line)

    identifiers = frozenset(_identifiers(tree))
    seen: list[set[str]] = []
    for unit in units:
        unit.words = _WORD.findall(" ".join(unit.lines))
        widest = max((len(ln) for ln in unit.lines), default=0)
        unit.length = _length_score(len(unit.words), widest, unit.kind == "docstring")
        if _is_code(unit.lines, identifiers):
            unit.content, unit.flag = 0.0, "code"
        elif unit.words and _is_repeat(unit.words, seen):
            unit.content, unit.flag = 0.0, "duplicate"
        else:
            unit.content, unit.flag = _content_score(unit.words, identifiers)
        if unit.words:
            seen.append({w.lower() for w in unit.words})

    quality = sum(u.score for u in units) / len(units) if units else 0.0
    ratio = doc_weight / max(1, len(code_lines))
    density = _density(ratio)
    flags = [u.flag for u in units]
    return {
        "score": quality * density,
        "reason": "" if units else "no_comments",
        "quality": quality,
        "density": density,
        "ratio": ratio,
        "code_lines": len(code_lines),
        "doc_lines": doc_weight,
        "n_units": len(units),
        "n_docstrings": sum(u.kind == "docstring" for u in units),
        "mean_length": sum(u.length for u in units) / len(units) if units else 0.0,
        "mean_content": sum(u.content for u in units) / len(units) if units else 0.0,
        "commented_out_code": flags.count("code"),
        "duplicates": flags.count("duplicate"),
        "no_prose": flags.count("no_prose"),
        "units": [
            {"kind": u.kind, "line": u.line, "words": len(u.words), "content": u.content, "length": u.length}
            for u in units
        ],
    }


def comment_score(code: str) -> float:
    """Comment quality of ``code`` in [0, 1]; see the module docstring for the formula."""
    return float(comment_details(code)["score"])
