"""Math and bit manipulation problems: a prime sieve, Hamming distances, a lone value and maximum XOR."""

from __future__ import annotations

from collections import Counter

from ._spec import Example, Spec, rng

# --- count-primes-below --------------------------------------------------------------------------


def _primes_brute(n):
    def is_prime(p):
        if p < 2:
            return False
        d = 2
        while d * d <= p:
            if p % d == 0:
                return False
            d += 1
        return True

    return sum(1 for p in range(n) if is_prime(p))


COUNT_PRIMES_BELOW = Spec(
    task_id="count-primes-below",
    question_id=90022,
    difficulty="Medium",
    tags=["Math", "Number Theory", "Array"],
    date="2024-10-21",
    statement="Given an integer n, return how many prime numbers are strictly smaller than n.",
    constraints=["0 <= n <= 2 * 10^6"],
    signature="def primesBelow(self, n: int) -> int:",
    solution="""class Solution:
    def primesBelow(self, n: int) -> int:
        if n < 3:
            return 0
        # Sieve of Eratosthenes: is_prime[i] tells whether i is prime, for 0 <= i < n.
        is_prime = bytearray([1]) * n
        is_prime[0] = is_prime[1] = 0
        p = 2
        while p * p < n:
            if is_prime[p]:
                # Multiples below p * p were already crossed out by smaller primes.
                is_prime[p * p :: p] = bytes(len(range(p * p, n, p)))
            p += 1
        return sum(is_prime)
""",
    examples=[
        Example({"n": 10}, 4, "The primes below 10 are 2, 3, 5 and 7."),
        Example({"n": 2}, 0),
    ],
    cases=[
        {"n": 0},
        {"n": 1},
        {"n": 3},
        {"n": 11},
        {"n": 12},
        {"n": 100},
        {"n": 1000},
        {"n": 999983},
        {"n": 10**6},
        {"n": 2 * 10**6},
    ],
    brute=_primes_brute,
    brute_if=lambda kw: kw["n"] <= 20000,
)

# --- total-hamming-distance ----------------------------------------------------------------------


def _hamming_brute(nums):
    return sum(bin(nums[i] ^ nums[j]).count("1") for i in range(len(nums)) for j in range(i + 1, len(nums)))


_r = rng("total-hamming-distance")
TOTAL_HAMMING_DISTANCE = Spec(
    task_id="total-hamming-distance",
    question_id=90023,
    difficulty="Medium",
    tags=["Array", "Math", "Bit Manipulation"],
    date="2024-11-04",
    statement=(
        "The Hamming distance between two non-negative integers is the number of bit positions in "
        "which their binary representations differ.\n\n"
        "Given an integer array nums, return the sum of the Hamming distances of all pairs nums[i], "
        "nums[j] with i < j."
    ),
    constraints=[
        "0 <= nums.length <= 10^4",
        "0 <= nums[i] <= 10^9",
    ],
    signature="def totalHamming(self, nums: List[int]) -> int:",
    solution="""class Solution:
    def totalHamming(self, nums: List[int]) -> int:
        # Bit by bit: a pair differs in this bit exactly when one has it set and the other does not.
        total = 0
        for bit in range(30):
            ones = sum((x >> bit) & 1 for x in nums)
            total += ones * (len(nums) - ones)
        return total
""",
    examples=[
        Example(
            {"nums": [5, 8, 3]},
            8,
            "In binary 5 = 0101, 8 = 1000 and 3 = 0011. The pairs differ in 3, 2 and 3 bits.",
        ),
        Example({"nums": [0, 0]}, 0),
    ],
    cases=[
        {"nums": []},
        {"nums": [7]},
        {"nums": [0, 10**9]},
        {"nums": [2**30 - 1, 0, 2**30 - 1]},
        {"nums": [1, 2, 4, 8]},
        {"nums": [10**9] * 6},
        {"nums": [_r.randint(0, 1023) for _ in range(500)]},
        {"nums": [_r.randint(0, 10**9) for _ in range(100)]},
    ],
    brute=_hamming_brute,
)

# --- lone-number-among-triples -------------------------------------------------------------------


def _lone_brute(nums):
    return next(x for x, c in Counter(nums).items() if c == 1)


def _triples_with_lone(r, triples, lo, hi):
    values = r.sample(range(lo, hi), triples + 1)
    nums = [v for v in values[:-1] for _ in range(3)] + [values[-1]]
    r.shuffle(nums)
    return nums


