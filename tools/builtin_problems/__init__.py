"""Definitions of the built-in problem set, grouped by topic; `all_specs()` lists them in id order."""

from __future__ import annotations

from . import arrays, dynamic, graphs, linked_lists, math_bits, strings, trees
from ._spec import Example, Spec

__all__ = ["Example", "Spec", "all_specs"]


def all_specs() -> list[Spec]:
    specs = [
        *arrays.PROBLEMS,
        *strings.PROBLEMS,
        *dynamic.PROBLEMS,
        *graphs.PROBLEMS,
        *math_bits.PROBLEMS,
        *linked_lists.PROBLEMS,
        *trees.PROBLEMS,
    ]
    return sorted(specs, key=lambda s: s.question_id)
