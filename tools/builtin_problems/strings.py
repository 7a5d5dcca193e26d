"""String problems: a sliding window over letters, a near-palindrome check and run-length compression."""

from __future__ import annotations

from itertools import groupby

from ._spec import Example, Spec, rng

# --- longest-substring-k-distinct ----------------------------------------------------------------


def _k_distinct_brute(s, k):
    best = 0
    for i in range(len(s)):
        letters = set()
        for j in range(i, len(s)):
            letters.add(s[j])
            if len(letters) > k:
                break
            best = max(best, j - i + 1)
    return best


def _random_word(r, length, alphabet):
    return "".join(r.choice(alphabet) for _ in range(length))


_r = rng("longest-substring-k-distinct")
LONGEST_SUBSTRING_K_DISTINCT = Spec(
    task_id="longest-substring-k-distinct",
    question_id=90007,
    difficulty="Medium",
    tags=["String", "Sliding Window", "Hash Table"],
    date="2024-03-27",
    statement=(
        "You are given a string s of lowercase English letters and an integer k.\n\n"
        "Return the length of the longest substring of s (a contiguous, possibly empty, part of s) that "
        "contains at most k distinct letters."
    ),
    constraints=[
        "0 <= s.length <= 5 * 10^4",
        "0 <= k <= 26",
        "s consists of lowercase English letters.",
    ],
    signature="def longestWithKDistinct(self, s: str, k: int) -> int:",
    solution="""class Solution:
    def longestWithKDistinct(self, s: str, k: int) -> int:
        # Grow the window on the right; shrink it from the left while it holds too many letters.
        counts = Counter()
        best = left = 0
        for right, ch in enumerate(s):
            counts[ch] += 1
            while len(counts) > k:
                gone = s[left]
                counts[gone] -= 1
                if counts[gone] == 0:
                    del counts[gone]
                left += 1
            best = max(best, right - left + 1)
        return best
""",
    examples=[
        Example(
            {"s": "abaccc", "k": 2},
            4,
            'The substring "accc" uses only the letters a and c. Every longer substring uses three letters.',
        ),
        Example({"s": "xyzzy", "k": 1}, 2, 'The longest substring made of a single letter is "zz".'),
    ],
    cases=[
        {"s": "", "k": 3},
        {"s": "a", "k": 0},
        {"s": "abc", "k": 0},
        {"s": "abc", "k": 5},
        {"s": "aaaa", "k": 1},
        {"s": "abcabcbb", "k": 2},
        {"s": "ababffzzeee", "k": 3},
        {"s": _random_word(_r, 900, "abcde"), "k": 3},
        {"s": _random_word(_r, 600, "abcdefghijklmnopqrstuvwxyz"), "k": 12},
        {"s": "ab" * 300 + "c" + "ab" * 200, "k": 2},
    ],
    brute=_k_distinct_brute,
)

# --- palindrome-after-one-deletion ---------------------------------------------------------------


def _almost_palindrome_brute(s):
    if s == s[::-1]:
        return True
    for i in range(len(s)):
        t = s[:i] + s[i + 1 :]
        if t == t[::-1]:
            return True
    return False


