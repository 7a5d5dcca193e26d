"""Parsing from several threads at once (`grpo4codegen.astparse`).

CPython 3.11's AST converter keeps its recursion depth in state every thread shares: when a garbage
collection inside one parse runs a finalizer, another thread's parse can interleave, and either may fail
with "SystemError: AST constructor recursion depth mismatch". The executor's threads, the server's
request threads and the reward layer all parse; each of their parses, and radon's, must survive that.
"""

from __future__ import annotations

import ast
import gc
import threading
from collections.abc import Callable

from grpo4codegen.astparse import parse
from grpo4codegen.rewards.maintainability import maintainability_details

SOURCE = "\n".join(
    f"def f{i}(a, b):\n    return [(x, {{'k': [a, b, (1, 2, {{3}})]}}) for x in range(a) if x % 2]"
    for i in range(30)
)


class _Finalized:
    def __del__(self) -> None:  # a finalizer lets another thread run in the middle of a collection
        pass


def _hammer(call: Callable[[], object], threads: int = 4, rounds: int = 100) -> list[str]:
    """Run `call` from several threads while collections with finalizers keep happening."""
    errors: list[str] = []
    old = gc.get_threshold()
    gc.set_threshold(50, 5, 5)

    def work() -> None:
        for _ in range(rounds):
            cycle: list[object] = [_Finalized() for _ in range(20)]
            cycle.append(cycle)
            try:
                call()
            except SystemError as e:
                errors.append(str(e))

    try:
        pool = [threading.Thread(target=work) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    finally:
        gc.set_threshold(*old)
    return errors


def test_parse_from_many_threads_never_fails() -> None:
    assert _hammer(lambda: parse(SOURCE)) == []
    assert isinstance(parse(SOURCE), ast.Module)


def test_radon_from_many_threads_never_fails() -> None:
    """radon parses inside; the maintainability reward holds the same lock around it."""
    methods = [
        f"    def m{i}(self, a):\n        return [x * {i} for x in range(a) if x % 2]" for i in range(12)
    ]
    code = "class Solution:\n" + "\n".join(methods) + "\n"
    expected = maintainability_details(code)["score"]
    scores: list[float] = []
    assert _hammer(lambda: scores.append(maintainability_details(code)["score"]), rounds=30) == []
    assert expected > 0 and set(scores) == {expected}
