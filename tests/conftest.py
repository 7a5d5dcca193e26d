"""Shared fixtures: one sandbox executor per test session, small hand-made problems, the real datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grpo4codegen.data.loader import problem_from_row
from grpo4codegen.data.problems import Problem
from grpo4codegen.sandbox.executor import Executor

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO.parent / "shared" / "data" / "leetcodedataset"
V031 = DATA_DIR / "LeetCodeDataset-v0.3.1-test.jsonl.gz"
V020 = DATA_DIR / "LeetCodeDataset-v0.2.0-train.jsonl.gz"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

needs_data = pytest.mark.skipif(not V031.exists(), reason=f"real dataset not found at {DATA_DIR}")


def make_problem(
    method: str, asserts: list[str], reference: str = "", preamble: str = "", task_id: str = ""
) -> Problem:
    """A Problem from a method name and assert lines, parsed the same way as the dataset's."""
    test = "def check(candidate):\n" + "".join(f"    {a}\n" for a in asserts)
    row = {
        "task_id": task_id or method,
        "entry_point": f"Solution().{method}",
        "test": test,
        "prompt": preamble,
        "completion": reference,
    }
    return problem_from_row(row, "tests")


ADD_REFERENCE = "class Solution:\n    def add(self, a: int, b: int) -> int:\n        return a + b\n"


@pytest.fixture(scope="session")
def add_problem() -> Problem:
    return make_problem(
        "add",
        [
            "assert candidate(a=1, b=2) == 3",
            "assert candidate(a=-5, b=5) == 0",
            "assert candidate(a=10, b=20) == 30",
        ],
        ADD_REFERENCE,
    )


@pytest.fixture(scope="session")
def executor():
    with Executor(workers=2) as ex:
        yield ex