def _palindrome_with_inserts(r, half, inserts):
    left = _random_word(r, half, "abcxyz")
    word = list(left + r.choice("abcxyz") + left[::-1])
    for _ in range(inserts):
        word.insert(r.randrange(len(word) // 4, len(word) // 3), "q")
    return "".join(word)


_r = rng("palindrome-after-one-deletion")
PALINDROME_AFTER_ONE_DELETION = Spec(
    task_id="palindrome-after-one-deletion",
    question_id=90008,
    difficulty="Easy",
    tags=["Two Pointers", "String", "Greedy"],
    date="2024-04-09",
    statement=(
        "Given a string s, return true if s can be made a palindrome by deleting at most one of its "
        "characters, and false otherwise.\n\n"
        "A palindrome reads the same forwards and backwards; the empty string is a palindrome."
    ),
    constraints=[
        "0 <= s.length <= 10^5",
        "s consists of lowercase English letters.",
    ],
    signature="def almostPalindrome(self, s: str) -> bool:",
    solution="""class Solution:
    def almostPalindrome(self, s: str) -> bool:
        def is_palindrome(i: int, j: int) -> bool:
            while i < j:
                if s[i] != s[j]:
                    return False
                i += 1
                j -= 1
            return True

        i, j = 0, len(s) - 1
        while i < j:
            if s[i] != s[j]:
                # At the first mismatch one of these two characters must be the deleted one.
                return is_palindrome(i + 1, j) or is_palindrome(i, j - 1)
            i += 1
            j -= 1
        return True
""",
    examples=[
        Example({"s": "abcdba"}, True, 'Deleting "c" leaves "abdba", a palindrome.'),
        Example({"s": "mango"}, False),
    ],
    cases=[
        {"s": ""},
        {"s": "a"},
        {"s": "ab"},
        {"s": "abc"},
        {"s": "aaaa"},
        {"s": "abcdcbea"},
        {"s": "cuppucu"},
        {"s": "abccbxya"},
        {"s": "acxbbcxca"},
        {"s": _palindrome_with_inserts(_r, 300, 1)},
        {"s": _palindrome_with_inserts(_r, 300, 2)},
        {"s": "a" * 400 + "b" + "a" * 399},
    ],
    brute=_almost_palindrome_brute,
)

# --- run-length-compress -------------------------------------------------------------------------


def _compress_brute(s):
    parts = []
    for ch, run in groupby(s):
        n = len(list(run))
        parts.append(ch + (str(n) if n > 1 else ""))
    out = "".join(parts)
    return out if len(out) < len(s) else s


def _random_runs(r, total, longest):
    pieces = []
    size = 0
    previous = ""
    while size < total:
        ch = r.choice([c for c in "abcdefghij" if c != previous])
        n = min(r.randint(1, longest), total - size)
        pieces.append(ch * n)
        size += n
        previous = ch
    return "".join(pieces)


_r = rng("run-length-compress")
RUN_LENGTH_COMPRESS = Spec(
    task_id="run-length-compress",
    question_id=90009,
    difficulty="Easy",
    tags=["String", "Two Pointers"],
    date="2024-04-22",
    statement=(
        "Compress a string s of lowercase letters as follows: every maximal run of two or more equal "
        "consecutive characters is replaced by the character followed by the length of the run in "
        "decimal, and a character that is not repeated is written as it is.\n\n"
        "If the compressed string is strictly shorter than s, return it; otherwise return s unchanged."
    ),
    constraints=[
        "0 <= s.length <= 10^5",
        "s consists of lowercase English letters.",
    ],
    signature="def compressRuns(self, s: str) -> str:",
    solution="""class Solution:
    def compressRuns(self, s: str) -> str:
        parts = []
        i = 0
        while i < len(s):
            # Find the end of the run that starts at i.
            j = i
            while j < len(s) and s[j] == s[i]:
                j += 1
            run = j - i
            parts.append(s[i] if run == 1 else s[i] + str(run))
            i = j
        compressed = "".join(parts)
        return compressed if len(compressed) < len(s) else s
""",
    examples=[
        Example({"s": "aaabccdddd"}, "a3bc2d4"),
        Example({"s": "aab"}, "aab", 'The compressed form "a2b" is not shorter than "aab".'),
    ],
    cases=[
        {"s": ""},
        {"s": "z"},
        {"s": "zzzzzzzzzzzz"},
        {"s": "abcdef"},
        {"s": "aabb"},
        {"s": "aaabbb"},
        {"s": "abbbbbbbbbba"},
        {"s": _random_runs(_r, 800, 15)},
        {"s": "q" * 500},
        {"s": _random_runs(_r, 400, 2)},
    ],
    brute=_compress_brute,
)

PROBLEMS = [LONGEST_SUBSTRING_K_DISTINCT, PALINDROME_AFTER_ONE_DELETION, RUN_LENGTH_COMPRESS]
