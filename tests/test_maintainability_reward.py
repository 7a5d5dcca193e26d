"""Static maintainability reward: clean beats branchy, and trivial code never scores high."""

from __future__ import annotations

import pytest

from grpo4codegen.rewards.maintainability import (
    complexity_score,
    maintainability_details,
    maintainability_score,
)

CLEAN = """class Solution:
    def longestCommonPrefix(self, strs: list[str]) -> str:
        if not strs:
            return ""
        prefix = strs[0]
        for word in strs[1:]:
            while not word.startswith(prefix):
                prefix = prefix[:-1]
        return prefix
"""

NESTED = """class Solution:
    def longestCommonPrefix(self, strs):
        res = ""
        if strs is not None:
            if len(strs) > 0:
                i = 0
                while True:
                    ok = True
                    c = None
                    for s in strs:
                        if i < len(s):
                            if c is None:
                                c = s[i]
                            else:
                                if s[i] != c:
                                    ok = False
                                    break
                                else:
                                    if s[i] == c and ok:
                                        ok = True
                                    else:
                                        ok = False
                        else:
                            ok = False
                            break
                    if ok and c is not None:
                        res = res + c
                        i = i + 1
                    else:
                        break
            else:
                return res
        else:
            return res
        return res
"""

TWO_SUM = """class Solution:
    def twoSum(self, nums: list[int], target: int) -> list[int]:
        seen: dict[int, int] = {}
        for i, value in enumerate(nums):
            complement = target - value
            if complement in seen:
                return [seen[complement], i]
            seen[value] = i
        return []
"""


def test_clean_beats_nested_and_branchy() -> None:
    clean, nested = maintainability_details(CLEAN), maintainability_details(NESTED)
    assert clean["score"] > nested["score"] + 0.2
    assert clean["score"] > 0.7
    assert nested["max_complexity"] > clean["max_complexity"]
    assert nested["max_depth"] >= 6 and nested["nesting"] < clean["nesting"]


@pytest.mark.parametrize(
    "code",
    [
        "class Solution:\n    def longestCommonPrefix(self, strs):\n        pass\n",
        "class Solution:\n    def maxProfit(self, prices):\n        return 0\n",
        'def solve(nums):\n    """TODO."""\n    raise NotImplementedError\n',
        "class Solution:\n    pass\n",
        "x = 1\ny = 2\nprint(x + y)\n",  # no function at all
    ],
)
def test_trivial_code_is_capped_low(code: str) -> None:
    details = maintainability_details(code)
    assert details["score"] <= 0.1, details
    assert details["reason"] == "no_real_function"


def test_a_short_program_that_does_real_work_is_not_capped_and_padding_buys_nothing() -> None:
    """A correct one-liner is maintainable; capping short programs only taught padding them out."""
    one_liner = "class Solution:\n    def findKthLargest(self, nums, k):\n        return sorted(nums)[-k]\n"
    details = maintainability_details(one_liner)
    assert details["reason"] == "" and details["score"] == details["raw"] > 0.8
    padded = (
        "class Solution:\n    def findKthLargest(self, nums, k):\n        ordered = sorted(nums)\n"
        "        answer = ordered[-k]\n        result = answer\n        return result\n"
    )
    assert maintainability_score(padded) <= maintainability_score(one_liner)


@pytest.mark.parametrize("code", ["", "def f(:\n    return", "class Solution\n"])
def test_unparseable_or_empty_is_zero(code: str) -> None:
    assert maintainability_score(code) == 0.0


def test_comments_do_not_buy_maintainability() -> None:
    stuffed = "".join(line + "  # explain this line\n" for line in TWO_SUM.splitlines())
    assert maintainability_score(stuffed) == pytest.approx(maintainability_score(TWO_SUM), abs=0.01)


def test_one_complex_function_is_not_averaged_away() -> None:
    helpers = "".join(f"    def helper{i}(self, x):\n        return x + {i}\n" for i in range(6))
    with_helpers = NESTED.replace("class Solution:\n", "class Solution:\n" + helpers)
    assert maintainability_details(with_helpers)["cc"] < 0.9
    assert maintainability_score(with_helpers) < maintainability_score(CLEAN)


def test_complexity_map_is_monotone() -> None:
    values = [complexity_score(c) for c in range(1, 50)]
    assert values[0] == 1.0 and values[-1] == 0.0
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    assert complexity_score(10) == pytest.approx(0.7)


def test_scores_stay_in_unit_interval() -> None:
    for code in (CLEAN, NESTED, TWO_SUM):
        assert 0.0 <= maintainability_score(code) <= 1.0


HIDDEN = '''SOURCE = """
seen = {}
pairs = 0
for x in nums:
    pairs += seen.get(target - x, 0)
    seen[x] = seen.get(x, 0) + 1
"""


class Solution:
    def pairSum(self, nums, target):
        scope = {"nums": nums, "target": target}
        RUN(SOURCE, scope)
        return scope["pairs"]
'''


@pytest.mark.parametrize(
    "run",
    ["exec", "builtins.exec", 'getattr(builtins, "exec")', "eval(compile(SOURCE, 's', 'exec')) or exec"],
)
def test_code_run_from_a_string_is_capped(run: str) -> None:
    # radon sees three trivial lines; the logic hides in the string
    code = "import builtins\n" + HIDDEN.replace("RUN(", f"({run})(")
    details = maintainability_details(code)
    assert details["reason"] == "dynamic_code" and details["score"] <= 0.1, details
    # the same program as a string that is never named as code still is one
    details = maintainability_details(HIDDEN.replace("RUN(SOURCE, scope)", "scope['pairs'] = len(SOURCE)"))
    assert details["reason"] == "dynamic_code", details


def test_ordinary_strings_and_docstrings_are_not_code() -> None:
    prose = TWO_SUM.replace(
        "        seen: dict",
        '        """Return the two indices.\n\n        seen\n        complement\n        """\n        seen: dict',
    )
    assert maintainability_details(prose)["reason"] == ""
    assert (
        maintainability_details(TWO_SUM.replace("return []", 'return ["a;b", "x\\ny"][:0]'))["reason"] == ""
    )
