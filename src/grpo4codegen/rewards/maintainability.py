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
  mean weighs each function by the statements it holds itself (nested functions not counted), so
  dead one-line helpers cannot dilute it (three of them lifted a complexity-14 solution by 0.08).
* ``nesting``: 1 for control-flow nesting depth <= 3 within a function, minus 0.15 per extra level,
  floored at 0.4.
* ``score = 0.45 * mi + 0.40 * cc + 0.15 * nesting``, then capped: at 0.1 when no function does
  real work (``pass``, ``return 0``, no function at all); at 0.1 too when the program runs code it
  holds as text, or reaches a way to: ``exec``/``eval``/``compile``, the builtins module
  (``builtins``, ``__builtins__``, ``__import__``) or interpreter internals (``__globals__``,
  ``__code__``, ``__subclasses__``), by name, attribute, import or a string naming them;
  ``getattr``, ``attrgetter``, ``methodcaller`` or ``import_module`` with a computed name
  (``getattr(builtins, "ex" + "ec")``; a constant name is ordinary), or passed as a value
  (``reduce(getattr, names, obj)``); any call of ``globals()``, ``locals()`` or ``vars()`` (a
  namespace as a dict reaches every name without naming one); attributes that reach a namespace,
  the builtins module or a frame (``__dict__``, ``__self__`` (``print.__self__`` is the builtins
  module), ``__getattribute__``, ``__mro__``, ``sys.modules``, ``sys._getframe``, ``f_globals``,
  ...); an import of a module that runs source text, deserialises code or starts another program
  (``timeit``, ``cProfile``, ``code``, ``runpy``, ``doctest``, ``pickle``, ``marshal``, ``ctypes``,
  ``importlib``, ``subprocess``, ``inspect``, ``gc``, ...) or ``os.system``-style spawning; or a
  string constant that is itself a program of two or more statements, not all bare expressions.
  Radon would rate the few visible lines, not the logic hidden in the string (which may be
  encoded: hex, base64, reversed). None of these appears in the 4,127 LeetCodeDataset reference
  solutions and model responses. Unparseable code scores 0.

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

from grpo4codegen import astparse
from grpo4codegen.rewards.extract import (
    has_real_function,
    logical_statement_count,
    own_statements,
    parse_or_none,
)

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
        # attributes that reach a namespace, the builtins module or any object by name:
        # `print.__self__` is the builtins module, `mod.__dict__[key]` a look-up by name
        "__dict__",
        "__self__",
        "__getattribute__",
        "__getattr__",
        "__mro__",
        "__base__",
        "__bases__",
        "__closure__",
        "__func__",
        "__loader__",
        "__spec__",
        # frames hold every namespace (`sys._getframe().f_builtins`)
        "_getframe",
        "f_builtins",
        "f_globals",
        "f_locals",
        "f_back",
        "tb_frame",
        "gi_frame",
        "cr_frame",
    }
)
#: modules that run source text or deserialise code (`timeit.timeit(stmt)`, `cProfile.run(stmt)`,
#: `code.InteractiveInterpreter().runsource`, `pickle.loads`), or start another interpreter;
#: checked on imports only (`code` or `trace` as a variable name is ordinary)
_RUNNER_MODULES = frozenset(
    {
        "timeit",
        "cProfile",
        "profile",
        "trace",
        "code",
        "codeop",
        "runpy",
        "pdb",
        "bdb",
        "doctest",
        "pickle",
        "marshal",
        "shelve",
        "dill",
        "cloudpickle",
        "ctypes",
        "importlib",
        "imp",
        "zipimport",
        "subprocess",
        "pty",
        "inspect",
        "gc",
    }
)
#: attributes of `os` that start another program
_SPAWN = frozenset(
    {"system", "popen", "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp", "execvpe"}
    | {"spawnv", "spawnve", "spawnl", "spawnle", "spawnlp", "spawnvp", "posix_spawn", "posix_spawnp"}
)
_SCOPES = frozenset({"globals", "locals", "vars"})
#: regular-expression modules: their `compile` is not Python's
_REGEX = frozenset({"re", "regex"})
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


