#!/usr/bin/env python3
"""Build the built-in problem set, src/grpo4codegen/data/builtin/problems.jsonl.

The problems are written as data in tools/builtin_problems/. For each one this script

1. runs our reference solution (trusted code) on every test input to get the expected outputs,
   and checks the hand-written example outputs and an independent brute-force solution against it;
2. writes the row in the LeetCodeDataset v0.3.1 flat schema (statement, starter code, preamble,
   reference completion, `check(candidate)` asserts, input/output pairs, model query);
3. executes preamble + completion + test and calls check() on the reference, and confirms that the
   project's assert parser (`grpo4codegen.data`) reads every assert with the expected values.

    python tools/build_builtin_problems.py            # (re)write the jsonl
    python tools/build_builtin_problems.py --check    # exit 1 if the jsonl is out of date
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib
import json
import math
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "src" / "grpo4codegen" / "data" / "builtin" / "problems.jsonl"
MIN_TESTS, MAX_TESTS = 8, 15
MAX_FILE_BYTES = 400_000
SLOW_CHECK_SECONDS = 2.0

# The code every solution and test runs under (the dataset's `prompt` field), the same for all problems.
PREAMBLE = '''import bisect
import collections
import functools
import heapq
import itertools
import math
import operator
import string
from typing import *
from bisect import *
from collections import *
from functools import *
from heapq import *
from itertools import *
from math import *
from operator import *
from string import *
from builtins import abs, pow  # undo the shadowing by math.pow / operator.abs and operator.pow

inf = float("inf")


class ListNode:
    def __init__(self, val=0, next=None):
        self.val = val
        self.next = next


class TreeNode:
    def __init__(self, val=0, left=None, right=None):
        self.val = val
        self.left = left
        self.right = right


def list_node(values):
    """Linked list holding `values` in order (None for an empty list)."""
    head = tail = None
    for value in values:
        node = ListNode(value)
        if head is None:
            head = tail = node
        else:
            tail.next = node
            tail = node
    return head


def tree_node(values):
    """Binary tree from a level-order list in which None marks a missing child."""
    if not values or values[0] is None:
        return None
    root = TreeNode(values[0])
    parents = deque([root])
    i = 1
    while parents and i < len(values):
        parent = parents.popleft()
        for side in ("left", "right"):
            if i < len(values) and values[i] is not None:
                child = TreeNode(values[i])
                setattr(parent, side, child)
                parents.append(child)
            i += 1
    return root


def is_same_list(a, b):
    while a is not None and b is not None:
        if a.val != b.val:
            return False
        a, b = a.next, b.next
    return a is None and b is None


def is_same_tree(a, b):
    pairs = [(a, b)]
    while pairs:
        x, y = pairs.pop()
        if x is None or y is None:
            if x is not y:
                return False
        elif x.val != y.val:
            return False
        else:
            pairs += [(x.left, y.left), (x.right, y.right)]
    return True
'''

LIST_NODE_COMMENT = """# Definition for singly-linked list.
# class ListNode:
#     def __init__(self, val=0, next=None):
#         self.val = val
#         self.next = next
"""

TREE_NODE_COMMENT = """# Definition for a binary tree node.
# class TreeNode:
#     def __init__(self, val=0, left=None, right=None):
#         self.val = val
#         self.left = left
#         self.right = right
"""

QUERY_INTRO = "Solve the following programming problem in Python 3 with a correct and efficient solution."
QUERY_OUTRO = (
    "Answer with a single ```python code block that contains the complete `Solution` class. The usual "
    "standard-library imports (typing, collections, heapq, bisect, math, ...) and the ListNode and "
    "TreeNode classes are already available."
)


class BuildError(Exception):
    """A problem definition that does not hold up; the message names the problem."""


def load_specs() -> list[Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    return importlib.import_module("builtin_problems").all_specs()


# --- formatting values ---------------------------------------------------------------------------


def py_literal(value: Any) -> str:
    """Python source for a test value (long lists are written without spaces to keep the file small)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            raise BuildError("NaN cannot be written as a test literal")
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        sep = ", " if len(value) <= 20 else ","
        return "[" + sep.join(py_literal(v) for v in value) + "]"
    raise BuildError(f"unsupported test value of type {type(value).__name__}")