_r = rng("lone-number-among-triples")
LONE_NUMBER_AMONG_TRIPLES = Spec(
    task_id="lone-number-among-triples",
    question_id=90024,
    difficulty="Medium",
    tags=["Array", "Bit Manipulation"],
    date="2024-11-18",
    statement=(
        "In the integer array nums every value occurs exactly three times, except for one value that "
        "occurs exactly once. Return that value.\n\n"
        "Try to use only constant extra space."
    ),
    constraints=[
        "1 <= nums.length <= 3 * 10^4",
        "-2^31 <= nums[i] <= 2^31 - 1",
        "Exactly one value occurs once; every other value occurs exactly three times.",
    ],
    signature="def loneNumber(self, nums: List[int]) -> int:",
    solution="""class Solution:
    def loneNumber(self, nums: List[int]) -> int:
        # Count every one of the 32 bits; values present three times add a multiple of 3 to each count.
        result = 0
        for bit in range(32):
            count = sum((x >> bit) & 1 for x in nums)
            if count % 3:
                result |= 1 << bit
        # The bits form a 32-bit two's complement number.
        return result - (1 << 32) if result >= 1 << 31 else result
""",
    examples=[
        Example({"nums": [6, 1, 6, 6]}, 1),
        Example({"nums": [-4, 7, -4, 7, -4, 7, 0]}, 0),
    ],
    cases=[
        {"nums": [42]},
        {"nums": [-1]},
        {"nums": [2**31 - 1, 2**31 - 1, 2**31 - 1, -(2**31)]},
        {"nums": [-(2**31), 2**31 - 1, -(2**31), -(2**31)]},
        {"nums": [0, 0, 0, -5]},
        {"nums": [3, 3, -9, 3, 7, 7, 7, -9, 8, -9]},
        {"nums": [5, -5, 5, -5, 5, -5, -6]},
        {"nums": _triples_with_lone(_r, 100, -999, 1000)},
        {"nums": _triples_with_lone(_r, 30, -(2**31), 2**31)},
    ],
    brute=_lone_brute,
)

# --- max-pair-xor --------------------------------------------------------------------------------


def _xor_brute(nums):
    return max(nums[i] ^ nums[j] for i in range(len(nums)) for j in range(i + 1, len(nums)))


_r = rng("max-pair-xor")
MAX_PAIR_XOR = Spec(
    task_id="max-pair-xor",
    question_id=90025,
    difficulty="Hard",
    tags=["Array", "Hash Table", "Bit Manipulation", "Trie"],
    date="2024-12-02",
    statement=(
        "Given an array nums of non-negative integers with at least two elements, return the maximum "
        "value of nums[i] XOR nums[j] over all pairs of indices i < j."
    ),
    constraints=[
        "2 <= nums.length <= 2 * 10^4",
        "0 <= nums[i] <= 2^31 - 1",
    ],
    signature="def maxPairXor(self, nums: List[int]) -> int:",
    solution="""class Solution:
    def maxPairXor(self, nums: List[int]) -> int:
        best = 0
        # Decide the answer one bit at a time, from the highest bit down. Keeping the bits fixed so
        # far, the next bit can be 1 exactly when two prefixes XOR to the wanted prefix.
        for bit in range(30, -1, -1):
            prefixes = {x >> bit for x in nums}
            wanted = (best << 1) | 1
            if any((wanted ^ p) in prefixes for p in prefixes):
                best = wanted
            else:
                best = best << 1
        return best
""",
    examples=[
        Example({"nums": [6, 9, 12, 5]}, 15, "6 XOR 9 = 0110 XOR 1001 = 1111 = 15."),
        Example({"nums": [7, 7]}, 0),
    ],
    cases=[
        {"nums": [0, 0]},
        {"nums": [0, 2**31 - 1]},
        {"nums": [1, 2, 3]},
        {"nums": [8, 1, 2, 12]},
        {"nums": [2**30, 2**30 - 1, 5]},
        {"nums": [4, 4, 4, 4, 4]},
        {"nums": [_r.randint(0, 4095) for _ in range(400)]},
        {"nums": [_r.randint(0, 2**31 - 1) for _ in range(150)]},
    ],
    brute=_xor_brute,
)

PROBLEMS = [COUNT_PRIMES_BELOW, TOTAL_HAMMING_DISTANCE, LONE_NUMBER_AMONG_TRIPLES, MAX_PAIR_XOR]
