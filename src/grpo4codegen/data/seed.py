"""The original GRPO4CodeGen's file and wire formats: typed unit tests and printed values.

The seed's notebooks write LeetCodeDataset rows without the `test` field; each row carries instead
`unittests: [{"input": "<JSON object of keyword arguments>\\n", "output": [{"type": T, "value": V}]}]`
with T one of `general`, `list_node`, `tree_node` and V the dataset's expected output as LeetCode text
(`"[7,0,8]"`, `"true"`, `"\\"abc\\""`), plus `preCodeSegment` (imports, ListNode/TreeNode, the
`list_node`/`tree_node` builders and `print_list`/`print_tree`) and `postCodeSegment` (reads the JSON
object from stdin, calls the entry point with it and prints the result: `print_list` for linked lists,
`print_tree` for trees, `print` otherwise). The query is renamed to `prompt`.

This module reads those values (never executing any of them): `parse_output_value` for an expected
value, `parse_printed` for what a program printed, and `TypedOutput`, the comparison of a program's
stdout with an expected typed value that the executor runs in the parent process.
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from ..astparse import parse
from .problems import Arg, ArgKind, CompareMode, TestCase, UnparsedTest

OUTPUT_TYPES: dict[str, CompareMode] = {"general": "eq", "list_node": "list_node", "tree_node": "tree_node"}
#: printed text longer than this is not parsed as a value (compared as text only)
MAX_PRINTED_CHARS = 4 << 20
#: printed text longer than this is read only when it translates to JSON (see parse_printed)
AST_MAX_CHARS = 64 << 10
_PRINTED_NAMES = {"None": None, "True": True, "False": False, "inf": math.inf, "nan": math.nan}


class NotAValue(ValueError):
    """Text that is not a printed or LeetCode-formatted value."""


def parse_printed(text: str) -> Any:
    """The value whose `print()` (Python repr of containers, str of the top level) gave `text`.

    Only literals: numbers, strings, None/True/False, inf/nan, unary signs, and lists, tuples, sets
    and dicts of those. No arithmetic, names or calls. Text that is JSON once Python's words and
    quotes are translated (the usual printed lists of numbers, strings and None) is read by the JSON
    parser; only the rest (sets, tuples of one, escapes, non-string keys) goes through `ast`, and
    only up to AST_MAX_CHARS, because an AST costs about 200 bytes per character.
    """
    text = text.strip()
    if not text or len(text) > MAX_PRINTED_CHARS:
        raise NotAValue("empty or too long")
    for candidate in (text, _as_json(text)):
        if candidate is None:
            continue
        try:
            return json.loads(candidate)
        except (ValueError, RecursionError):
            pass
    if len(text) > AST_MAX_CHARS:
        raise NotAValue("too long to read as a Python literal")
    try:
        tree = parse(text, mode="eval")
        return _printed_literal(tree.body)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as e:
        raise NotAValue(str(e)) from None


_JSON_SWAPS = {
    "None": "null",
    "True": "true",
    "False": "false",
    "inf": "Infinity",
    "nan": "NaN",
    "(": "[",
    ")": "]",
}
_PY_WORDS = re.compile(r'"[^"]*"|\b(?:None|True|False|inf|nan)\b|[()]')


def _as_json(text: str) -> str | None:
    """Printed Python as JSON text, where that translation is exact (no escapes, one kind of quote)."""
    if "\\" in text or ("'" in text and '"' in text):
        return None
    if "'" in text:
        text = text.replace("'", '"')
    return _PY_WORDS.sub(lambda m: _JSON_SWAPS.get(m.group(0), m.group(0)), text)


def _printed_literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
        return node.value
    if isinstance(node, ast.Name) and node.id in _PRINTED_NAMES:
        return _PRINTED_NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _printed_literal(node.operand)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise NotAValue("sign on a non-number")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_printed_literal(e) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Set):
        return {_hashable(_printed_literal(e)) for e in node.elts}
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise NotAValue("dict unpacking")
        return {
            _hashable(_printed_literal(k)): _printed_literal(v)  # type: ignore[arg-type]
            for k, v in zip(node.keys, node.values, strict=True)
        }
    raise NotAValue(f"{type(node).__name__} is not a printed value")


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        raise NotAValue("unhashable element")
    return value


def parse_output_value(value: Any) -> Any:
    """An expected value as the seed's files hold it: LeetCode text (JSON, or Python-style), or already
    decoded JSON. Raises NotAValue for text that is neither."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        pass
    return parse_printed(value)


@dataclass(frozen=True)
class Expected:
    """One accepted output of a typed unit test: how to compare, and the expected value."""

    compare: CompareMode
    value: Any
    #: the expected printed text, for a `general` value that is a string (`print` shows it unquoted)
    text: str | None = None


