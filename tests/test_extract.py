"""Code extraction from completions: which block runs decides the correctness reward."""

from __future__ import annotations

import ast

import pytest

from grpo4codegen.rewards.extract import (
    completion_text,
    extract_code,
    fenced_blocks,
    has_real_function,
    logical_statement_count,
)

SOLUTION = """class Solution:
    def twoSum(self, nums: list[int], target: int) -> list[int]:
        seen = {}
        for i, x in enumerate(nums):
            if target - x in seen:
                return [seen[target - x], i]
            seen[x] = i
        return []
"""
USAGE = """sol = Solution()
print(sol.twoSum([2, 7, 11, 15], 9))
"""
EP = "Solution().twoSum"


def fence(code: str, tag: str = "python") -> str:
    body = code if code.endswith("\n") else code + "\n"
    return f"```{tag}\n{body}```\n"


def test_completion_text_plain_and_conversational() -> None:
    assert completion_text("hi") == "hi"
    assert completion_text([{"role": "assistant", "content": "code"}]) == "code"
    parts = [{"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]
    assert completion_text(parts) == "ab"
    assert completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]) == "a"
    assert completion_text(None) == ""


def test_picks_entry_point_block_over_later_usage_block() -> None:
    text = "Here is my solution:\n\n" + fence(SOLUTION) + "\nExample usage:\n\n" + fence(USAGE)
    code = extract_code(text, EP)
    assert code == SOLUTION
    assert "print" not in code  # never concatenated with the usage block


def test_last_parsing_block_without_entry_point() -> None:
    text = fence("def helper(x):\n    return x\n") + "and\n" + fence(USAGE) + fence("this is (not python", "")
    assert extract_code(text) == USAGE
    assert extract_code(text, EP) == USAGE  # nothing defines the entry point: last parsing block


def test_entry_point_matching_is_structural() -> None:
    wrong_method = SOLUTION.replace("twoSum", "threeSum")
    text = fence(SOLUTION) + fence(wrong_method)
    assert extract_code(text, EP) == SOLUTION
    assert extract_code(text) == wrong_method
    plain = "def two_sum(nums, target):\n    return [0, 1]\n"
    assert extract_code(fence(plain) + fence(USAGE), "two_sum") == plain


def test_py_and_bare_fences_accepted_other_languages_skipped() -> None:
    assert extract_code(fence(SOLUTION, "py"), EP) == SOLUTION
    assert extract_code(fence(SOLUTION, ""), EP) == SOLUTION
    assert extract_code(fence(SOLUTION) + fence("x = 1\n", "bash")) == SOLUTION


def test_crlf_and_indented_fences() -> None:
    text = ("Answer:\n" + fence(SOLUTION)).replace("\n", "\r\n")
    assert extract_code(text, EP) == SOLUTION
    indented = "1. Code:\n" + "".join("    " + line + "\n" for line in fence(SOLUTION).splitlines())
    assert extract_code(indented, EP) == SOLUTION


def test_unterminated_final_fence() -> None:
    assert extract_code("Sure:\n```python\n" + SOLUTION, EP) == SOLUTION
    truncated = "```python\n" + SOLUTION + "\n    def other(self, x):\n        return foo(x,"
    code = extract_code(truncated, EP)
    assert code is not None and ast.parse(code) and "twoSum" in code


@pytest.mark.timeout(60)
def test_a_long_line_that_is_almost_a_fence_costs_linear_time() -> None:
    """A fence line whose tag runs on and ends in a backtick is not a fence; finding that out was
    quadratic in the tag's length (2.6 s for 32,000 characters, hours for this line): in the
    trainer's process, once per completion."""
    line = "```" + "a" * 1_000_000 + "`"
    assert extract_code(line + "\n" + fence(SOLUTION), EP) == SOLUTION
    assert fenced_blocks(line + "\n") == []


def test_raw_code_and_prose() -> None:
    assert extract_code(SOLUTION, EP) == SOLUTION
    assert extract_code("I cannot solve this problem, sorry.") is None
    assert extract_code("Sure") is None  # a bare name is prose, not a program
    assert extract_code("") is None
    assert extract_code([{"role": "assistant", "content": fence(SOLUTION)}], EP) == SOLUTION


def test_think_sections_are_ignored_unless_nothing_else() -> None:
    draft = SOLUTION.replace("return []", "return [-1]")
    text = "<think>\nFirst try:\n" + fence(draft) + "</think>\nFinal answer:\n" + fence(SOLUTION)
    assert extract_code(text, EP) == SOLUTION
    # the template opened <think> in the prompt: only the closing tag is in the completion
    assert extract_code("reasoning " + fence(draft) + "</think>\n" + fence(SOLUTION), EP) == SOLUTION
    # the answer part has nothing usable: fall back to the reasoning
    assert extract_code("<think>\n" + fence(draft) + "</think>\nDone.", EP) == draft
    # an unclosed think (hit max length) must not swallow the code before it
    assert extract_code(fence(SOLUTION) + "<think>\n```python\nx = (", EP) == SOLUTION


def test_fenced_blocks_reports_termination() -> None:
    blocks = fenced_blocks(fence(USAGE) + "```python\nx = 1\n")
    assert blocks == [(USAGE, True), ("x = 1\n", False)]


def test_program_shape_helpers() -> None:
    assert has_real_function(ast.parse(SOLUTION))
    assert not has_real_function(ast.parse("class Solution:\n    def f(self):\n        pass\n"))
    assert not has_real_function(ast.parse("def f(x):\n    '''Doc.'''\n    return 0\n"))
    assert not has_real_function(ast.parse(USAGE))
    assert logical_statement_count(ast.parse(SOLUTION)) == 6
