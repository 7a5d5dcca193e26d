"""ExecEval requests as the executor runs them, including the seed's extended form.

The seed's reward client (and its score.py) posts each unit test's `input` as a JSON object of keyword
arguments and its `output` as `[{"type": "general" | "list_node" | "tree_node", "value": ...}]`; its
`source_code` ends with a segment that reads that object from stdin, calls the solution and prints the
result (`print_list`/`print_tree` for nodes). Here such a test runs like any ExecEval test, as a program
per test with the input on stdin (an object becomes one line of JSON, as the seed's engine sends it);
the printed stdout comes back to the parent, which parses it as a literal (never executing it) and
compares it with the expected value by type: numbers within 1e-5, linked lists by their values, trees
by their normalised level order. Nothing the candidate's process says decides the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..data.seed import Expected, NotAValue, expected_from_output, parse_printed, stdin_of
from ..sandbox.executor import stdio_matches
from ..sandbox.values import (
    LIST_TAG,
    TREE_TAG,
    UnsupportedValue,
    canonical,
    expected_canonical,
    matches,
    normalise_tree_list,
    short_repr,
)


@dataclass(frozen=True)
class TypedStdout:
    """The check of one unit test's whole stdout against its accepted outputs (any one may match)."""

    accepted: tuple[Expected, ...]

    def __call__(self, stdout: str) -> bool:
        try:
            return any(_matches_one(stdout, e) for e in self.accepted)
        except (RecursionError, ArithmeticError, ValueError, TypeError, MemoryError):
            return False  # what the candidate printed cannot be compared: a wrong answer
        # anything else is a fault of ours: the executor reports it as an infrastructure failure

    def __repr__(self) -> str:
        first = self.accepted[0] if self.accepted else None
        if first is None:
            return "nothing"
        shown = first.text if first.text is not None else short_repr(first.value, 100)
        kind = "" if first.compare == "eq" else f"{first.compare} "
        more = f" (or {len(self.accepted) - 1} more)" if len(self.accepted) > 1 else ""
        return f"{kind}{shown}{more}"


def _matches_one(stdout: str, expected: Expected) -> bool:
    if expected.text is not None:
        return stdio_matches(stdout, expected.text)
    try:
        printed = parse_printed(stdout)
    except NotAValue:
        return False
    try:
        if expected.compare == "list_node":
            if not isinstance(printed, list):
                return False
            actual: Any = {LIST_TAG: [canonical(v) for v in printed]}
        elif expected.compare == "tree_node":
            if not isinstance(printed, list):
                return False
            actual = {TREE_TAG: normalise_tree_list([canonical(v) for v in printed])}
        else:
            actual = canonical(printed)
        return matches(actual, expected_canonical(expected.value, expected.compare))
    except (UnsupportedValue, RecursionError, TypeError):
        return False


def is_typed(unittests: list[Any]) -> bool:
    """The seed's extended form: some input is not text, or some output is a typed object."""
    for u in unittests:
        if not isinstance(u.input, str) or any(isinstance(o, dict) for o in u.output):
            return True
    return False


def typed_case(index: int, input_value: Any, outputs: list[Any]) -> tuple[str, TypedStdout]:
    """(stdin, check) of one extended unit test; ValueError names the unit test and what is wrong."""
    if not outputs:
        raise ValueError(f"unittests.{index}.output: needs at least one accepted output")
    accepted = []
    for j, item in enumerate(outputs):
        try:
            accepted.append(expected_from_output(item))
        except ValueError as e:
            raise ValueError(f"unittests.{index}.output.{j}: {e}") from None
    return stdin_of(input_value), TypedStdout(tuple(accepted))
