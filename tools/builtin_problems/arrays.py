"""Array problems: hashing, two pointers, binary search, sorting and a sliding window."""

from __future__ import annotations

from ._spec import Example, Spec, rng

# --- pair-sum-count ------------------------------------------------------------------------------


def _pair_sum_brute(nums, target):
    return sum(1 for i in range(len(nums)) for j in range(i + 1, len(nums)) if nums[i] + nums[j] == target)


_r = rng("pair-sum-count")
PAIR_SUM_COUNT = Spec(
    task_id="pair-sum-count",
    question_id=90001,
    difficulty="Easy",
    tags=["Array", "Hash Table", "Counting"],
    date="2024-01-08",
    statement=(
        "You are given an integer array nums and an integer target.\n\n"
        "A pair of indices (i, j) is called matching when i < j and nums[i] + nums[j] == target.\n\n"
        "Return the number of matching pairs."
    ),
    constraints=[
        "0 <= nums.length <= 10^5",
        "-10^9 <= nums[i] <= 10^9",
        "-2 * 10^9 <= target <= 2 * 10^9",
    ],
    signature="def countPairs(self, nums: List[int], target: int) -> int:",
    solution="""class Solution:
    def countPairs(self, nums: List[int], target: int) -> int:
        # Every earlier value equal to target - x pairs up with the current x.
        seen = Counter()
        pairs = 0
        for x in nums:
            pairs += seen[target - x]
            seen[x] += 1
        return pairs
""",
    examples=[
        Example(
            {"nums": [1, 5, 3, 3, 7], "target": 8},
            3,
            "The matching pairs are (0, 4), (1, 2) and (1, 3).",
        ),
        Example({"nums": [2, 2, 2, 2], "target": 4}, 6, "Each of the 6 index pairs sums to 4."),
    ],
    cases=[
        {"nums": [], "target": 0},
        {"nums": [5], "target": 10},
        {"nums": [-3, 3, 0, 0, -3], "target": 0},
        {"nums": [-1, -2, -3, -4, -5], "target": -6},
        {"nums": [10**9, -(10**9), 10**9, 0], "target": 0},
        {"nums": [10**9, 10**9, 10**9], "target": 2 * 10**9},
        {"nums": [1, 2, 3, 4, 5, 6], "target": 100},
        {"nums": [_r.randint(-20, 20) for _ in range(600)], "target": 7},
        {"nums": [6] * 400, "target": 12},
        {"nums": [_r.randint(0, 99) for _ in range(150)], "target": 100},
    ],
    brute=_pair_sum_brute,
)

# --- best-pair-under-limit -----------------------------------------------------------------------


def _best_pair_brute(nums, limit):
    sums = [
        nums[i] + nums[j]
        for i in range(len(nums))
        for j in range(i + 1, len(nums))
        if nums[i] + nums[j] <= limit
    ]
    return max(sums, default=-1)


_r = rng("best-pair-under-limit")
BEST_PAIR_UNDER_LIMIT = Spec(
    task_id="best-pair-under-limit",
    question_id=90002,
    difficulty="Medium",
    tags=["Array", "Two Pointers", "Sorting"],
    date="2024-01-19",
    statement=(
        "You are given an array of positive integers nums and a positive integer limit.\n\n"
        "Pick two different indices i and j and consider the sum nums[i] + nums[j]. Return the largest "
        "such sum that is less than or equal to limit. If no pair of indices has a sum of at most limit "
        "(this includes the case where nums has fewer than two elements), return -1."
    ),
    constraints=[
        "0 <= nums.length <= 10^5",
        "1 <= nums[i] <= 10^9",
        "1 <= limit <= 2 * 10^9",
    ],
    signature="def bestPairSum(self, nums: List[int], limit: int) -> int:",
    solution="""class Solution:
    def bestPairSum(self, nums: List[int], limit: int) -> int:
        # After sorting, walk two pointers towards each other. If the pair fits, values[hi] is the
        # best partner values[lo] can get, so record the sum and move lo up; otherwise move hi down.
        values = sorted(nums)
        lo, hi = 0, len(values) - 1
        best = -1
        while lo < hi:
            total = values[lo] + values[hi]
            if total <= limit:
                best = max(best, total)
                lo += 1
            else:
                hi -= 1
        return best
""",
    examples=[
        Example(
            {"nums": [12, 40, 7, 25, 31, 3], "limit": 45},
            43,
            "Both 12 + 31 and 40 + 3 give 43, and no pair sums to 44 or 45.",
        ),
        Example(
            {"nums": [10, 20, 30], "limit": 15},
            -1,
            "The smallest possible sum is 10 + 20 = 30, which is larger than 15.",
        ),
    ],
    cases=[
        {"nums": [], "limit": 5},
        {"nums": [5], "limit": 10},
        {"nums": [5, 5], "limit": 10},
        {"nums": [1, 1, 1], "limit": 1},
        {"nums": [4, 9, 2, 7], "limit": 11},
        {"nums": [8, 3, 3, 9], "limit": 6},
        {"nums": [10**9, 10**9, 1], "limit": 2 * 10**9},
        {"nums": [10**9, 1, 2], "limit": 10**9},
        {"nums": [_r.randint(1, 999) for _ in range(500)], "limit": 1201},
        {"nums": [_r.randint(100, 199) for _ in range(250)], "limit": 199},
    ],
    brute=_best_pair_brute,
)

