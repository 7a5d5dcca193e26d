"""Static comment reward: a natural, well-commented solution must beat every stuffing trick."""

from __future__ import annotations

import pytest

from grpo4codegen.rewards.comments import comment_details, comment_score

NATURAL = '''class Solution:
    def twoSum(self, nums: list[int], target: int) -> list[int]:
        """Return indices of the two numbers that add up to target."""
        # Map each value we have passed to its index, so the complement lookup is O(1).
        seen: dict[int, int] = {}
        for i, value in enumerate(nums):
            complement = target - value
            if complement in seen:
                # The earlier index comes first in the answer.
                return [seen[complement], i]
            seen[value] = i
        # The problem guarantees a solution, but keep the signature total.
        return []
'''

BARE = """class Solution:
    def twoSum(self, nums: list[int], target: int) -> list[int]:
        seen: dict[int, int] = {}
        for i, value in enumerate(nums):
            complement = target - value
            if complement in seen:
                return [seen[complement], i]
            seen[value] = i
        return []
"""

STUFFED: dict[str, str] = {
    "identifier_list": """class Solution:
    def twoSum(self, nums: list[int], target: int) -> list[int]:
        # nums target seen i value complement
        seen: dict[int, int] = {}
        # seen enumerate nums i value
        for i, value in enumerate(nums):
            complement = target - value
            # complement seen
            if complement in seen:
                return [seen[complement], i]
            seen[value] = i
        return []
""",
    "every_line": """class Solution:  # the solution class
    def twoSum(self, nums: list[int], target: int) -> list[int]:  # main method of the class
        seen: dict[int, int] = {}  # create an empty dictionary here
        for i, value in enumerate(nums):  # iterate over every element in the list
            complement = target - value  # compute the needed partner value
            if complement in seen:  # check whether we have it already
                return [seen[complement], i]  # return both positions now
            seen[value] = i  # remember where this number was found
        return []  # nothing found so return an empty list
""",
    "repeated": """class Solution:
    def twoSum(self, nums: list[int], target: int) -> list[int]:
        # Look up the complement of each value in the hash map.
        seen: dict[int, int] = {}
        # Look up the complement of each value in the hash map.
        for i, value in enumerate(nums):
            # Look up the complement of each value in the hash map!
            complement = target - value
            if complement in seen:
                # look up the complement of each value in the hash map
                return [seen[complement], i]
            seen[value] = i
        return []
""",
    "very_long": """class Solution:
    def twoSum(self, nums: list[int], target: int) -> list[int]:
        # This function solves the classic two sum problem by walking over the list of numbers exactly once and for each number computing the complement that would be required to reach the target value, then it consults a dictionary that maps previously visited values to the index where they were seen, and if the complement is present it returns the pair of indices immediately, otherwise it records the current value together with its index so that later elements can find it, which yields linear time and linear extra memory overall for any input list.
        seen: dict[int, int] = {}
        for i, value in enumerate(nums):
            complement = target - value
            if complement in seen:
                return [seen[complement], i]
            seen[value] = i
        return []
""",
    "commented_out_code": """class Solution:
    def twoSum(self, nums: list[int], target: int) -> list[int]:
        # for i in range(len(nums)):
        #     for j in range(i + 1, len(nums)):
        #         if nums[i] + nums[j] == target:
        #             return [i, j]
        seen: dict[int, int] = {}
        for i, value in enumerate(nums):
            complement = target - value
            # print(complement, seen)
            if complement in seen:
                return [seen[complement], i]
            seen[value] = i
        return []
""",
    "code_in_string": '''class Solution:
    def twoSum(self, nums: list[int], target: int) -> list[int]:
        """
        for i in range(len(nums)):
            for j in range(i + 1, len(nums)):
                if nums[i] + nums[j] == target:
                    return [i, j]
        """
        seen: dict[int, int] = {}
        for i, value in enumerate(nums):
            complement = target - value
            if complement in seen:
                return [seen[complement], i]
            seen[value] = i
        return []
''',
    "comments_without_code": """# Map each value we have passed to its index.
# Then look up the complement of every value in the map.
# Return the pair of indices once the complement is found.
""",
    "comments_on_stub": """class Solution:
    def twoSum(self, nums: list[int], target: int) -> list[int]:
        # Map each value we have passed to its index for O(1) lookups.
        # Return the pair of indices once the complement is found.
        pass
""",
}

