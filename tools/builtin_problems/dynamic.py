"""Dynamic programming problems: counting paths, subsequences, edit costs, coins and probabilities."""

from __future__ import annotations

import itertools
from collections import deque
from functools import cache

from ._spec import Example, Spec, rng

# --- climb-with-broken-steps ---------------------------------------------------------------------


def _climb_brute(n, broken):
    # Plain recursion over the position, with exact integers; reduced modulo at the end.
    blocked = set(broken)

    @cache
    def ways_from(pos):
        if pos == n:
            return 1
        return sum(ways_from(p) for p in range(pos + 1, min(pos + 3, n) + 1) if p not in blocked)

    return ways_from(0) % (10**9 + 7)


def _spread_broken(r, n, count):
    steps = set()
    while len(steps) < count:
        s = r.randint(1, n - 1)
        if not {s - 1, s - 2, s + 1, s + 2} & steps:  # never three broken steps in a row
            steps.add(s)
    return sorted(steps)


_r = rng("climb-with-broken-steps")
CLIMB_WITH_BROKEN_STEPS = Spec(
    task_id="climb-with-broken-steps",
    question_id=90010,
    difficulty="Easy",
    tags=["Dynamic Programming", "Array"],
    date="2024-05-06",
    statement=(
        "A staircase has steps numbered 0 to n. You stand on step 0 and want to reach step n. In one "
        "move you climb 1, 2 or 3 steps. Some steps are broken; their numbers are listed in broken, and "
        "you may never stand on a broken step.\n\n"
        "Return the number of different sequences of moves that take you from step 0 to step n. Since "
        "the answer can be very large, return it modulo 10^9 + 7."
    ),
    constraints=[
        "1 <= n <= 10^5",
        "0 <= broken.length < n",
        "1 <= broken[i] <= n - 1",
        "All values of broken are distinct.",
    ],
    signature="def countClimbs(self, n: int, broken: List[int]) -> int:",
    solution="""class Solution:
    def countClimbs(self, n: int, broken: List[int]) -> int:
        MOD = 10**9 + 7
        blocked = set(broken)
        # ways[i] = number of move sequences that end on step i.
        ways = [0] * (n + 1)
        ways[0] = 1
        for step in range(1, n + 1):
            if step not in blocked:
                ways[step] = sum(ways[max(0, step - 3) : step]) % MOD
        return ways[n]
""",
    examples=[
        Example(
            {"n": 4, "broken": [2]},
            3,
            "The sequences are 1+3 (via step 1), 3+1 (via step 3) and 1+2+1 (via steps 1 and 3).",
        ),
        Example({"n": 5, "broken": [1, 2, 3]}, 0, "No move from step 0 can get past steps 1, 2 and 3."),
    ],
    cases=[
        {"n": 1, "broken": []},
        {"n": 3, "broken": []},
        {"n": 2, "broken": [1]},
        {"n": 10, "broken": [4, 5, 6]},
        {"n": 30, "broken": [7, 14, 21]},
        {"n": 50, "broken": []},
        {"n": 100000, "broken": []},
        {"n": 3000, "broken": _spread_broken(_r, 3000, 150)},
        {"n": 400, "broken": list(range(2, 400, 2))},
    ],
    brute=_climb_brute,
    brute_if=lambda kw: kw["n"] <= 900,
)

# --- common-subsequence-length -------------------------------------------------------------------


def _lcs_brute(first, second):
    @cache
    def best(i, j):
        if i == len(first) or j == len(second):
            return 0
        if first[i] == second[j]:
            return 1 + best(i + 1, j + 1)
        return max(best(i + 1, j), best(i, j + 1))

    return best(0, 0)


