"""Parse a dataset's `test` field (`def check(candidate): assert ...`) with `ast`, never `exec`.

Each assert becomes a TestCase (keyword/positional arguments, expected value, comparison mode).
Anything outside the small literal language below is reported as unparsed with its reason.
"""

from __future__ import annotations

import ast
import math
from typing import Any

from ..astparse import parse
from .problems import Arg, CompareMode, TestCase, UnparsedTest

_NAMED_CONSTANTS = {"inf": math.inf, "None": None, "True": True, "False": False}
_NODE_BUILDERS = {"list_node": "list_node", "tree_node": "tree_node"}
_SAME_HELPERS = {"is_same_list": "list_node", "is_same_tree": "tree_node"}
_MAX_POW_EXPONENT = 4096


class NotLiteral(ValueError):
    """A node outside the literal subset the parser accepts."""


def literal(node: ast.AST) -> Any:
    """Evaluate a literal expression: constants, containers, unary +/-, `inf`, small arithmetic."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _NAMED_CONSTANTS:
            return _NAMED_CONSTANTS[node.id]
        raise NotLiteral(f"unknown name {node.id!r}")
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [literal(e) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Set):
        return {literal(e) for e in node.elts}
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise NotLiteral("dict unpacking (**) is not a literal")
        return {literal(k): literal(v) for k, v in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = literal(node.operand)
        if not isinstance(v, (int, float)):
            raise NotLiteral("unary sign on a non-number")
        return -v if isinstance(node.op, ast.USub) else +v
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Pow)):
        left, right = literal(node.left), literal(node.right)
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (left, right)):
            raise NotLiteral("arithmetic on non-numbers")
        if isinstance(node.op, ast.Pow):
            if abs(right) > _MAX_POW_EXPONENT:
                raise NotLiteral("exponent too large")
            return left**right
        return _arith(node.op, left, right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
        if len(node.args) == 1 and not node.keywords:
            v = literal(node.args[0])
            if isinstance(v, (str, int, float)) and not isinstance(v, bool):
                return float(v)
        raise NotLiteral("unsupported float(...) call")
    raise NotLiteral(f"{type(node).__name__} is not a literal")


def _arith(op: ast.operator, left: float, right: float) -> float:
    if isinstance(op, ast.Add):
        return left + right
    if isinstance(op, ast.Sub):
        return left - right
    return left * right


def _argument(node: ast.AST) -> tuple[Any, str]:
    """An argument value with its kind: `list_node([...])`/`tree_node([...])` stay marked."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _NODE_BUILDERS:
        if len(node.args) != 1 or node.keywords:
            raise NotLiteral(f"{node.func.id}() takes exactly one list")
        values = literal(node.args[0])
        if not isinstance(values, (list, tuple)):
            raise NotLiteral(f"{node.func.id}() argument is not a list")
        return list(values), _NODE_BUILDERS[node.func.id]
    return literal(node), "value"


def _candidate_call(node: ast.AST) -> tuple[Arg, ...]:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "candidate"):
        raise NotLiteral("left side is not a call of candidate(...)")
    args: list[Arg] = []
    for a in node.args:
        if isinstance(a, ast.Starred):
            raise NotLiteral("starred argument")
        value, kind = _argument(a)
        args.append(Arg(None, value, kind))  # type: ignore[arg-type]
    for kw in node.keywords:
        if kw.arg is None:
            raise NotLiteral("**kwargs argument")
        value, kind = _argument(kw.value)
        args.append(Arg(kw.arg, value, kind))  # type: ignore[arg-type]
    return tuple(args)


SOURCE_LIMIT = 500  # the assert's text is kept for display only; literals can be megabytes


def parse_assert(stmt: ast.Assert, source: str = "") -> TestCase:
    """Turn one `assert` into a TestCase or raise NotLiteral with the reason."""
    test = stmt.test
    source = (source or ast.unparse(stmt))[:SOURCE_LIMIT]
    if isinstance(test, ast.Compare):
        if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
            raise NotLiteral("comparison is not a single ==")
        left, right = test.left, test.comparators[0]
        if not _is_candidate_call(left) and _is_candidate_call(right):
            left, right = right, left
        args = _candidate_call(left)
        expected, kind = _argument(right)
        compare: CompareMode = "eq" if kind == "value" else kind  # type: ignore[assignment]
        return TestCase(args=args, expected=_jsonable(expected), compare=compare, source=source)
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id in _SAME_HELPERS:
        if len(test.args) != 2 or test.keywords:
            raise NotLiteral(f"{test.func.id} needs two positional arguments")
        a, b = test.args
        if not _is_candidate_call(a) and _is_candidate_call(b):
            a, b = b, a
        args = _candidate_call(a)
        expected_kind = _SAME_HELPERS[test.func.id]
        if isinstance(b, ast.Constant) and b.value is None:
            return TestCase(args=args, expected=[], compare=expected_kind, source=source)  # type: ignore[arg-type]
        expected, kind = _argument(b)
        if kind != expected_kind:
            raise NotLiteral(f"{test.func.id} expects a {expected_kind}(...) value")
        return TestCase(args=args, expected=_jsonable(expected), compare=expected_kind, source=source)  # type: ignore[arg-type]
    raise NotLiteral(f"assert of {type(test).__name__} is not a supported test shape")


def _is_candidate_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "candidate"


def _jsonable(value: Any) -> Any:
    """Tuples become lists (LeetCode serialises both as arrays); sets and dicts are kept as they are."""
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def parse_check(test_source: str) -> tuple[list[TestCase], list[UnparsedTest]]:
    """Parse a whole `test` field. Raises ValueError if it is not a `check(candidate)` function, or
    is not text Python's parser can take (not a string, nested too deeply, too big for memory)."""
    if not isinstance(test_source, str):
        raise ValueError(f"test field must be a string, got {type(test_source).__name__}")
    try:
        module = parse(test_source)
    except SyntaxError as e:
        raise ValueError(f"test field is not valid Python: {e.msg} (line {e.lineno})") from None
    except (RecursionError, MemoryError, TypeError, ValueError) as e:
        reason = "nested too deeply" if isinstance(e, RecursionError) else f"{type(e).__name__}: {e}"
        raise ValueError(f"test field cannot be parsed ({reason})") from None
    checks = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if len(checks) != 1:
        raise ValueError("test field has no single `def check(candidate):`")
    tests: list[TestCase] = []
    unparsed: list[UnparsedTest] = []
    lines = test_source.splitlines()
    for stmt in checks[0].body:
        text = _segment(lines, stmt)
        if isinstance(stmt, ast.Assert):
            try:
                tests.append(parse_assert(stmt, text))
            except (NotLiteral, RecursionError, ValueError, OverflowError) as e:
                unparsed.append(UnparsedTest(text, str(e)))
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # a docstring
        elif isinstance(stmt, ast.Pass):
            continue
        else:
            unparsed.append(UnparsedTest(text, f"{type(stmt).__name__} statement is not an assert"))
    return tests, unparsed


def _segment(lines: list[str], node: ast.stmt) -> str:
    """The statement's own text (cheap slicing; `ast.unparse` of big literals is slow), capped."""
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    if first == last:
        text = lines[first][node.col_offset : node.end_col_offset]
    else:
        middle = lines[first + 1 : last]
        text = "\n".join([lines[first][node.col_offset :], *middle, lines[last][: node.end_col_offset]])
    return text[:SOURCE_LIMIT]