BINARY_SEARCH = '''class Solution:
    def search(self, nums: list[int], target: int) -> int:
        """Binary search on a sorted array; returns -1 when target is absent."""
        lo, hi = 0, len(nums) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            if nums[mid] == target:
                return mid
            # The answer can only be to the right of mid.
            if nums[mid] < target:
                lo = mid + 1
            else:
                hi = mid - 1
        return -1
'''


def test_natural_solution_scores_high() -> None:
    assert comment_score(NATURAL) > 0.8
    assert comment_score(BINARY_SEARCH) > 0.6
    assert comment_score(BARE) == 0.0  # too few comments loses


@pytest.mark.parametrize("name", sorted(STUFFED))
def test_every_stuffing_trick_loses_to_natural(name: str) -> None:
    stuffed = comment_score(STUFFED[name])
    assert 0.0 <= stuffed < comment_score(NATURAL), name
    assert stuffed < 0.5, (name, comment_details(STUFFED[name]))


def test_ordering_of_tricks() -> None:
    natural = comment_score(NATURAL)
    every = comment_score(STUFFED["every_line"])
    ids = comment_score(STUFFED["identifier_list"])
    assert natural > every > ids
    assert comment_score(STUFFED["comments_without_code"]) == 0.0
    assert comment_score(STUFFED["comments_on_stub"]) == 0.0


def test_details_explain_the_penalty() -> None:
    assert comment_details(STUFFED["commented_out_code"])["commented_out_code"] == 2
    assert comment_details(STUFFED["repeated"])["duplicates"] == 3
    ids = comment_details(STUFFED["identifier_list"])
    assert (
        ids["no_prose"] + ids["restates"] == 3
    )  # "# complement seen" above `if complement in seen:` restates it
    assert comment_details(STUFFED["every_line"])["density"] < 0.5
    assert comment_details(STUFFED["very_long"])["mean_length"] < 0.2
    natural = comment_details(NATURAL)
    assert natural["n_docstrings"] == 1 and natural["n_units"] == 4 and natural["density"] == 1.0


def test_hash_inside_string_is_not_a_comment() -> None:
    code = """class Solution:
    def countHashes(self, s: str) -> int:
        total = 0
        for ch in s:
            if ch == "#":
                total += 1
        marker = "# this is not a comment # either"
        return total + len(marker) * 0
"""
    details = comment_details(code)
    assert details["n_units"] == 0 and details["score"] == 0.0


def test_docstrings_count_as_documentation() -> None:
    with_doc = BARE.replace(
        "list[int]:\n", 'list[int]:\n        """One pass with a hash map from value to index."""\n', 1
    )
    assert comment_score(with_doc) > 0.5 > comment_score(BARE)


def test_prose_that_names_the_code_beats_generic_prose() -> None:
    generic = NATURAL.replace(
        "# Map each value we have passed to its index, so the complement lookup is O(1).",
        "# This part is important and should be noted.",
    )
    assert comment_score(generic) < comment_score(NATURAL)


def test_pragmas_and_complexity_notes_are_not_code() -> None:
    code = NATURAL.replace("seen: dict[int, int] = {}", "seen: dict[int, int] = {}  # noqa: E501")
    assert comment_score(code) == pytest.approx(comment_score(NATURAL))
    noted = NATURAL.replace("# The earlier index", "# Time: O(n), space: O(n). The earlier index")
    assert comment_details(noted)["commented_out_code"] == 0


@pytest.mark.parametrize("code", ["", "   \n", "def f(:\n", "x = 1  # one\n"])
def test_degenerate_inputs_score_zero(code: str) -> None:
    assert comment_score(code) == 0.0