def lc_literal(value: Any) -> str:
    """LeetCode's display style: compact arrays, null/true/false, floats with 5 decimals."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.5f}"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(lc_literal(v) for v in value) + "]"
    raise BuildError(f"unsupported value of type {type(value).__name__}")


def same_value(a: Any, b: Any) -> bool:
    """Equality with a tiny float tolerance (brute-force checkers may sum in another order)."""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)):
            return False
        return isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def same_exact(a: Any, b: Any) -> bool:
    """Equality that also tells 1 from 1.0 and True from 1 (what the jsonl stores must match exactly)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_exact(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


# --- running the reference -----------------------------------------------------------------------


@contextmanager
def recursion_limit(limit: int):
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def serialize_list(head: Any) -> list[Any]:
    out = []
    while head is not None:
        out.append(head.val)
        head = head.next
        if len(out) > 1_000_000:
            raise BuildError("linked list result too long or cyclic")
    return out


def serialize_tree(root: Any) -> list[Any]:
    out: list[Any] = []
    level = [root]
    while level:
        following = []
        for node in level:
            if node is None:
                out.append(None)
            else:
                out.append(node.val)
                following += [node.left, node.right]
        level = following
    while out and out[-1] is None:
        out.pop()
    return out


def method_name(spec: Any) -> str:
    match = re.match(r"def (\w+)\(self", spec.signature)
    if not match:
        raise BuildError(f"{spec.task_id}: signature must start with `def name(self`")
    return match.group(1)


def parameter_names(spec: Any) -> list[str]:
    func = ast.parse(spec.signature + "\n    pass").body[0]
    assert isinstance(func, ast.FunctionDef)
    return [a.arg for a in func.args.args[1:]]


def reference_namespace(spec: Any) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": f"builtin_{spec.task_id.replace('-', '_')}"}
    exec(compile(PREAMBLE + "\n\n" + spec.solution, f"<reference {spec.task_id}>", "exec"), ns)
    return ns


def run_reference(spec: Any, ns: dict[str, Any], kwargs: dict[str, Any]) -> Any:
    call = {}
    for name, value in kwargs.items():
        kind = spec.arg_kinds.get(name, "value")
        value = copy.deepcopy(value)
        call[name] = ns[kind](value) if kind in ("list_node", "tree_node") else value
    result = getattr(ns["Solution"](), method_name(spec))(**call)
    if spec.result == "list_node":
        return serialize_list(result)
    if spec.result == "tree_node":
        return serialize_tree(result)
    return result


# --- one problem to one row ----------------------------------------------------------------------


def starter_code(spec: Any) -> str:
    kinds = set(spec.arg_kinds.values()) | {spec.result}
    prefix = (LIST_NODE_COMMENT if "list_node" in kinds else "") + (
        TREE_NODE_COMMENT if "tree_node" in kinds else ""
    )
    return f"{prefix}class Solution:\n    {spec.signature}\n        "


def call_source(spec: Any, kwargs: dict[str, Any]) -> str:
    parts = []
    for name, value in kwargs.items():
        kind = spec.arg_kinds.get(name, "value")
        text = py_literal(value)
        parts.append(f"{name}={kind}({text})" if kind != "value" else f"{name}={text}")
    return f"candidate({', '.join(parts)})"


def assert_line(spec: Any, kwargs: dict[str, Any], expected: Any) -> str:
    call = call_source(spec, kwargs)
    if spec.result == "list_node":
        return f"assert is_same_list({call}, list_node({py_literal(expected)}))"
    if spec.result == "tree_node":
        return f"assert is_same_tree({call}, tree_node({py_literal(expected)}))"
    return f"assert {call} == {py_literal(expected)}"


def io_pair(spec: Any, kwargs: dict[str, Any], expected: Any) -> dict[str, str]:
    shown = ", ".join(f"{name} = {lc_literal(value)}" for name, value in kwargs.items())
    output = lc_literal(expected) if spec.result != "value" else py_literal(expected)
    return {"input": shown, "output": output}


def description(spec: Any, example_outputs: list[Any]) -> str:
    parts = [spec.statement.strip()]
    for number, (example, output) in enumerate(zip(spec.examples, example_outputs, strict=True), start=1):
        shown = ", ".join(f"{name} = {lc_literal(value)}" for name, value in example.kwargs.items())
        block = f"Example {number}:\n\nInput: {shown}\nOutput: {lc_literal(output)}"
        if example.explanation:
            block += f"\nExplanation: {example.explanation}"
        parts.append(block)
    parts.append("Constraints:\n\n" + "\n".join(spec.constraints))
    return "\n\n".join(parts) + "\n"


def query_text(problem_description: str, starter: str) -> str:
    return (
        f"{QUERY_INTRO}\n\n### Problem\n\n{problem_description}\n"
        f"### Starter code\n\nComplete the following code:\n```python\n{starter}\n```\n\n"
        f"### Answer\n\n{QUERY_OUTRO}\n"
    )


def ordered_kwargs(spec: Any, kwargs: dict[str, Any], params: list[str]) -> dict[str, Any]:
    if set(kwargs) != set(params):
        raise BuildError(f"{spec.task_id}: test arguments {sorted(kwargs)} do not match {params}")
    return {name: kwargs[name] for name in params}


def build_row(spec: Any) -> tuple[dict[str, Any], dict[str, float]]:
    tid = spec.task_id
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", tid):
        raise BuildError(f"{tid}: task_id is not kebab-case")
    if spec.difficulty not in ("Easy", "Medium", "Hard"):
        raise BuildError(f"{tid}: difficulty {spec.difficulty!r}")
    if spec.signature not in spec.solution or not spec.solution.startswith("class Solution:"):
        raise BuildError(f"{tid}: the solution must be `class Solution:` with the exact signature")
    params = parameter_names(spec)
    ns = reference_namespace(spec)
    timings = {"reference": 0.0, "brute": 0.0}

    inputs = [ordered_kwargs(spec, e.kwargs, params) for e in spec.examples]
    inputs += [ordered_kwargs(spec, c, params) for c in spec.cases]
    if not MIN_TESTS <= len(inputs) <= MAX_TESTS:
        raise BuildError(f"{tid}: {len(inputs)} tests, want {MIN_TESTS}..{MAX_TESTS}")
    if len({json.dumps(k, sort_keys=True) for k in inputs}) != len(inputs):
        raise BuildError(f"{tid}: duplicate test inputs")

    outputs = []
    for index, kwargs in enumerate(inputs):
        started = time.perf_counter()
        got = run_reference(spec, ns, kwargs)
        timings["reference"] += time.perf_counter() - started
        py_literal(got)  # fails on values a test cannot hold
        if index < len(spec.examples) and not same_value(got, spec.examples[index].output):
            raise BuildError(
                f"{tid}: example {index + 1}: reference gives {got!r}, statement says "
                f"{spec.examples[index].output!r}"
            )
        if spec.brute is not None and (spec.brute_if is None or spec.brute_if(kwargs)):
            started = time.perf_counter()
            with recursion_limit(20_000):
                want = spec.brute(**copy.deepcopy(kwargs))
            timings["brute"] += time.perf_counter() - started
            if not same_value(got, want):
                raise BuildError(
                    f"{tid}: test {index + 1}: reference gives {str(got)[:200]}, brute force "
                    f"gives {str(want)[:200]}"
                )
        outputs.append(got)

    lines = [assert_line(spec, k, out) for k, out in zip(inputs, outputs, strict=True)]
    test = "def check(candidate):\n" + "".join(f"    {line}\n" for line in lines)
    problem_description = description(spec, outputs[: len(spec.examples)])
    starter = starter_code(spec)
    row = {
        "task_id": tid,
        "question_id": spec.question_id,
        "difficulty": spec.difficulty,
        "tags": list(spec.tags),
        "problem_description": problem_description,
        "starter_code": starter,
        "estimated_date": spec.date,
        "prompt": PREAMBLE,
        "completion": spec.solution,
        "entry_point": f"Solution().{method_name(spec)}",
        "test": test,
        "input_output": [io_pair(spec, k, out) for k, out in zip(inputs, outputs, strict=True)],
        "query": query_text(problem_description, starter),
        "response": "",
    }
    timings["check"] = run_check(row)
    verify_parsed(row, inputs, outputs, spec)
    return row, timings


def run_check(row: dict[str, Any]) -> float:
    """Execute preamble + completion + test exactly as a sandbox would, and call check()."""
    ns: dict[str, Any] = {"__name__": "builtin_check"}
    source = row["prompt"] + "\n\n" + row["completion"] + "\n\n" + row["test"]
    exec(compile(source, f"<check {row['task_id']}>", "exec"), ns)
    candidate = eval(row["entry_point"], ns)
    started = time.perf_counter()
    try:
        ns["check"](candidate)
    except AssertionError:
        raise BuildError(f"{row['task_id']}: check() fails on the reference solution") from None
    return time.perf_counter() - started


def verify_parsed(row: dict[str, Any], inputs: list[dict], outputs: list[Any], spec: Any) -> None:
    """The project's parser must read every assert back with the same arguments and expected value."""
    from grpo4codegen.data.loader import problem_from_row

    problem = problem_from_row(row, "builtin")
    tid = row["task_id"]
    if problem.unparsed_tests:
        raise BuildError(f"{tid}: unparsed asserts: {problem.unparsed_tests[0]}")
    if len(problem.tests) != len(inputs):
        raise BuildError(f"{tid}: parser found {len(problem.tests)} tests, wrote {len(inputs)}")
    mode = "eq" if spec.result == "value" else spec.result
    for case, kwargs, expected in zip(problem.tests, inputs, outputs, strict=True):
        if case.compare != mode or not same_exact(case.expected, expected):
            raise BuildError(f"{tid}: parsed test {case.source[:80]} does not match what was written")
        parsed_args = {a.name: (a.value, a.kind) for a in case.args}
        written = {n: (v, spec.arg_kinds.get(n, "value")) for n, v in kwargs.items()}
        if list(parsed_args) != list(written) or not all(
            same_exact(parsed_args[n][0], written[n][0]) and parsed_args[n][1] == written[n][1]
            for n in written
        ):
            raise BuildError(f"{tid}: parsed arguments of {case.source[:80]} do not match")


# --- main ----------------------------------------------------------------------------------------


def build(verbose: bool = True) -> str:
    specs = load_specs()
    for field_name in ("task_id", "question_id"):
        values = [getattr(s, field_name) for s in specs]
        if len(set(values)) != len(values):
            raise BuildError(f"duplicate {field_name} values")
    rows = []
    for spec in specs:
        row, timings = build_row(spec)
        rows.append(row)
        if verbose:
            print(
                f"{spec.question_id} {spec.task_id:32s} {spec.difficulty:6s} tests={len(row['input_output']):2d} "
                f"reference={timings['reference']:.2f}s check={timings['check']:.2f}s "
                f"brute={timings['brute']:.2f}s"
            )
        if timings["check"] > SLOW_CHECK_SECONDS:
            raise BuildError(f"{spec.task_id}: check() on the reference takes {timings['check']:.1f}s")
    text = "".join(json.dumps(row) + "\n" for row in rows)
    if len(text.encode()) > MAX_FILE_BYTES:
        raise BuildError(f"problems.jsonl would be {len(text.encode())} bytes, over {MAX_FILE_BYTES}")
    return text


def verify_package_copy(expected_rows: int) -> None:
    """Load the written file through the public loader, as the rest of the project will."""
    from grpo4codegen.data import load_problems

    problems = load_problems("builtin")
    unparsed = sum(len(p.unparsed_tests) for p in problems)
    if len(problems) != expected_rows or unparsed:
        raise BuildError(f"load_problems('builtin'): {len(problems)} problems, {unparsed} unparsed asserts")
    print(
        f"load_problems('builtin'): {len(problems)} problems, {sum(len(p.tests) for p in problems)} tests, "
        "0 unparsed"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the committed file")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write (default: package data)")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        text = build(verbose=not args.quiet)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    rows = text.count("\n")
    size = len(text.encode())
    if args.check:
        current = args.output.read_text("utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date; run tools/build_builtin_problems.py", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date ({rows} problems, {size} bytes)")
        return 0
    args.output.write_text(text, "utf-8")
    print(f"wrote {args.output} ({rows} problems, {size} bytes)")
    if args.output.resolve() == OUTPUT.resolve():
        try:
            verify_package_copy(rows)
        except BuildError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
