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
  ``cc = 0.5 * g(mean c) + 0.5 * g(max c)`` so one monster function is not averaged away.
* ``nesting``: 1 for control-flow nesting depth <= 3 within a function, minus 0.15 per extra level,
  floored at 0.4.
* ``score = 0.45 * mi + 0.40 * cc + 0.15 * nesting``, then capped: at 0.1 when no function does
  real work (``pass``, ``return 0``, no function at all); at 0.1 too when the program runs code it
  holds as text, or reaches a way to: ``exec``/``eval``/``compile``, the builtins module
  (``builtins``, ``__builtins__``, ``__import__``) or interpreter internals (``__globals__``,
  ``__code__``, ``__subclasses__``), by name, attribute, import or a string naming them;
  ``getattr``, ``attrgetter``, ``methodcaller`` or ``import_module`` with a computed name
  (``getattr(builtins, "ex" + "ec")``; a constant name is ordinary); ``globals()[key]``-style lookups with a computed key; or a string constant that is
  itself a program of two or more statements, not all bare expressions. Radon would rate the few
  visible lines, not the logic hidden in the string. Unparseable code scores 0.

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
from typing import Any

from radon.complexity import cc_visit
from radon.metrics import mi_compute, mi_parameters
from radon.visitors import Function

from grpo4codegen.rewards.extract import has_real_function, logical_statement_count, parse_or_none

__all__ = ["maintainability_score", "maintainability_details"]

logger = logging.getLogger(__name__)

W_MI, W_CC, W_NEST = 0.45, 0.40, 0.15
CAP_NO_REAL_FUNCTION = 0.1
CAP_DYNAMIC_CODE = 0.1
VOLUME_PER_TOKEN = 0.5
_CODE_TOKENS = frozenset({tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING})
#: names that run text as code, or reach something that can (the builtins module, interpreter internals)
_DYNAMIC = frozenset(
    {
        "exec",
        "eval",
        "compile",
        "builtins",
        "__builtins__",
        "__builtin__",
        "__import__",
        "__globals__",
        "__code__",
        "__subclasses__",
    }
)
_SCOPES = frozenset({"globals", "locals", "vars"})
#: look-ups by name (callee -> position of the name argument): harmless with a constant name only
_BY_NAME = {"getattr": 1, "attrgetter": 0, "methodcaller": 0, "import_module": 0}
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


def max_nesting(tree: ast.AST) -> int:
    """Deepest control-flow nesting; a new function restarts the count."""

    def depth(node: ast.AST, level: int) -> int:
        best = level
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                best = max(best, depth(child, 0))
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
        funcs = _functions(cc_visit(code))
        depth = max_nesting(tree)
    except (SyntaxError, ValueError, RecursionError, MemoryError, tokenize.TokenError) as exc:
        logger.debug("radon failed on candidate code: %s", exc)
        return _zero("radon_failed")
    complexities = [f.complexity for f in funcs] or [1]
    mean_cc = sum(complexities) / len(complexities)
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
        "functions": len(funcs),
    }


def _callee(call: ast.Call) -> str:
    """The called name: ``f`` for ``f(...)`` and ``mod.f(...)``, else ``""``."""
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _reaches_dynamic_code(node: ast.AST) -> bool:
    """One node that names or reaches a code runner: ``exec``/``eval``/``compile``, the builtins
    module (``builtins``, ``__builtins__``, ``__import__``) or interpreter internals
    (``__globals__``, ``__code__``, ``__subclasses__``), by name, attribute, import or string;
    ``getattr`` (``attrgetter``, ``methodcaller``, ``import_module``) with a computed name; ``globals()``/``locals()``/``vars()`` indexed by a computed key."""
    if isinstance(node, ast.Name):
        return node.id in _DYNAMIC
    if isinstance(node, ast.Attribute):
        return node.attr in _DYNAMIC
    if isinstance(node, ast.alias):
        return node.name.split(".")[0] in _DYNAMIC or node.name in _DYNAMIC
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] in _DYNAMIC
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.strip() in _DYNAMIC
    if isinstance(node, ast.Call) and _callee(node) in _BY_NAME:
        position = _BY_NAME[_callee(node)]
        return len(node.args) > position and not (
            isinstance(node.args[position], ast.Constant) and isinstance(node.args[position].value, str)
        )
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Call):
        func = node.value.func
        return isinstance(func, ast.Name) and func.id in _SCOPES and not isinstance(node.slice, ast.Constant)
    return False


def _is_program_text(node: ast.AST) -> bool:
    """A string constant that parses as a program of two or more statements, not all bare
    expressions (lines of bare words parse as expression statements: prose, not a program)."""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return False
    text = node.value
    if "\n" not in text.strip() and ";" not in text:
        return False
    program = parse_or_none(text)
    statements = [n for n in ast.walk(program) if isinstance(n, ast.stmt)] if program is not None else []
    return len(statements) >= 2 and any(not isinstance(n, ast.Expr) for n in statements)


def runs_code_from_text(tree: ast.AST) -> bool:
    """Does the program run (or reach a way to run) source it holds as text? See
    ``_reaches_dynamic_code`` and ``_is_program_text``; ``getattr(obj, "name")`` is ordinary."""
    return any(_reaches_dynamic_code(node) or _is_program_text(node) for node in ast.walk(tree))


def maintainability_score(code: str) -> float:
    """Maintainability of ``code`` in [0, 1]; see the module docstring for the formula."""
    return float(maintainability_details(code)["score"])
