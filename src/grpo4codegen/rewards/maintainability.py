"""Static maintainability reward from radon metrics, hardened against trivially short code.

Formula (all terms in [0, 1]):

* ``mi``: radon's maintainability index (0..100, from Halstead volume, total cyclomatic complexity
  and logical lines) divided by 100. It is computed *without* radon's comment term, so comment
  stuffing cannot buy maintainability (comments have their own reward dimension). The Halstead
  volume is floored at ``VOLUME_PER_TOKEN`` (0.5) times the number of code tokens (names,
  operators, numbers, strings; comments excluded): radon counts only arithmetic, boolean and
  comparison operators, so code that spells them as calls (``operator.add(a, b)``) has volume 0,
  and radon's formula returns a perfect 100 at volume 0 (and a bonus for tiny volumes). With the
  floor, the same algorithm written with calls has more tokens and so no better MI than the plain
  one; honest code sits above the floor (radon's volume is 0.5 to 1.6 per token on the built-in
  references) and keeps radon's number.
* ``cc``: per-function cyclomatic complexity ``c`` (methods and closures included) mapped by
  ``g(c)`` = 1 up to 5, then linearly 0.7 at 10, 0.3 at 20 and 0 at 40 (radon's A..F ranks);
  ``cc = 0.5 * g(mean c) + 0.5 * g(max c)`` so one monster function is not averaged away; the
  mean weighs each function by its decision points, ``mean c = sum(c * (c - 1)) / sum(c - 1)``
  (1 when no function branches): a function without a branch weighs nothing, so dead helpers
  cannot dilute it, however many statements they hold (three one-line ones lifted a complexity-14
  solution by 0.08 with a plain mean; a 40-statement one, 0.05 with a mean weighted by statements).
  The code outside every function (module level, class bodies) counts as one more function: a
  table computed at import and looked up by a one-line method has the complexity of its loops.
* ``nesting``: 1 for control-flow nesting depth <= 3 within a function, minus 0.15 per extra level,
  floored at 0.4; an ``elif`` is a sibling of its ``if``, not a level inside it.
* ``score = 0.45 * mi + 0.40 * cc + 0.15 * nesting``, then capped: at 0.1 when no function does
  real work (``pass``, ``return 0``, no function at all); at 0.1 too when the program runs code it
  holds as text, or reaches a way to (``dynamic_code.runs_code_from_text``): radon would rate the
  few visible lines, not the logic hidden in the text. Unparseable code scores 0.

Radon rates tiny programs as perfectly maintainable, hence the cap on programs that do no real work:
otherwise GRPO would learn that returning a constant is the most maintainable answer. A short program
that does real work is not capped: a correct one-liner is maintainable, and a cap on the number of
statements only taught padding (two throwaway assignments lifted a two-statement answer from 0.3 to
0.88). Correctness gating is the caller's job.
"""

from __future__ import annotations

import ast
import io
import logging
import tokenize
from dataclasses import dataclass
from typing import Any

from radon.complexity import cc_visit
from radon.metrics import mi_compute, mi_parameters
from radon.visitors import ComplexityVisitor, Function

from grpo4codegen import astparse
from grpo4codegen.rewards.dynamic_code import runs_code_from_text
from grpo4codegen.rewards.extract import (
    has_real_function,
    logical_statement_count,
    parse_or_none,
)

__all__ = ["maintainability_score", "maintainability_details"]

logger = logging.getLogger(__name__)

W_MI, W_CC, W_NEST = 0.45, 0.40, 0.15
CAP_NO_REAL_FUNCTION = 0.1
CAP_DYNAMIC_CODE = 0.1
VOLUME_PER_TOKEN = 0.5
_CODE_TOKENS = frozenset({tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING})
NEST_FREE_DEPTH = 3
NEST_STEP = 0.15
NEST_FLOOR = 0.4
#: (complexity, score) knots of the piecewise-linear complexity map
_CC_KNOTS: tuple[tuple[float, float], ...] = ((5, 1.0), (10, 0.7), (20, 0.3), (40, 0.0))
_NESTING = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.Match)


def complexity_score(c: float) -> float:
    """Map a cyclomatic complexity to [0, 1]: simple functions 1, radon rank F 0."""
    prev_c, prev_s = _CC_KNOTS[0]
    if c <= prev_c:
        return prev_s
    for knot_c, knot_s in _CC_KNOTS[1:]:
        if c <= knot_c:
            return prev_s + (knot_s - prev_s) * (c - prev_c) / (knot_c - prev_c)
        prev_c, prev_s = knot_c, knot_s
    return 0.0


def _functions(blocks: list[Any]) -> list[Function]:
    """Every function radon saw, methods and closures included (class blocks skipped)."""
    found: list[Function] = []
    stack = [b for b in blocks if isinstance(b, Function)]
    while stack:
        func = stack.pop()
        found.append(func)
        stack.extend(func.closures)
    return found


@dataclass(frozen=True)
class _Scope:
    """Code outside every function, scored as one more function (``complexity`` as radon's)."""

    complexity: int