def expected_from_output(item: Any) -> Expected:
    """One entry of a unit test's `output` list: `{"type", "value"}` or a plain expected stdout string.

    Raises ValueError naming what is wrong (unknown type, a node value that is not a list)."""
    if isinstance(item, str):
        return Expected("eq", item, text=item)
    if not isinstance(item, dict) or "type" not in item or "value" not in item:
        raise ValueError('an output must be a string or an object {"type": ..., "value": ...}')
    kind = item["type"]
    if not isinstance(kind, str) or kind.strip() not in OUTPUT_TYPES:
        raise ValueError(f"output type {kind!r} is not one of {', '.join(OUTPUT_TYPES)}")
    compare = OUTPUT_TYPES[kind.strip()]
    raw = item["value"]
    try:
        value = parse_output_value(raw)
    except NotAValue:
        if compare != "eq":
            raise ValueError(f"{kind} value {str(raw)[:80]!r} is not a list") from None
        return Expected("eq", raw, text=raw)  # text the program must print as it is
    if compare == "eq":
        return Expected("eq", value, text=value if isinstance(value, str) else None)
    if value is None:
        value = []
    if not isinstance(value, list):
        raise ValueError(f"{kind} value must be a list (level order for trees), got {type(value).__name__}")
    return Expected(compare, value)


def stdin_of(value: Any) -> str:
    """What a unit test's `input` becomes on the program's stdin: text as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value) + "\n"


# -- rows of the seed's files ----------------------------------------------------------------------
SEED_FIELDS = ("preCodeSegment", "postCodeSegment", "unittests")


def is_seed_row(row: dict[str, Any]) -> bool:
    """A row written by the seed's notebooks: a code segment or the typed unittests hold a value, and
    LeetCodeDataset's `query` is not there (the seed renames it to `prompt`, which a LeetCodeDataset
    row uses for its preamble). A row that still has LeetCodeDataset's `test` counts as the seed's
    only with its `preCodeSegment`. Extra seed keys left empty (`"unittests": null`,
    `"postCodeSegment": ""`) do not move a LeetCodeDataset row onto the seed's path."""
    if not any(_filled(row.get(key)) for key in SEED_FIELDS) or _filled(row.get("query")):
        return False
    return not _filled(row.get("test")) or _filled(row.get("preCodeSegment"))


def _filled(value: Any) -> bool:
    """A value that says something: not None, not an empty or blank string, not an empty container."""
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None and value != [] and value != {}


def tests_from_unittests(unittests: list[Any], sig: Signature) -> tuple[list[TestCase], list[UnparsedTest]]:
    """TestCases from a seed row's `unittests`. The signature marks ListNode/TreeNode arguments, and a
    `-> str` entry point keeps an unquoted expected text as a string (LeetCode writes `8` for "8")."""
    node_params = sig.node_params
    returns_str = sig.returns == "str"
    tests: list[TestCase] = []
    unparsed: list[UnparsedTest] = []
    for index, unit in enumerate(unittests):
        source = f"unittests[{index}]"
        try:
            if not isinstance(unit, dict):
                raise ValueError("not an object")
            kwargs = unit.get("input")
            if isinstance(kwargs, str):
                try:
                    kwargs = json.loads(kwargs)
                except json.JSONDecodeError as e:
                    raise ValueError(f"input is not JSON ({e.msg} at character {e.pos})") from None
            if not isinstance(kwargs, dict):
                raise ValueError("input is not a JSON object of keyword arguments")
            outputs = unit.get("output")
            if isinstance(outputs, dict):
                outputs = [outputs]
            if not isinstance(outputs, list) or not outputs:
                raise ValueError("output is not a non-empty list")
            if not isinstance(outputs[0], dict):
                raise ValueError("a plain-text output cannot be checked against a function's return value")
            expected = expected_from_output(outputs[0])
            value, raw = expected.value, outputs[0]["value"]
            if (
                returns_str
                and expected.compare == "eq"
                and not isinstance(value, str)
                and isinstance(raw, str)
            ):
                value = raw
            args = tuple(Arg(str(k), v, node_params.get(str(k), "value")) for k, v in kwargs.items())
            tests.append(TestCase(args=args, expected=value, compare=expected.compare, source=source))
        except (ValueError, RecursionError) as e:
            unparsed.append(UnparsedTest(source, str(e)))
    return tests, unparsed


@dataclass(frozen=True)
class Signature:
    """What the starter code's annotations say about the entry point (parsed, never run)."""

    node_params: dict[str, ArgKind]
    returns: str = ""  # the return annotation's text


def signature(starter_code: str, method: str) -> Signature:
    """Parameters of `method` annotated with ListNode/TreeNode, and its return annotation."""
    module = None
    for text in (starter_code.rstrip() + "\n        pass\n", starter_code):
        try:
            module = parse(text)
            break
        except SyntaxError:
            continue
    if module is None:
        return Signature({})
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef) and node.name == method:
            found: dict[str, ArgKind] = {}
            for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                text = ast.unparse(a.annotation) if a.annotation is not None else ""
                if "ListNode" in text:
                    found[a.arg] = "list_node"
                elif "TreeNode" in text:
                    found[a.arg] = "tree_node"
            returns = ast.unparse(node.returns) if node.returns is not None else ""
            return Signature(found, returns)
    return Signature({})
