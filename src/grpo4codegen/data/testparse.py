"""Parse a dataset's `test` field (`def check(candidate): assert ...`) with `ast`, never `exec`.

Each assert becomes a TestCase (keyword/positional arguments, expected value, comparison mode):
`candidate(...) == value`, `is_same_list`/`is_same_tree(candidate(...), ...)`, and the float checks
`abs(candidate(...) - x) < tol` and `math.isclose(candidate(...), x, abs_tol=tol)` with `tol` within
10x of 1e-5 (`FLOAT_TOLERANCE_BAND`), which become `==` against float(x): the sandbox compares floats
within LeetCode's 1e-5, as it does for `== 2.5`. The check's
parameter may have any name. Anything outside the small literal language below (which includes
`[0] * n`, `"a" * n` and `+` of sequences, within `MAX_LITERAL_ITEMS`) is reported as unparsed
with its reason.
"""

from __future__ import annotations

import ast
import math
import re
import textwrap
from typing import Any

from ..astparse import parse
from .problems import Arg, CompareMode, TestCase, UnparsedTest

_NAMED_CONSTANTS = {"inf": math.inf, "None": None, "True": True, "False": False}
_NODE_BUILDERS = {"list_node": "list_node", "tree_node": "tree_node"}
_SAME_HELPERS = {"is_same_list": "list_node", "is_same_tree": "tree_node"}
_MAX_POW_EXPONENT = 4096
_MAX_POW_BITS = 1 << 20
#: the longest sequence `[0] * n`, `"a" * n` or `+` may build (LeetCode inputs reach 10**5 or 10**6)
MAX_LITERAL_ITEMS = 10_000_000
_SEQUENCES = (str, list, tuple)


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
    if isinstance(node, ast.BinOp) and isinstance(node.op, _NUMBER_OPS):
        left, right = literal(node.left), literal(node.right)
        if isinstance(node.op, (ast.Add, ast.Mult)) and (
            isinstance(left, _SEQUENCES) or isinstance(right, _SEQUENCES)
        ):
            return _sequence_op(node.op, left, right)
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (left, right)):
            raise NotLiteral("arithmetic on non-numbers")
        if isinstance(node.op, ast.Pow):
            if abs(right) > _MAX_POW_EXPONENT:
                raise NotLiteral("exponent too large")
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and abs(left).bit_length() * right > _MAX_POW_BITS
            ):
                raise NotLiteral("power too large")  # ((2 ** 4096) ** 4096) ** 4096: gigabytes
            return left**right
        try:
            return _arith(node.op, left, right)
        except ZeroDivisionError:
            raise NotLiteral("division by zero") from None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
        if len(node.args) == 1 and not node.keywords:
            v = literal(node.args[0])
            if isinstance(v, (str, int, float)) and not isinstance(v, bool):
                return float(v)
        raise NotLiteral("unsupported float(...) call")
    raise NotLiteral(f"{type(node).__name__} is not a literal")


_NUMBER_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


def _arith(op: ast.operator, left: float, right: float) -> float:
    if isinstance(op, ast.Add):
        return left + right
    if isinstance(op, ast.Sub):
        return left - right
    if isinstance(op, ast.Div):
        return left / right
    if isinstance(op, ast.FloorDiv):
        return left // right
    if isinstance(op, ast.Mod):
        return left % right
    return left * right


def _sequence_op(op: ast.operator, left: Any, right: Any) -> Any:
    """`seq + seq` of one type, or `seq * int` / `int * seq`, bounded by MAX_LITERAL_ITEMS."""
    if isinstance(op, ast.Add):
        if type(left) is not type(right):
            raise NotLiteral(f"+ of {type(left).__name__} and {type(right).__name__}")
        size = _items(left) + _items(right)
    else:
        if isinstance(left, int) and not isinstance(left, bool):
            left, right = right, left
        if not (isinstance(left, _SEQUENCES) and isinstance(right, int) and not isinstance(right, bool)):
            raise NotLiteral("* of a sequence needs an integer count")
        size = _items(left) * max(right, 0)
    if size > MAX_LITERAL_ITEMS:
        raise NotLiteral(f"sequence of {size} items is longer than {MAX_LITERAL_ITEMS}")
    return left + right if isinstance(op, ast.Add) else left * right


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


