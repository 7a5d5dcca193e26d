"""A deterministic cost measure: Python-level steps executed by the candidate's own code.

The candidate's AST is instrumented so that every function entry, every loop iteration (for, while,
async for) and every comprehension iteration ticks a counter (a C call that allocates nothing, see `StepCounter`).
The count depends only on the code and its inputs, not on machine load, so it is stable where wall
time is noisy and hardware counters are absent.

Cost: one C-level call per tick, measured in `bench sandbox` (the metrics run). Blind spots: work done
inside C builtins counts as one step per call (`sorted`, `sum`, `str.join`, set/dict operations,
`re`), so it favours delegating loops to builtins; code in the preamble or in imported modules is
not counted; a candidate that deliberately tampers with the counter can forge it (the verdict, decided
in the parent, cannot be forged this way).
"""

from __future__ import annotations

import ast
import itertools
import operator

TICK_NAME = "__g4c_tick__"
_BUDGET = 1 << 62


class StepCounter:
    """A tick that allocates nothing (so tracemalloc, running alongside, sees only the candidate).

    `itertools.repeat(True, n).__next__` returns the same `True` object every time, and the number
    of ticks is read back from the iterator's remaining length.
    """

    def __init__(self) -> None:
        self._source = itertools.repeat(True, _BUDGET)
        self.tick = self._source.__next__

    @property
    def count(self) -> int:
        return _BUDGET - operator.length_hint(self._source)


def _tick() -> ast.Expr:
    return ast.Expr(ast.Call(func=ast.Name(TICK_NAME, ast.Load()), args=[], keywords=[]))


class _Instrument(ast.NodeTransformer):
    def _prepend(self, body: list[ast.stmt]) -> list[ast.stmt]:
        return [_tick(), *body]

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        node.body = self._prepend(node.body)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_For(self, node: ast.For) -> ast.AST:
        self.generic_visit(node)
        node.body = self._prepend(node.body)
        return node

    visit_AsyncFor = visit_For  # type: ignore[assignment]
    visit_While = visit_For  # type: ignore[assignment]

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        self.generic_visit(node)
        # the tick returns True, so it never filters anything out
        node.ifs = [ast.Call(func=ast.Name(TICK_NAME, ast.Load()), args=[], keywords=[]), *node.ifs]
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.generic_visit(node)
        tick = ast.Call(func=ast.Name(TICK_NAME, ast.Load()), args=[], keywords=[])
        node.body = ast.BoolOp(op=ast.And(), values=[tick, node.body])
        return node


def instrument(source: str, filename: str = "<solution>"):  # -> CodeType
    """Compile `source` with step ticks inserted. Raises SyntaxError like `compile`."""
    tree = _Instrument().visit(ast.parse(source, filename))
    ast.fix_missing_locations(tree)
    return compile(tree, filename, "exec", dont_inherit=True)