_r = rng("common-subsequence-length")
COMMON_SUBSEQUENCE_LENGTH = Spec(
    task_id="common-subsequence-length",
    question_id=90011,
    difficulty="Medium",
    tags=["String", "Dynamic Programming"],
    date="2024-05-20",
    statement=(
        "Given two strings first and second, return the length of their longest common subsequence.\n\n"
        "A subsequence of a string is what remains after deleting some of its characters (possibly none) "
        "without changing the order of the others. A common subsequence is a subsequence of both "
        "strings. If the strings share no character, the answer is 0."
    ),
    constraints=[
        "0 <= first.length, second.length <= 1000",
        "first and second consist of lowercase English letters.",
    ],
    signature="def commonSubsequence(self, first: str, second: str) -> int:",
    solution="""class Solution:
    def commonSubsequence(self, first: str, second: str) -> int:
        # prev[j] = LCS length of the processed prefix of first and second[:j]; one row at a time.
        prev = [0] * (len(second) + 1)
        for a in first:
            cur = [0] * (len(second) + 1)
            for j, b in enumerate(second, start=1):
                if a == b:
                    cur[j] = prev[j - 1] + 1
                else:
                    cur[j] = max(prev[j], cur[j - 1])
            prev = cur
        return prev[-1]
""",
    examples=[
        Example(
            {"first": "scheduler", "second": "shuttle"},
            5,
            'The string "shule" is a subsequence of both words.',
        ),
        Example({"first": "abc", "second": "xyz"}, 0),
    ],
    cases=[
        {"first": "", "second": "abc"},
        {"first": "", "second": ""},
        {"first": "a", "second": "a"},
        {"first": "abcde", "second": "abcde"},
        {"first": "abcde", "second": "edcba"},
        {"first": "aaaa", "second": "aa"},
        {"first": "ab" * 5, "second": "ba" * 5},
        {
            "first": "".join(_r.choice("acgt") for _ in range(500)),
            "second": "".join(_r.choice("acgt") for _ in range(400)),
        },
        {
            "first": "".join(_r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(300)),
            "second": "".join(_r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(250)),
        },
    ],
    brute=_lcs_brute,
    brute_if=lambda kw: len(kw["first"]) * len(kw["second"]) <= 10000,
)

# --- weighted-edit-distance ----------------------------------------------------------------------


def _edit_brute(source, target, insertCost, deleteCost, replaceCost):
    @cache
    def cost(i, j):
        # Cost of turning source[:i] into target[:j], working from the back.
        if i == 0:
            return j * insertCost
        if j == 0:
            return i * deleteCost
        options = [cost(i - 1, j) + deleteCost, cost(i, j - 1) + insertCost]
        if source[i - 1] == target[j - 1]:
            options.append(cost(i - 1, j - 1))
        else:
            options.append(cost(i - 1, j - 1) + replaceCost)
        return min(options)

    return cost(len(source), len(target))


_r = rng("weighted-edit-distance")
WEIGHTED_EDIT_DISTANCE = Spec(
    task_id="weighted-edit-distance",
    question_id=90012,
    difficulty="Hard",
    tags=["String", "Dynamic Programming"],
    date="2024-06-03",
    statement=(
        "You want to turn the string source into the string target using three operations, each with a "
        "fixed cost:\n\n"
        "- insert one character anywhere, costing insertCost;\n"
        "- delete one character, costing deleteCost;\n"
        "- replace one character by a different character, costing replaceCost.\n\n"
        "Return the minimum total cost of turning source into target."
    ),
    constraints=[
        "0 <= source.length, target.length <= 500",
        "1 <= insertCost, deleteCost, replaceCost <= 1000",
        "source and target consist of lowercase English letters.",
    ],
    signature=(
        "def editCost(self, source: str, target: str, insertCost: int, deleteCost: int, "
        "replaceCost: int) -> int:"
    ),
    solution="""class Solution:
    def editCost(self, source: str, target: str, insertCost: int, deleteCost: int, replaceCost: int) -> int:
        m = len(target)
        # prev[j] = cost of turning the processed prefix of source into target[:j].
        prev = [j * insertCost for j in range(m + 1)]
        for i, a in enumerate(source, start=1):
            cur = [i * deleteCost] + [0] * m
            for j in range(1, m + 1):
                keep_or_replace = prev[j - 1] + (0 if a == target[j - 1] else replaceCost)
                cur[j] = min(keep_or_replace, prev[j] + deleteCost, cur[j - 1] + insertCost)
            prev = cur
        return prev[m]
""",
    examples=[
        Example(
            {"source": "garden", "target": "gardener", "insertCost": 2, "deleteCost": 3, "replaceCost": 4},
            4,
            'Insert "e" and "r" at the end for 2 each.',
        ),
        Example(
            {"source": "abc", "target": "xbz", "insertCost": 1, "deleteCost": 1, "replaceCost": 5},
            4,
            'A replacement costs 5, so it is cheaper to delete "a" and insert "x" (cost 2), and to '
            'delete "c" and insert "z" (cost 2).',
        ),
    ],
    cases=[
        {"source": "", "target": "", "insertCost": 1, "deleteCost": 1, "replaceCost": 1},
        {"source": "", "target": "abc", "insertCost": 7, "deleteCost": 1, "replaceCost": 1},
        {"source": "abc", "target": "", "insertCost": 1, "deleteCost": 9, "replaceCost": 1},
        {"source": "same", "target": "same", "insertCost": 5, "deleteCost": 5, "replaceCost": 5},
        {"source": "kitten", "target": "sitting", "insertCost": 1, "deleteCost": 1, "replaceCost": 1},
        {"source": "abcdef", "target": "azced", "insertCost": 3, "deleteCost": 2, "replaceCost": 1},
        {"source": "aaaa", "target": "bbbb", "insertCost": 1000, "deleteCost": 1000, "replaceCost": 1},
        {"source": "ab", "target": "ba", "insertCost": 1000, "deleteCost": 1, "replaceCost": 1000},
        {
            "source": "".join(_r.choice("abc") for _ in range(300)),
            "target": "".join(_r.choice("abc") for _ in range(280)),
            "insertCost": 3,
            "deleteCost": 4,
            "replaceCost": 5,
        },
        {
            "source": "".join(_r.choice("abcdefgh") for _ in range(250)),
            "target": "".join(_r.choice("abcdefgh") for _ in range(260)),
            "insertCost": 2,
            "deleteCost": 2,
            "replaceCost": 3,
        },
    ],
    brute=_edit_brute,
    brute_if=lambda kw: len(kw["source"]) * len(kw["target"]) <= 10000,
)