def _items(value: Any, budget: int = MAX_LITERAL_ITEMS) -> int:
    """How many items (characters, scalars) a value holds, nested ones counted in full (`[[0] * n] * n`
    is n * n when sent), stopping once past `budget`."""
    if isinstance(value, str):
        return len(value)
    if not isinstance(value, (list, tuple, set, dict)):
        return 1
    total = 1
    for item in value.items() if isinstance(value, dict) else value:
        total += _items(item, budget - total)
        if total > budget:
            break
    return total


def _candidate_call(node: ast.AST, name: str = "candidate") -> tuple[Arg, ...]:
    if not _is_candidate_call(node, name):
        raise NotLiteral(f"left side is not a call of {name}(...)")
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


def parse_assert(stmt: ast.Assert, source: str = "", name: str = "candidate") -> TestCase:
    """Turn one `assert` into a TestCase or raise NotLiteral with the reason. `name` is the check
    function's parameter, the solution's method."""
    test = stmt.test
    source = (source or ast.unparse(stmt))[:SOURCE_LIMIT]
    close = _float_check(test, name)
    if close is not None:
        args, expected = close
        return TestCase(args=args, expected=expected, compare="eq", source=source)
    if isinstance(test, ast.Compare):
        if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
            raise NotLiteral("comparison is not a single ==")
        left, right = test.left, test.comparators[0]
        if not _is_candidate_call(left, name) and _is_candidate_call(right, name):
            left, right = right, left
        args = _candidate_call(left, name)
        expected, kind = _argument(right)
        compare: CompareMode = "eq" if kind == "value" else kind  # type: ignore[assignment]
        return TestCase(args=args, expected=_jsonable(expected), compare=compare, source=source)
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id in _SAME_HELPERS:
        if len(test.args) != 2 or test.keywords:
            raise NotLiteral(f"{test.func.id} needs two positional arguments")
        a, b = test.args
        if not _is_candidate_call(a, name) and _is_candidate_call(b, name):
            a, b = b, a
        args = _candidate_call(a, name)
        expected_kind = _SAME_HELPERS[test.func.id]
        if isinstance(b, ast.Constant) and b.value is None:
            return TestCase(args=args, expected=[], compare=expected_kind, source=source)  # type: ignore[arg-type]
        expected, kind = _argument(b)
        if kind != expected_kind:
            raise NotLiteral(f"{test.func.id} expects a {expected_kind}(...) value")
        return TestCase(args=args, expected=_jsonable(expected), compare=expected_kind, source=source)  # type: ignore[arg-type]
    raise NotLiteral(f"assert of {type(test).__name__} is not a supported test shape")


def _is_candidate_call(node: ast.AST, name: str = "candidate") -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name


def _float_check(test: ast.expr, name: str) -> tuple[tuple[Arg, ...], float] | None:
    """`abs(candidate(...) - x) < tol` (or `<=`, either operand order) or `[math.]isclose(candidate(...),
    x, ...)` as (arguments, float(x)); None for any other shape. Raises NotLiteral for a float check
    whose tolerance or expected value is not a plain number."""
    if (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], (ast.Lt, ast.LtE))
        and isinstance(test.left, ast.Call)
        and isinstance(test.left.func, ast.Name)
        and test.left.func.id == "abs"
        and len(test.left.args) == 1
        and not test.left.keywords
        and isinstance(test.left.args[0], ast.BinOp)
        and isinstance(test.left.args[0].op, ast.Sub)
    ):
        a, b = test.left.args[0].left, test.left.args[0].right
        if not _is_candidate_call(a, name):
            a, b = b, a
        if not _is_candidate_call(a, name):
            return None
        tolerance = _number(literal(test.comparators[0]), "tolerance")
        if not tolerance > 0:
            raise NotLiteral("float check with a tolerance that is not positive")
        _check_tolerance(tolerance)
        return _candidate_call(a, name), float(_number(literal(b), "expected value"))
    if isinstance(test, ast.Call) and _called_name(test.func) == "isclose":
        if len(test.args) != 2 or any(k.arg not in ("rel_tol", "abs_tol") for k in test.keywords):
            raise NotLiteral("isclose needs two positional arguments (and rel_tol/abs_tol)")
        a, b = test.args
        if not _is_candidate_call(a, name):
            a, b = b, a
        given = {k.arg: _number(literal(k.value), k.arg or "tolerance") for k in test.keywords}
        if "abs_tol" not in given:
            raise NotLiteral("isclose without abs_tol compares relatively; the sandbox compares within 1e-5")
        _check_tolerance(given["abs_tol"])
        if given.get("rel_tol", 0.0) > FLOAT_TOLERANCE_BAND[1]:
            raise NotLiteral(f"isclose with rel_tol {given['rel_tol']}; the sandbox compares within 1e-5")
        return _candidate_call(a, name), float(_number(literal(b), "expected value"))
    return None


