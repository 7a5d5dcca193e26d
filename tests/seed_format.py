"""The original GRPO4CodeGen's data and request formats, rebuilt from our problems for the seed tests.

What its notebooks write per problem (see docs/migrating.md): the dataset row without `test`/
`input_output`, the query renamed to `prompt`, and `preCodeSegment` (imports, ListNode/TreeNode,
builders, printers), `postCodeSegment` (read a JSON object from stdin, call the entry point with it,
print the result) and `unittests` (input: one line of JSON keyword arguments; output: a one-element list
of `{"type", "value"}` with the expected output as LeetCode text). `reward_request` builds the body the
seed's reward client posts for one row and one response, the way its `process_question` does.
"""

from __future__ import annotations

import json
import re
from typing import Any

from grpo4codegen.data.problems import Problem

PRE_CODE = """
import collections
import datetime
import functools
import json
import math
import random
import string
import sys
from typing import *
from functools import *
from collections import *
from itertools import *
from heapq import *
from bisect import *
from string import *
from operator import *
from math import *

inf = float("inf")


class ListNode:
    def __init__(self, val=0, next=None):
        self.val = val
        self.next = next


def list_node(values):
    head = tail = None
    for v in values or []:
        node = ListNode(v)
        if head is None:
            head = tail = node
        else:
            tail.next = node
            tail = node
    return head


def print_list(head):
    out = []
    while head:
        out.append(head.val)
        head = head.next
    print(out)


class TreeNode:
    def __init__(self, val=0, left=None, right=None):
        self.val = val
        self.left = left
        self.right = right


def tree_node(values):
    if not values:
        return None
    root = TreeNode(values[0])
    pending, i = deque([root]), 1
    while pending:
        node = pending.popleft()
        for side in ("left", "right"):
            if i < len(values) and values[i] is not None:
                child = TreeNode(values[i])
                setattr(node, side, child)
                pending.append(child)
            i += 1
    return root


def print_tree(root):
    out, pending = [], deque([root]) if root else deque()
    while pending:
        node = pending.popleft()
        if node is None:
            out.append(None)
            continue
        out.append(node.val)
        pending.extend((node.left, node.right))
    while out and out[-1] is None:
        out.pop()
    print(out)
"""

_TYPES = {"eq": "general", "list_node": "list_node", "tree_node": "tree_node"}


def post_code(entry_point: str, output_type: str) -> str:
    printer = {"list_node": "print_list", "tree_node": "print_tree"}.get(output_type, "print")
    return "\n".join(
        [
            "if __name__ == '__main__':",
            "    data = json.loads(sys.stdin.read())",
            f"    result = {entry_point}(**data)",
            f"    {printer}(result)",
        ]
    )


def leetcode_text(value: Any) -> str:
    """An expected value as LeetCodeDataset's input_output writes it (JSON-like text)."""
    return json.dumps(value, separators=(",", ":"))


def seed_row(problem: Problem, response: str = "") -> dict[str, Any]:
    """One row as the seed's notebooks leave it (train split: with `response`)."""
    output_type = _TYPES[problem.tests[0].compare]
    unittests = [
        {
            "input": json.dumps({a.name: a.value for a in t.args}) + "\n",
            "output": [{"type": _TYPES[t.compare], "value": leetcode_text(t.expected)}],
        }
        for t in problem.tests
    ]
    query = problem.query or (
        problem.description + "\n\n```python\n" + problem.starter_code.rstrip() + "\n```\n"
    )
    return {
        "task_id": problem.task_id,
        "question_id": problem.question_id,
        "difficulty": problem.difficulty,
        "tags": problem.tags,
        "estimated_date": problem.date,
        "entry_point": problem.entry_point,
        "response": response,
        "completion": problem.reference_solution,
        "preCodeSegment": PRE_CODE,
        "postCodeSegment": post_code(problem.entry_point, output_type),
        "unittests": unittests,
        "prompt": query,
    }


def extract_code(completion: str) -> str:
    """The seed client's extraction: every fenced block joined, else the whole text."""
    blocks = re.findall(r"```(?:[a-zA-Z]*\n)?([\s\S]*?)```", completion)
    return "\n".join(blocks).strip() if blocks else completion.strip()


def reward_request(row: dict[str, Any]) -> dict[str, Any]:
    """The body the seed's reward client posts for `row` (its `response` is the candidate)."""
    unittests = []
    for ut in row.get("unittests", []):
        try:
            decoded: Any = json.loads(ut["input"])
        except Exception as e:  # the seed sends a marker string instead
            decoded = f"<Invalid input: {e}>"
        unittests.append({"input": decoded, "output": ut["output"]})
    source = "\n\n".join(
        [row.get("preCodeSegment", ""), extract_code(row.get("response", "")), row.get("postCodeSegment", "")]
    )
    return {
        "language": "Python 3",
        "source_code": source,
        "unittests": unittests,
        "block_network": True,
        "stop_on_first_fail": False,
        "use_sanitizer": False,
    }


def seed_client_reward(data: list[dict[str, Any]]) -> dict[str, float]:
    """What the seed's client computes from a 200 answer (averages over PASSED tests, `.get(k, 0)`)."""
    passed = [ut for ut in data if ut.get("exec_outcome") == "PASSED"]

    def avg(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0

    return {
        "pass_rate": len(passed) / len(data) if data else 0,
        "avg_time_consumed": avg([ut.get("time_consumed", 0) for ut in passed]),
        "avg_tracemalloc_peak": avg([ut.get("tracemalloc_peak", 0) for ut in passed]),
        "avg_cpu_instruction_count": avg([ut.get("cpu_instruction_count", 0) for ut in passed]),
    }
