"""Plain-data form of values crossing the sandbox boundary, and the comparison the parent makes.

The child turns whatever the candidate returned into JSON-compatible data (`canonical`): linked lists
and trees become tagged lists, tuples become lists (LeetCode serialises both as arrays), sets and dicts
are tagged. The parent compares that data with the expected value it never sent to the child
(`matches`), so no object the candidate built (say, one whose `__eq__` is always true) reaches it.
"""

from __future__ import annotations

import json
import math
from collections import deque
from typing import Any

LIST_TAG = "__list_node__"
TREE_TAG = "__tree_node__"
SET_TAG = "__set__"
DICT_TAG = "__dict__"
MAX_NODES = 1_000_000  # a longer (or cyclic) linked list / tree is reported as an error
FLOAT_ABS_TOL = 1e-5
FLOAT_REL_TOL = 1e-9

_SCALARS = (type(None), bool, int, float, str)


class UnsupportedValue(TypeError):
    """The candidate returned something that has no plain-data form."""


def canonical(x: Any) -> Any:
    """JSON-compatible form of a returned value. A subclass of a plain type (a Counter, a defaultdict,
    a namedtuple, an IntEnum) counts as that type, read through the base type's own methods: what
    comes out is plain data either way, compared outside the candidate's process."""
    t = type(x)
    if t in _SCALARS:
        return x
    if t is list or t is tuple:
        if all(type(e) in _SCALARS for e in x):
            return list(x)
        return [canonical(e) for e in x]
    if t is dict:
        return {DICT_TAG: [[canonical(k), canonical(v)] for k, v in x.items()]}
    if t is set or t is frozenset:
        return {SET_TAG: [canonical(e) for e in x]}
    if hasattr(x, "val") and hasattr(x, "next"):
        return {LIST_TAG: linked_list_values(x)}
    if hasattr(x, "val") and hasattr(x, "left") and hasattr(x, "right"):
        return {TREE_TAG: tree_values(x)}
    return _subclass(x, t)


def _subclass(x: Any, t: type) -> Any:
    """`canonical` of an instance of a subclass of a plain type, as an instance of that type."""
    if isinstance(x, int):  # (bool cannot be subclassed)
        return int.__index__(x)
    if isinstance(x, float):
        return float.__float__(x)
    if isinstance(x, str):
        return str.__str__(x)
    if isinstance(x, (list, tuple)):
        return [canonical(e) for e in (list.__iter__(x) if isinstance(x, list) else tuple.__iter__(x))]
    if isinstance(x, dict):
        return {DICT_TAG: [[canonical(k), canonical(v)] for k, v in dict.items(x)]}
    if isinstance(x, (set, frozenset)):
        return {
            SET_TAG: [
                canonical(e) for e in (set.__iter__(x) if isinstance(x, set) else frozenset.__iter__(x))
            ]
        }
    raise UnsupportedValue(f"return type {t.__name__} has no plain-data form")


def linked_list_values(head: Any) -> list[Any]:
    values = []
    node = head
    while node is not None:
        if len(values) >= MAX_NODES:
            raise UnsupportedValue("linked list too long or cyclic")
        values.append(canonical(node.val))
        node = node.next
    return values


def tree_values(root: Any) -> list[Any]:
    """LeetCode level order with None gaps, trailing Nones removed."""
    out: list[Any] = []
    queue: deque[Any] = deque([root])
    count = 0
    while queue:
        node = queue.popleft()
        if node is None:
            out.append(None)
            continue
        count += 1
        if count > MAX_NODES:
            raise UnsupportedValue("tree too large or cyclic")
        out.append(canonical(node.val))
        queue.append(node.left)
        queue.append(node.right)
    while out and out[-1] is None:
        out.pop()
    return out


class _Node:
    __slots__ = ("val", "left", "right")

    def __init__(self, val: Any) -> None:
        self.val, self.left, self.right = val, None, None


def normalise_tree_list(values: list[Any]) -> list[Any]:
    """Rebuild a level-order list as a tree and serialise it again (drops unreachable/trailing Nones)."""
    if not values or values[0] is None:
        return []
    root = _Node(values[0])
    queue = deque([root])
    i = 1
    while queue and i < len(values):
        node = queue.popleft()
        for side in ("left", "right"):
            if i < len(values) and values[i] is not None:
                child = _Node(values[i])
                setattr(node, side, child)
                queue.append(child)
            i += 1
    return tree_values(root)


def expected_canonical(expected: Any, compare: str) -> Any:
    """The canonical form a correct result must have, computed in the parent once per test."""
    if compare == "list_node":
        return {LIST_TAG: [canonical(v) for v in expected]}
    if compare == "tree_node":
        return {TREE_TAG: normalise_tree_list(list(expected))}
    return canonical(expected)


def matches(actual: Any, expected: Any) -> bool:
    """Equality on canonical data; floats within LeetCode's 1e-5; node results where None means empty."""
    if isinstance(expected, dict) and len(expected) == 1:
        tag = next(iter(expected))
        if tag in (LIST_TAG, TREE_TAG) and actual is None:
            return not expected[tag]
        if not (isinstance(actual, dict) and set(actual) == {tag}):
            return False
        a, e = actual[tag], expected[tag]
        if tag == DICT_TAG:
            return _dict_equal(a, e)
        if tag == SET_TAG:
            return _unordered_equal(a, e)
        return _equal(a, e)
    return _equal(actual, expected)


def _equal(a: Any, b: Any) -> bool:
    """`a` the candidate's value, `b` the expected one. Only an expected float gets a tolerance: an
    int answer must be given exactly (as an int, or as a float holding exactly that integer), and a
    bool answer as a bool."""
    if type(b) is float:
        if type(a) not in (int, float):
            return False
        try:
            return a == b or math.isclose(a, b, rel_tol=FLOAT_REL_TOL, abs_tol=FLOAT_ABS_TOL)
        except OverflowError:  # an int too large for a float: not close to any finite float
            return False
    if type(a) is float:
        return type(b) is int and a.is_integer() and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):  # canonical dicts are tagged: exactly one key
        return len(b) == 1 and matches(a, b)
    if type(a) is not type(b):
        return False
    return a == b


def _dict_equal(a: Any, b: Any) -> bool:
    """Canonical dicts (lists of [key, value]): the same keys exactly, each value `_equal` to the
    expected one (so a float value gets its tolerance, as anywhere else)."""
    if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
        return False
    try:
        actual = {json.dumps(k, sort_keys=True): v for k, v in a}
        expected = {json.dumps(k, sort_keys=True): v for k, v in b}
    except (TypeError, ValueError):  # not [key, value] pairs
        return False
    return actual.keys() == expected.keys() and all(_equal(actual[k], v) for k, v in expected.items())


def _unordered_equal(a: Any, b: Any) -> bool:
    if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
        return False
    key = lambda v: json.dumps(v, sort_keys=True)  # noqa: E731
    return sorted(map(key, a)) == sorted(map(key, b))


def short_repr(value: Any, limit: int = 200) -> str:
    """A bounded display form of a canonical value."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