#: the tolerances a float check may state to become `== float(x)`: the sandbox compares floats within
#: 1e-5 (LeetCode's judge), so a check within 10x of that means the same; a looser one would fail
#: answers the dataset accepts, a tighter one pass answers it rejects (left unparsed, with the reason)
FLOAT_TOLERANCE_BAND = (1e-6, 1e-4)


def _check_tolerance(tolerance: float) -> None:
    low, high = FLOAT_TOLERANCE_BAND
    if not low <= tolerance <= high:
        raise NotLiteral(f"float check with tolerance {tolerance}; the sandbox compares within 1e-5")


def _called_name(func: ast.expr) -> str | None:
    """`isclose` for `isclose(...)` and `math.isclose(...)`."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "math":
        return func.attr
    return None


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise NotLiteral(f"float check with a {what} that is not a number")
    return value


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
        try:
            module = parse(test_source)
        except IndentationError:  # the whole field indented (copied out of a class or a notebook)
            module = parse(textwrap.dedent(test_source))
            test_source = textwrap.dedent(test_source)
    except SyntaxError as e:
        if "integer string conversion" in str(e.msg):  # valid Python past the interpreter's int limit
            # an answer that long could not come back from the sandbox either: the problem is left out
            return [], [UnparsedTest(test_source[:SOURCE_LIMIT], f"test field: {e.msg}")]
        raise ValueError(f"test field is not valid Python: {e.msg} (line {e.lineno})") from None
    except (RecursionError, MemoryError, TypeError, ValueError) as e:
        reason = "nested too deeply" if isinstance(e, RecursionError) else f"{type(e).__name__}: {e}"
        raise ValueError(f"test field cannot be parsed ({reason})") from None
    checks = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if len(checks) != 1:
        raise ValueError("test field has no single `def check(candidate):`")
    params = checks[0].args.posonlyargs + checks[0].args.args
    name = params[0].arg if params else "candidate"
    tests: list[TestCase] = []
    unparsed: list[UnparsedTest] = []
    lines = _LINE_BREAK.split(test_source)
    for stmt in checks[0].body:
        text = _segment(lines, stmt)
        if isinstance(stmt, ast.Assert):
            try:
                tests.append(parse_assert(stmt, text, name))
            except (NotLiteral, RecursionError, ValueError, OverflowError) as e:
                unparsed.append(UnparsedTest(text, str(e)))
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # a docstring
        elif isinstance(stmt, ast.Pass):
            continue
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)) and all(
            (alias.asname or alias.name.split(".")[0]) != name for alias in stmt.names
        ):
            continue  # `import math` for the `math.isclose` below
        else:
            unparsed.append(UnparsedTest(text, f"{type(stmt).__name__} statement is not an assert"))
    return tests, unparsed


#: the line breaks of Python's tokenizer (`str.splitlines` also breaks at \\f, \\x1c or U+2028, which
#: a string literal may hold, and the statements' line numbers would then point at other lines)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _segment(lines: list[str], node: ast.stmt) -> str:
    """The statement's own text (cheap slicing; `ast.unparse` of big literals is slow), capped. Column
    offsets count UTF-8 bytes."""
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    head = lines[first].encode()
    if first == last:
        text = head[node.col_offset : node.end_col_offset].decode(errors="replace")
    else:
        tail = lines[last].encode()[: node.end_col_offset].decode(errors="replace")
        text = "\n".join([head[node.col_offset :].decode(errors="replace"), *lines[first + 1 : last], tail])
    return text[:SOURCE_LIMIT]