# --- fewest-coins --------------------------------------------------------------------------------


def _coins_brute(coins, amount):
    # Breadth-first search over amounts: the first time an amount is reached uses the fewest coins.
    dist = {0: 0}
    queue = deque([0])
    while queue:
        x = queue.popleft()
        if x == amount:
            return dist[x]
        for c in coins:
            y = x + c
            if y <= amount and y not in dist:
                dist[y] = dist[x] + 1
                queue.append(y)
    return -1


FEWEST_COINS = Spec(
    task_id="fewest-coins",
    question_id=90013,
    difficulty="Medium",
    tags=["Array", "Dynamic Programming", "Breadth-First Search"],
    date="2024-06-17",
    statement=(
        "You have an unlimited supply of coins of each value listed in coins. Return the smallest number "
        "of coins whose values add up to exactly amount, or -1 if no combination of coins adds up to "
        "amount. Making an amount of 0 needs no coins."
    ),
    constraints=[
        "1 <= coins.length <= 12",
        "1 <= coins[i] <= 10^4",
        "All values of coins are distinct.",
        "0 <= amount <= 10^4",
    ],
    signature="def fewestCoins(self, coins: List[int], amount: int) -> int:",
    solution="""class Solution:
    def fewestCoins(self, coins: List[int], amount: int) -> int:
        # best[x] = fewest coins that make exactly x (inf when x cannot be made).
        best = [0] + [inf] * amount
        for x in range(1, amount + 1):
            for c in coins:
                if c <= x and best[x - c] + 1 < best[x]:
                    best[x] = best[x - c] + 1
        return -1 if best[amount] == inf else best[amount]
""",
    examples=[
        Example({"coins": [2, 5, 10], "amount": 27}, 4, "27 = 10 + 10 + 5 + 2."),
        Example({"coins": [4, 6], "amount": 7}, -1, "Any sum of 4s and 6s is even."),
    ],
    cases=[
        {"coins": [1], "amount": 0},
        {"coins": [3], "amount": 2},
        {"coins": [1, 3, 4], "amount": 6},
        {"coins": [7], "amount": 7000},
        {"coins": [2], "amount": 10000},
        {"coins": [9999, 10000], "amount": 10000},
        {"coins": [3, 7, 11, 19], "amount": 1},
        {"coins": [5, 9, 13, 17, 23, 29, 31, 37], "amount": 9999},
        {"coins": [4, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43], "amount": 10000},
        {"coins": [25, 10, 1], "amount": 30},
    ],
    brute=_coins_brute,
)

# --- longest-rising-subsequence ------------------------------------------------------------------


def _lis_brute(nums):
    best = [1] * len(nums)
    for i in range(len(nums)):
        for j in range(i):
            if nums[j] < nums[i]:
                best[i] = max(best[i], best[j] + 1)
    return max(best, default=0)