# --- count-smaller-per-query ---------------------------------------------------------------------


def _count_smaller_brute(nums, queries):
    return [sum(1 for x in nums if x < q) for q in queries]


_r = rng("count-smaller-per-query")
COUNT_SMALLER_PER_QUERY = Spec(
    task_id="count-smaller-per-query",
    question_id=90003,
    difficulty="Easy",
    tags=["Array", "Binary Search", "Sorting"],
    date="2024-02-02",
    statement=(
        "You are given an integer array nums, which is not necessarily sorted, and an integer array "
        "queries.\n\n"
        "For every queries[i], count how many elements of nums are strictly smaller than queries[i]. "
        "Return an array answer of the same length as queries, where answer[i] is the count for "
        "queries[i]."
    ),
    constraints=[
        "0 <= nums.length, queries.length <= 10^5",
        "-10^9 <= nums[i], queries[i] <= 10^9",
    ],
    signature="def countSmaller(self, nums: List[int], queries: List[int]) -> List[int]:",
    solution="""class Solution:
    def countSmaller(self, nums: List[int], queries: List[int]) -> List[int]:
        # In sorted order, the number of elements below q is the leftmost insertion point of q.
        ordered = sorted(nums)
        return [bisect_left(ordered, q) for q in queries]
""",
    examples=[
        Example(
            {"nums": [4, 1, 7, 4, 9], "queries": [5, 1, 10]},
            [3, 0, 5],
            "Three elements (4, 1 and 4) are smaller than 5, none is smaller than 1, and all five are "
            "smaller than 10.",
        ),
        Example({"nums": [2, 2, 2], "queries": [2, 3]}, [0, 3]),
    ],
    cases=[
        {"nums": [], "queries": [3, -3]},
        {"nums": [1, 2, 3], "queries": []},
        {"nums": [7], "queries": [7]},
        {"nums": [-5, -1, 0, 3], "queries": [-1, 0, -10, 100]},
        {"nums": [10**9, -(10**9)], "queries": [10**9, -(10**9), 0]},
        {"nums": [3, 1, 2], "queries": [4, 3, 2, 1, 0]},
        {
            "nums": [_r.randint(-99, 99) for _ in range(400)],
            "queries": [_r.randint(-110, 110) for _ in range(150)],
        },
        {"nums": [_r.randint(0, 30) for _ in range(150)], "queries": list(range(-2, 35))},
    ],
    brute=_count_smaller_brute,
)

# --- split-into-k-batches ------------------------------------------------------------------------


def _split_brute(jobs, k):
    n = len(jobs)
    prefix = [0]
    for t in jobs:
        prefix.append(prefix[-1] + t)
    inf = float("inf")
    # best[j][i]: smallest largest load when the first i jobs form j batches.
    best = [[inf] * (n + 1) for _ in range(k + 1)]
    best[0][0] = 0
    for j in range(1, k + 1):
        for i in range(1, n + 1):
            for cut in range(j - 1, i):
                best[j][i] = min(best[j][i], max(best[j - 1][cut], prefix[i] - prefix[cut]))
    return best[k][n]