def weighted_mean_complexity(funcs: list[Function], tree: ast.AST) -> float:
    """Mean complexity per statement: each function weighs as many statements as it holds itself.

    A plain mean over functions is diluted by functions that hold nothing: three dead one-line
    helpers next to a complexity-14 method made the mean 4.2 and raised the score by 0.08 with no
    change to the code that runs. Weighted by statements, the complexity a reader meets per line
    of code, a split into real helpers still lowers it while an empty function barely counts.
    """
    if not funcs:
        return 1.0
    sizes = {
        (node.lineno, node.name): max(1, len(own_statements(node)))
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    weights = [sizes.get((f.lineno, f.name), 1) for f in funcs]
    return sum(f.complexity * w for f, w in zip(funcs, weights, strict=True)) / sum(weights)


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
            funcs = _functions(cc_visit(code))
        depth = max_nesting(tree)
    except (SyntaxError, ValueError, RecursionError, MemoryError, tokenize.TokenError) as exc:
        logger.debug("radon failed on candidate code: %s", exc)
        return _zero("radon_failed")
    complexities = [f.complexity for f in funcs] or [1]
    mean_cc = weighted_mean_complexity(funcs, tree)
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


def _is_modules(node: ast.Attribute) -> bool:
    """``sys.modules`` (under any alias of ``sys``): every loaded module, the builtins module included."""
    return (
        node.attr == "modules" and isinstance(node.value, ast.Name) and node.value.id not in ("self", "cls")
    )


def _reaches_dynamic_code(node: ast.AST) -> bool:
    """One node that names or reaches a code runner: ``exec``/``eval``/``compile``, the builtins
    module (``builtins``, ``__builtins__``, ``__import__``) or interpreter internals
    (``__globals__``, ``__code__``, ``__subclasses__``), by name, attribute, import or string;
    ``getattr`` (``attrgetter``, ``methodcaller``, ``import_module``) with a computed name; ``globals()``/``locals()``/``vars()`` indexed by a computed key."""
    if isinstance(node, ast.Name):
        return node.id in _DYNAMIC
    if isinstance(node, ast.Attribute):
        if node.attr == "compile" and isinstance(node.value, ast.Name) and node.value.id in _REGEX:
            return False  # `re.compile(pattern)` compiles a regular expression, not Python
        return node.attr in _DYNAMIC or node.attr in _SPAWN or _is_modules(node)
    if isinstance(node, ast.alias):
        root = node.name.split(".")[0]
        return root in _DYNAMIC or root in _RUNNER_MODULES or node.name in _DYNAMIC
    if isinstance(node, ast.ImportFrom):
        root = (node.module or "").split(".")[0]
        if root == "sys" and any(a.name in ("modules", "_getframe") for a in node.names):
            return True
        return root in _DYNAMIC or root in _RUNNER_MODULES
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _SCOPES:
        return True  # a namespace as a dict: its items reach every name without naming one
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.strip() in _DYNAMIC
    if isinstance(node, ast.Call) and _callee(node) in _BY_NAME:
        position = _BY_NAME[_callee(node)]
        return len(node.args) > position and not (
            isinstance(node.args[position], ast.Constant) and isinstance(node.args[position].value, str)
        )
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


def _passes_lookup(tree: ast.AST) -> bool:
    """``getattr`` (or another by-name look-up) used as a value, not called: ``reduce(getattr, names,
    obj)`` or ``map(getattr, ...)`` looks up computed names where no call shows them."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return any(
        isinstance(n, ast.Name) and n.id in _BY_NAME and id(n) not in called and isinstance(n.ctx, ast.Load)
        for n in ast.walk(tree)
    )


def _own_defs(scope: ast.AST) -> set[str]:
    """Names a module or function binds with its own ``def`` / ``class`` (not those of nested scopes)."""
    names: set[str] = set()
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if not isinstance(node, ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))
    return names


def _shadowed_names(tree: ast.AST) -> set[int]:
    """ids of the Name nodes that refer to the program's own function or class of a dynamic name
    (a parser's nested ``def eval():`` called as ``eval()``), not to the builtin."""
    found: set[int] = set()

    def visit(node: ast.AST, visible: frozenset[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Name) and child.id in visible:
                found.add(id(child))
            inner = visible
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = visible | (_own_defs(child) & _DYNAMIC)
            visit(child, inner)

    visit(tree, frozenset(_own_defs(tree) & _DYNAMIC))
    methods = {
        n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    } & _DYNAMIC
    found.update(  # `self.eval()` calls the class's own method `eval`
        id(n)
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute)
        and n.attr in methods
        and isinstance(n.value, ast.Name)
        and n.value.id in ("self", "cls")
    )
    return found


def runs_code_from_text(tree: ast.AST) -> bool:
    """Does the program run (or reach a way to run) source it holds as text? See
    ``_reaches_dynamic_code`` and ``_is_program_text``; ``getattr(obj, "name")`` is ordinary, and so
    is a name the program defines itself (its own ``def eval():``)."""
    shadowed = _shadowed_names(tree)
    return _passes_lookup(tree) or any(
        (_reaches_dynamic_code(node) and id(node) not in shadowed) or _is_program_text(node)
        for node in ast.walk(tree)
    )


def maintainability_score(code: str) -> float:
    """Maintainability of ``code`` in [0, 1]; see the module docstring for the formula."""
    return float(maintainability_details(code)["score"])
