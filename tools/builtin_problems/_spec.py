"""The record each built-in problem is written as, plus small helpers for the brute-force checkers.

A problem is written once here as data: statement, constraints, the method signature, our reference
solution (source text), a few hand-checked examples and more test inputs. The build script computes
every expected output by running the reference solution; the brute-force functions are independent
slow solutions used only to cross-check the reference on the build machine.
"""

from __future__ import annotations

import random
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Example:
    """A worked example shown in the statement; `output` is written by hand and checked at build time."""

    kwargs: dict[str, Any]
    output: Any
    explanation: str = ""


@dataclass
class Spec:
    """One problem. `cases` are further test inputs whose expected outputs the reference computes.

    `arg_kinds` marks arguments passed as `list_node([...])` / `tree_node([...])`; `result` says whether
    the method returns a plain value, a linked list or a tree (then compared with is_same_list/tree).
    `brute` takes the plain argument values (lists for nodes) and returns the plain expected value
    (a level-order or value list for node results); `brute_if` limits it to cases it can finish.
    """

    task_id: str
    question_id: int
    difficulty: str
    tags: list[str]
    date: str
    statement: str
    constraints: list[str]
    signature: str
    solution: str
    examples: list[Example]
    cases: list[dict[str, Any]]
    arg_kinds: dict[str, str] = field(default_factory=dict)
    result: str = "value"
    brute: Callable[..., Any] | None = None
    brute_if: Callable[[dict[str, Any]], bool] | None = None


def rng(task_id: str) -> random.Random:
    """A random generator seeded from the task id, so every build produces the same inputs."""
    return random.Random(zlib.crc32(task_id.encode()))


# --- plain trees for brute-force checkers --------------------------------------------------------


class Node:
    """A binary tree node for the checkers (the reference solutions use the preamble's TreeNode)."""

    def __init__(self, val: Any, left: Node | None = None, right: Node | None = None):
        self.val = val
        self.left = left
        self.right = right


def build_tree(values: list[Any]) -> Node | None:
    """LeetCode level-order list (None marks a missing child) to a tree."""
    if not values or values[0] is None:
        return None
    root = Node(values[0])
    queue = deque([root])
    i = 1
    while queue and i < len(values):
        node = queue.popleft()
        if values[i] is not None:
            node.left = Node(values[i])
            queue.append(node.left)
        i += 1
        if i < len(values) and values[i] is not None:
            node.right = Node(values[i])
            queue.append(node.right)
        i += 1
    return root


def serialize_tree(root: Any) -> list[Any]:
    """Any object with val/left/right to its level-order list, trailing Nones removed."""
    out: list[Any] = []
    queue = deque([root])
    while queue:
        node = queue.popleft()
        if node is None:
            out.append(None)
            continue
        out.append(node.val)
        queue.append(node.left)
        queue.append(node.right)
    while out and out[-1] is None:
        out.pop()
    return out


def serialize_list(head: Any) -> list[Any]:
    """Any object with val/next to the list of its values (with a guard against cycles)."""
    out: list[Any] = []
    while head is not None:
        out.append(head.val)
        head = head.next
        if len(out) > 1_000_000:
            raise ValueError("linked list too long or cyclic")
    return out


def bst_from_values(values: list[int]) -> list[Any]:
    """Insert values in order into an empty binary search tree; return its level-order list."""
    root: Node | None = None
    for v in values:
        if root is None:
            root = Node(v)
            continue
        node = root
        while True:
            side = "left" if v < node.val else "right"
            child = getattr(node, side)
            if child is None:
                setattr(node, side, Node(v))
                break
            node = child
    return serialize_tree(root)


def random_tree(r: random.Random, size: int, lo: int, hi: int, max_depth: int = 60) -> list[Any]:
    """A tree of `size` nodes with random values and a random shape, as a level-order list."""
    if size == 0:
        return []
    root = Node(r.randint(lo, hi))
    open_slots: list[tuple[Node, str, int]] = [(root, "left", 1), (root, "right", 1)]
    for _ in range(size - 1):
        while True:
            index = r.randrange(len(open_slots))
            parent, side, depth = open_slots[index]
            open_slots[index] = open_slots[-1]
            open_slots.pop()
            if depth < max_depth:
                break
        child = Node(r.randint(lo, hi))
        setattr(parent, side, child)
        open_slots.append((child, "left", depth + 1))
        open_slots.append((child, "right", depth + 1))
    return serialize_tree(root)


def complete_tree(r: random.Random, size: int, lo: int, hi: int) -> list[Any]:
    """A complete tree (no gaps) of `size` random values."""
    return [r.randint(lo, hi) for _ in range(size)]