def _outside_functions(tree: ast.Module) -> _Scope | None:
    """The statements of the module and of class bodies that are not definitions, as one block
    with radon's complexity (1 + decision points), or None when they make no decision. Logic moved
    out of the functions (a table computed at import, ``return TABLE[n]`` in the method) ran with
    no complexity at all: only functions have one in radon, so a complexity-9 sieve rated 1."""
    outside: list[ast.stmt] = []
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, ast.ClassDef):
            stack.extend(stmt.body)
        elif not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            outside.append(stmt)
    if not outside:
        return None
    complexity = ComplexityVisitor.from_ast(ast.Module(body=outside, type_ignores=[])).complexity
    return _Scope(complexity) if complexity > 1 else None


def weighted_mean_complexity(funcs: list[Any]) -> float:
    """Mean complexity weighted by decision points: ``sum(c * (c - 1)) / sum(c - 1)``, 1 without any.

    The complexity of the function that holds a randomly chosen branch. A function without a branch
    weighs nothing, so dead helpers, one-line or padded with statements, cannot dilute the mean
    (three of them lifted a complexity-14 solution by 0.08 with a plain mean over functions, and a
    40-statement one by 0.05 with a mean weighted by statements), while a split of a complex
    function into helpers that hold its branches still lowers it.
    """
    weight = sum(f.complexity - 1 for f in funcs)
    if weight <= 0:
        return 1.0
    return sum(f.complexity * (f.complexity - 1) for f in funcs) / weight


def max_nesting(tree: ast.AST) -> int:
    """Deepest control-flow nesting; a new function restarts the count. An ``elif`` is a sibling
    branch of its ``if``, not a level inside it (the AST holds it as an ``if`` in the ``else``: an
    if/elif chain of eight branches read as depth 8, and ``match`` or a run of ``if ...: continue``
    escaped the penalty for the same logic)."""

    def depth(node: ast.AST, level: int) -> int:
        best = level
        elif_branch = (
            node.orelse[0]
            if isinstance(node, ast.If) and len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If)
            else None
        )
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                best = max(best, depth(child, 0))
            elif child is elif_branch:
                best = max(best, depth(child, level))  # the `elif`: same level as its `if`
            elif isinstance(child, _NESTING):
                best = max(best, depth(child, level + 1))
            else:
                best = max(best, depth(child, level))
        return best

    return depth(tree, 0)


def code_tokens(code: str) -> int:
    """Names, operators, numbers and strings in ``code`` (comments and layout not counted)."""
    return sum(1 for tok in tokenize.generate_tokens(io.StringIO(code).readline) if tok.type in _CODE_TOKENS)


def maintainability_index(code: str) -> float:
    """radon's MI without the comment term, in [0, 1], with the Halstead volume floored at
    ``VOLUME_PER_TOKEN`` per code token (see the module docstring)."""
    with astparse.PARSE_LOCK:  # radon parses the code itself
        volume, total_cc, lloc, _comments = mi_parameters(code, count_multi=True)
    volume = max(volume, VOLUME_PER_TOKEN * code_tokens(code))
    # radon returns 100 when any term is 0; a program always has one line and one path
    return mi_compute(max(volume, 1.0), max(total_cc, 1), max(lloc, 1), 0.0) / 100.0


def _zero(reason: str) -> dict[str, Any]:
    """Details for code radon cannot read; same keys as a full result."""
    floats = dict.fromkeys(("score", "mi", "cc", "nesting", "cap", "raw", "mean_complexity"), 0.0)
    counts = dict.fromkeys(("max_complexity", "max_depth", "logical_statements", "functions"), 0)
    return {**floats, **counts, "reason": reason}


def maintainability_details(code: str) -> dict[str, Any]:
    """The maintainability score with its parts, for debugging reward behaviour."""
    tree = parse_or_none(code)
    if tree is None:
        return _zero("unparseable")
    try:
        mi = maintainability_index(code)
        with astparse.PARSE_LOCK:
            funcs: list[Any] = _functions(cc_visit(code))
            outside = _outside_functions(tree)
        n_functions = len(funcs)
        funcs += [outside] if outside is not None else []
        depth = max_nesting(tree)
    except (SyntaxError, ValueError, RecursionError, MemoryError, tokenize.TokenError) as exc:
        logger.debug("radon failed on candidate code: %s", exc)
        return _zero("radon_failed")
    complexities = [f.complexity for f in funcs] or [1]
    mean_cc = weighted_mean_complexity(funcs)
    cc = 0.5 * complexity_score(mean_cc) + 0.5 * complexity_score(max(complexities))
    nesting = max(NEST_FLOOR, 1.0 - NEST_STEP * max(0, depth - NEST_FREE_DEPTH))
    raw = W_MI * mi + W_CC * cc + W_NEST * nesting
    statements = logical_statement_count(tree)
    cap, reason = 1.0, ""
    if runs_code_from_text(tree):
        cap, reason = CAP_DYNAMIC_CODE, "dynamic_code"
    elif not has_real_function(tree):
        cap, reason = CAP_NO_REAL_FUNCTION, "no_real_function"
    return {
        "score": min(raw, cap),
        "reason": reason,
        "mi": mi,
        "cc": cc,
        "nesting": nesting,
        "cap": cap,
        "raw": raw,
        "mean_complexity": mean_cc,
        "max_complexity": max(complexities),
        "max_depth": depth,
        "logical_statements": statements,
        "functions": n_functions,
    }


def maintainability_score(code: str) -> float:
    """Maintainability of ``code`` in [0, 1]; see the module docstring for the formula."""
    return float(maintainability_details(code)["score"])
