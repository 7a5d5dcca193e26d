"""A test's arguments reach the solution exactly as the test wrote them, and a returned value that is a
subclass of a plain type (a Counter, a namedtuple, an IntEnum) is judged as that type, as the dataset's
own `check` judges it."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from grpo4codegen.sandbox.harness import TAGGED, encode_args, tag_value, untag_value

from .conftest import make_problem

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.binary(max_size=5),
)
_hashable = st.recursive(
    _scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=6
)
_literals = st.recursive(
    _scalars | st.complex_numbers(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.sets(_hashable, max_size=3)
        | st.dictionaries(_hashable, inner, max_size=3)
    ),
    max_leaves=12,
)


def _same(a, b) -> bool:
    """Equal, with the same type at every level."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    return a == b


@settings(max_examples=300, deadline=None)
@given(_literals)
def test_a_literal_survives_the_trip_to_the_child(value):
    assert _same(untag_value(json.loads(json.dumps(tag_value(value)))), value)


def test_nan_and_infinities_survive_inside_tuples():
    back = untag_value(json.loads(json.dumps(tag_value((float("nan"), [float("inf")], {1: -math.inf})))))
    assert math.isnan(back[0]) and back[1] == [math.inf] and back[2] == {1: -math.inf}


def test_only_values_json_would_change_are_tagged():
    problem = make_problem("f", ["assert candidate(a=[1, 2], b={'x': 1}, c=(1, 2), d={1: 'x'}, e={3}) == 1"])
    kinds = {name: kind for name, _, kind in json.loads(encode_args(problem.tests[0]))}
    assert kinds == {"a": "value", "b": "value", "c": TAGGED, "d": TAGGED, "e": TAGGED}


TYPED = (
    "class Solution:\n"
    "    def f(self, pair, table, seen, raw, z):\n"
    "        assert type(pair) is tuple and type(pair[1]) is tuple, pair\n"
    "        assert table[1] == 'one' and type(seen) is set and raw == b'\\xff' and z == 2j\n"
    "        return {pair: len(table) + len(seen)} != {} and len(seen)\n"
)


def test_tuples_sets_int_keys_and_bytes_reach_the_solution_as_written(executor):
    problem = make_problem(
        "f",
        [
            "assert candidate(pair=(1, (2, 3)), table={1: 'one'}, seen={4, 5}, raw=b'\\xff', z=2j) == 2",
            "assert candidate((0, (0,)), {1: 'one', 2: 'two'}, {7}, b'\\xff', 2j) == 1",
        ],
        TYPED,
    )
    assert len(problem.tests) == 2 and not problem.unparsed_tests
    assert executor.run(problem, TYPED).all_passed


def test_subclasses_of_plain_types_are_judged_as_those_types(executor):
    problem = make_problem(
        "f",
        [
            "assert candidate(k=0) == {'a': 2, 'b': 1}",
            "assert candidate(k=1) == [1, 2]",
            "assert candidate(k=2) == 3",
            "assert candidate(k=3) == {1: 2}",
        ],
    )
    code = (
        "from collections import Counter, defaultdict, namedtuple\nfrom enum import IntEnum\n"
        "P = namedtuple('P', 'x y')\nclass E(IntEnum):\n    THREE = 3\n"
        "class Solution:\n    def f(self, k):\n"
        "        return [Counter('aab'), P(1, 2), E.THREE, defaultdict(float, {1: 2.0})][k]\n"
    )
    result = executor.run(problem, code)
    assert result.all_passed, result
    wrong = code.replace("Counter('aab')", "Counter('abb')").replace("P(1, 2)", "P(2, 1)")
    outcomes = [t.exec_outcome.value for t in executor.run(problem, wrong).tests]
    assert outcomes[:2] == ["WRONG_ANSWER", "WRONG_ANSWER"]
    deque_code = (
        "from collections import deque\nclass Solution:\n    def f(self, k):\n        return deque([1, 2])\n"
    )
    failed = executor.run(problem, deque_code).tests[1]
    assert failed.exec_outcome.value == "WRONG_ANSWER" and "no plain-data form" in failed.error


def test_a_dict_value_gets_the_float_tolerance(executor):
    problem = make_problem("f", ["assert candidate(k=0) == {1: 2, 'x': 0.5}"])
    close = "class Solution:\n    def f(self, k):\n        return {1: 2.0, 'x': 0.5000001}\n"
    assert executor.run(problem, close).all_passed
    far = "class Solution:\n    def f(self, k):\n        return {1: 2.5, 'x': 0.5}\n"
    assert not executor.run(problem, far).all_passed