_r = rng("split-into-k-batches")
SPLIT_INTO_K_BATCHES = Spec(
    task_id="split-into-k-batches",
    question_id=90004,
    difficulty="Hard",
    tags=["Array", "Binary Search", "Greedy"],
    date="2024-02-16",
    statement=(
        "A queue of jobs is given as an array jobs, where jobs[i] is the running time of the i-th job. "
        "The queue must be cut into exactly k non-empty batches, where every batch is a contiguous part "
        "of the queue (the order of the jobs never changes). The load of a batch is the sum of the "
        "running times in it.\n\n"
        "Return the smallest possible value of the largest load among the k batches."
    ),
    constraints=[
        "1 <= k <= jobs.length <= 1000",
        "0 <= jobs[i] <= 10^6",
    ],
    signature="def minimizeLargestBatch(self, jobs: List[int], k: int) -> int:",
    solution="""class Solution:
    def minimizeLargestBatch(self, jobs: List[int], k: int) -> int:
        def batches_needed(cap: int) -> int:
            # Fill each batch greedily for as long as it stays within cap.
            count, load = 1, 0
            for t in jobs:
                if load + t > cap:
                    count += 1
                    load = 0
                load += t
            return count

        # A cap that works with at most k batches also works with exactly k (split a batch further),
        # and feasibility only improves as the cap grows, so binary search the smallest feasible cap.
        lo, hi = max(jobs), sum(jobs)
        while lo < hi:
            mid = (lo + hi) // 2
            if batches_needed(mid) <= k:
                hi = mid
            else:
                lo = mid + 1
        return lo
""",
    examples=[
        Example(
            {"jobs": [3, 1, 4, 1, 5, 9, 2, 6], "k": 3},
            14,
            "One best split is [3,1,4,1,5] | [9] | [2,6] with loads 14, 9 and 8. No split keeps every "
            "load at 13 or below.",
        ),
        Example({"jobs": [5, 5, 5], "k": 3}, 5),
    ],
    cases=[
        {"jobs": [7], "k": 1},
        {"jobs": [1, 2, 3, 4, 5], "k": 1},
        {"jobs": [1, 2, 3, 4, 5], "k": 5},
        {"jobs": [0, 0, 0, 0], "k": 2},
        {"jobs": [10**6] * 4, "k": 2},
        {"jobs": [1, 1, 1, 1, 100], "k": 2},
        {"jobs": [2, 3, 1, 2, 4, 3], "k": 3},
        {"jobs": [_r.randint(0, 30) for _ in range(25)], "k": 6},
        {"jobs": [_r.randint(0, 99) for _ in range(500)], "k": 17},
        {"jobs": [_r.randint(1, 9) for _ in range(300)], "k": 150},
    ],
    brute=_split_brute,
    brute_if=lambda kw: len(kw["jobs"]) <= 40,
)

# --- merge-bookings ------------------------------------------------------------------------------


def _merge_brute(bookings):
    blocks = [list(b) for b in bookings]
    merged = True
    while merged:
        merged = False
        for i in range(len(blocks)):
            for j in range(i + 1, len(blocks)):
                a, b = blocks[i], blocks[j]
                if a[0] <= b[1] and b[0] <= a[1]:
                    blocks[i] = [min(a[0], b[0]), max(a[1], b[1])]
                    del blocks[j]
                    merged = True
                    break
            if merged:
                break
    return sorted(blocks)


def _random_bookings(r, count):
    out = []
    for _ in range(count):
        start = r.randint(0, 2500)
        out.append([start, start + r.randint(0, 25)])
    return out


