"""Typed problems and test cases: the one representation every later layer consumes.

Test cases are plain data (JSON-compatible values plus markers), so they can travel to a sandbox,
over HTTP, or into a jsonl export without pickling and without executing any dataset text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ArgKind = Literal["value", "list_node", "tree_node"]
CompareMode = Literal["eq", "list_node", "tree_node"]

#: LeetCode accepts floating-point answers within 1e-5 of the expected value.
DEFAULT_FLOAT_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Arg:
    """One argument of a test call. `kind` tells the sandbox to build a ListNode/TreeNode from `value`."""

    name: str | None  # None for a positional argument
    value: Any
    kind: ArgKind = "value"


@dataclass(frozen=True)
class TestCase:
    """One `assert` of the dataset: call the entry point with `args`, compare with `expected`.

    `compare` says how: plain equality (floats within tolerance), or the result is a linked list /
    binary tree compared through its serialised form (`expected` then holds that serialised list).
    """

    __test__ = False  # keep pytest from collecting this class

    args: tuple[Arg, ...]
    expected: Any
    compare: CompareMode = "eq"
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "args": [asdict(a) for a in self.args],
            "expected": self.expected,
            "compare": self.compare,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TestCase:
        return cls(
            args=tuple(Arg(a.get("name"), a.get("value"), a.get("kind", "value")) for a in d["args"]),
            expected=d.get("expected"),
            compare=d.get("compare", "eq"),
            source=d.get("source", ""),
        )


@dataclass(frozen=True)
class UnparsedTest:
    """An assert the parser could not turn into a TestCase, kept with the reason (never dropped)."""

    source: str
    reason: str


@dataclass
class Problem:
    """A LeetCode-style problem normalised from either dataset schema or the built-in set."""

    task_id: str
    entry_point: str  # e.g. "Solution().twoSum"
    preamble: str  # the dataset's `prompt` field: imports and helpers every solution runs under
    tests: list[TestCase]
    question_id: int | None = None
    difficulty: str | None = None
    tags: list[str] = field(default_factory=list)
    date: str | None = None
    title: str | None = None
    description: str = ""
    starter_code: str = ""
    reference_solution: str = ""
    query: str = ""
    response: str = ""
    unparsed_tests: list[UnparsedTest] = field(default_factory=list)
    source: str = ""  # where the problem came from (file or hub name)

    @property
    def class_name(self) -> str:
        """`Solution` of `Solution().twoSum` or `Solution.twoSum`."""
        return self.entry_point.strip().rpartition(".")[0].split("(", 1)[0].strip()

    @property
    def method_name(self) -> str:
        return self.entry_point.rsplit(".", 1)[-1].strip()

    @property
    def incomplete(self) -> bool:
        """No test, or asserts that could not be parsed: its tests are not the dataset's, and a reward
        from part of them can pass a wrong answer (left out of training and scoring)."""
        return not self.tests or bool(self.unparsed_tests)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tests"] = [t.to_dict() for t in self.tests]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Problem:
        d = dict(d)
        d["tests"] = [TestCase.from_dict(t) for t in d.get("tests", [])]
        d["unparsed_tests"] = [UnparsedTest(**u) for u in d.get("unparsed_tests", [])]
        return cls(**d)