_r = rng("longest-rising-subsequence")
LONGEST_RISING_SUBSEQUENCE = Spec(
    task_id="longest-rising-subsequence",
    question_id=90014,
    difficulty="Medium",
    tags=["Array", "Binary Search", "Dynamic Programming"],
    date="2024-07-01",
    statement=(
        "Given an integer array nums, return the length of its longest strictly increasing "
        "subsequence: the longest sequence of elements, taken from nums in their original order (not "
        "necessarily adjacent), in which every element is larger than the one before it."
    ),
    constraints=[
        "0 <= nums.length <= 2500",
        "-10^9 <= nums[i] <= 10^9",
    ],
    signature="def longestRising(self, nums: List[int]) -> int:",
    solution="""class Solution:
    def longestRising(self, nums: List[int]) -> int:
        # tails[L] = smallest possible last element of a rising subsequence of length L + 1.
        tails: List[int] = []
        for x in nums:
            pos = bisect_left(tails, x)
            if pos == len(tails):
                tails.append(x)
            else:
                tails[pos] = x
        return len(tails)
""",
    examples=[
        Example(
            {"nums": [3, 1, 8, 2, 5, 9, 4, 6]},
            4,
            "One longest strictly increasing subsequence is [1,2,4,6].",
        ),
        Example({"nums": [5, 5, 5]}, 1, "Equal values do not count as increasing."),
    ],
    cases=[
        {"nums": []},
        {"nums": [7]},
        {"nums": [-3, -2, -1]},
        {"nums": [10**9, -(10**9), 0, 10**9]},
        {"nums": [1, 3, 2, 4, 3, 5]},
        {"nums": [2, 1]},
        {"nums": [_r.randint(0, 999) for _ in range(500)]},
        {"nums": list(range(200, 0, -1))},
        {"nums": [_r.randint(0, 20) for _ in range(300)]},
    ],
    brute=_lis_brute,
)

# --- dice-target-probability ---------------------------------------------------------------------


def _dice_brute(n, k, target):
    hits = sum(1 for roll in itertools.product(range(1, k + 1), repeat=n) if sum(roll) == target)
    return hits / k**n


DICE_TARGET_PROBABILITY = Spec(
    task_id="dice-target-probability",
    question_id=90015,
    difficulty="Medium",
    tags=["Math", "Dynamic Programming", "Probability and Statistics"],
    date="2024-07-15",
    statement=(
        "You roll n fair dice at once. Each die shows one of the numbers 1, 2, ..., k, each with the "
        "same probability, independently of the other dice.\n\n"
        "Return the probability that the numbers shown add up to exactly target. Answers within 10^-5 "
        "of the exact value are accepted."
    ),
    constraints=[
        "1 <= n <= 30",
        "1 <= k <= 30",
        "1 <= target <= 1000",
    ],
    signature="def diceProbability(self, n: int, k: int, target: int) -> float:",
    solution="""class Solution:
    def diceProbability(self, n: int, k: int, target: int) -> float:
        if not n <= target <= n * k:
            return 0.0
        # ways[t] = number of equally likely outcomes of the dice rolled so far that total t.
        ways = [1]
        for _ in range(n):
            nxt = [0] * (len(ways) + k)
            for total, count in enumerate(ways):
                if count:
                    for face in range(1, k + 1):
                        nxt[total + face] += count
            ways = nxt
        # Exact integer counts, divided once at the end.
        return ways[target] / k**n
""",
    examples=[
        Example(
            {"n": 2, "k": 6, "target": 7},
            1 / 6,
            "6 of the 36 equally likely outcomes add up to 7.",
        ),
        Example({"n": 3, "k": 4, "target": 13}, 0.0, "The largest possible total is 12."),
    ],
    cases=[
        {"n": 1, "k": 1, "target": 1},
        {"n": 1, "k": 6, "target": 3},
        {"n": 2, "k": 2, "target": 3},
        {"n": 3, "k": 6, "target": 10},
        {"n": 4, "k": 6, "target": 14},
        {"n": 5, "k": 3, "target": 4},
        {"n": 10, "k": 6, "target": 35},
        {"n": 20, "k": 10, "target": 110},
        {"n": 25, "k": 12, "target": 160},
        {"n": 30, "k": 30, "target": 465},
        {"n": 30, "k": 6, "target": 1000},
    ],
    brute=_dice_brute,
    brute_if=lambda kw: kw["k"] ** kw["n"] <= 200_000,
)

PROBLEMS = [
    CLIMB_WITH_BROKEN_STEPS,
    COMMON_SUBSEQUENCE_LENGTH,
    WEIGHTED_EDIT_DISTANCE,
    FEWEST_COINS,
    LONGEST_RISING_SUBSEQUENCE,
    DICE_TARGET_PROBABILITY,
]