_r = rng("merge-bookings")
MERGE_BOOKINGS = Spec(
    task_id="merge-bookings",
    question_id=90005,
    difficulty="Medium",
    tags=["Array", "Sorting"],
    date="2024-03-01",
    statement=(
        "A meeting room keeps a list of bookings, where bookings[i] = [start_i, end_i] reserves every "
        "minute from start_i to end_i, both included.\n\n"
        "Two bookings that share at least one minute belong to the same block, and blocks chain: if "
        "booking A shares a minute with B and B shares a minute with C, all three are in one block. "
        "Note that [1,2] and [3,4] share no minute, so they are in different blocks.\n\n"
        "Return one pair [first, last] per block, where first is the earliest start and last the latest "
        "end among the bookings of the block. List the blocks in increasing order of first."
    ),
    constraints=[
        "0 <= bookings.length <= 10^4",
        "bookings[i].length == 2",
        "-10^9 <= start_i <= end_i <= 10^9",
    ],
    signature="def mergeBookings(self, bookings: List[List[int]]) -> List[List[int]]:",
    solution="""class Solution:
    def mergeBookings(self, bookings: List[List[int]]) -> List[List[int]]:
        blocks: List[List[int]] = []
        # Sorted by start, a booking joins the current block exactly when it starts no later than
        # the block's end; otherwise it opens a new block.
        for start, end in sorted(bookings):
            if blocks and start <= blocks[-1][1]:
                blocks[-1][1] = max(blocks[-1][1], end)
            else:
                blocks.append([start, end])
        return blocks
""",
    examples=[
        Example(
            {"bookings": [[5, 8], [1, 3], [2, 4], [10, 12], [8, 9]]},
            [[1, 4], [5, 9], [10, 12]],
            "[1,3] and [2,4] overlap, [5,8] and [8,9] share minute 8, and [10,12] stands alone.",
        ),
        Example({"bookings": [[4, 7], [1, 4]]}, [[1, 7]], "The two bookings share minute 4."),
    ],
    cases=[
        {"bookings": []},
        {"bookings": [[3, 3]]},
        {"bookings": [[1, 2], [3, 4]]},
        {"bookings": [[-5, -1], [-3, 2]]},
        {"bookings": [[1, 10], [2, 3], [4, 5]]},
        {"bookings": [[6, 6], [6, 6], [1, 6]]},
        {"bookings": [[-(10**9), 0], [1, 10**9]]},
        {"bookings": [[0, 1], [5, 6], [2, 3], [1, 2], [4, 5]]},
        {"bookings": _random_bookings(_r, 110)},
        {"bookings": _random_bookings(_r, 60)},
    ],
    brute=_merge_brute,
)

# --- max-average-window --------------------------------------------------------------------------


def _max_average_brute(nums, k):
    return max(sum(nums[i : i + k]) for i in range(len(nums) - k + 1)) / k


_r = rng("max-average-window")
MAX_AVERAGE_WINDOW = Spec(
    task_id="max-average-window",
    question_id=90006,
    difficulty="Easy",
    tags=["Array", "Sliding Window"],
    date="2024-03-14",
    statement=(
        "You are given an integer array nums and an integer k. Consider every contiguous subarray of "
        "nums whose length is exactly k.\n\n"
        "Return the largest average among these subarrays. Answers within 10^-5 of the exact value are "
        "accepted."
    ),
    constraints=[
        "1 <= k <= nums.length <= 10^5",
        "-10^4 <= nums[i] <= 10^4",
    ],
    signature="def maxWindowAverage(self, nums: List[int], k: int) -> float:",
    solution="""class Solution:
    def maxWindowAverage(self, nums: List[int], k: int) -> float:
        # Slide a window of length k, keeping its sum up to date in O(1) per step.
        window = sum(nums[:k])
        best = window
        for i in range(k, len(nums)):
            window += nums[i] - nums[i - k]
            best = max(best, window)
        return best / k
""",
    examples=[
        Example(
            {"nums": [4, -2, 9, 3, -8, 6], "k": 3},
            11 / 3,
            "The window [4,-2,9] has the largest sum, 11, so the answer is 11 / 3.",
        ),
        Example({"nums": [7], "k": 1}, 7.0),
    ],
    cases=[
        {"nums": [-1, -2, -3], "k": 2},
        {"nums": [10**4] * 5, "k": 5},
        {"nums": [1, 2], "k": 2},
        {"nums": [0, 0, 0, 1], "k": 3},
        {"nums": [5, -5, 5, -5, 5], "k": 2},
        {"nums": [3, 3, 4], "k": 2},
        {"nums": [-(10**4), 10**4, -(10**4)], "k": 1},
        {"nums": [_r.randint(-99, 99) for _ in range(600)], "k": 200},
        {"nums": [_r.randint(-(10**4), 10**4) for _ in range(150)], "k": 7},
    ],
    brute=_max_average_brute,
)

PROBLEMS = [
    PAIR_SUM_COUNT,
    BEST_PAIR_UNDER_LIMIT,
    COUNT_SMALLER_PER_QUERY,
    SPLIT_INTO_K_BATCHES,
    MERGE_BOOKINGS,
    MAX_AVERAGE_WINDOW,
]
