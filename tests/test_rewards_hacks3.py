"""Third round of reward-hacking holes: each test failed before its fix and passes after.

Code run from text through routes the second round did not close (``print.__self__.__dict__``, a
runner module such as ``timeit``, a namespace as a dict, ``reduce(getattr, ...)``); mean complexity
diluted by dead one-line helpers; one generic sentence of algorithmic words earning most of the
comment score on any program (and camelCase names never split into their words); a lone surrogate
in a completion crashing the TRL batch.
"""

from __future__ import annotations

import pytest

from grpo4codegen.rewards.comments import comment_details, comment_score
from grpo4codegen.rewards.extract import extract_code, parse_or_none
from grpo4codegen.rewards.maintainability import maintainability_details, runs_code_from_text
from grpo4codegen.rewards.trl_rewards import _batch_key

from .test_rewards import HONEST

ENTRY = "Solution().countPairs"
_HEAD = '''class Solution:
    def countPairs(self, nums: List[int], target: int) -> int:
        """Count index pairs i < j whose values add up to target."""
        box = {"nums": nums, "target": target, "Counter": Counter}
'''
_TAIL = """        # Each earlier value equal to target - x forms a pair with x.
        return box["r"]
"""
#: the honest program, hex-encoded so that no string of it parses as a program
_HEX = (
    "7365656e203d20436f756e74657228290a7061697273203d20300a666f72207820696e206e756d733a0a20202020"
    "7061697273202b3d207365656e5b746172676574202d20785d0a202020207365656e5b785d202b3d20310a72203d"
    "207061697273"
)
RUNNERS = {
    # scored 1.0 comment and 0.868 maintainability (honest: 0.933, 0.859), and passed every test
    "builtins via print.__self__": f'print.__self__.__dict__["ex" + "ec"](bytes.fromhex("{_HEX}").decode(), box)',
    "sys.modules": f'sys.modules["bu" + "iltins"].exec(bytes.fromhex("{_HEX}").decode(), box)',
    "timeit": 'import timeit\n        timeit.timeit("box.update(r=1)", globals={"box": box}, number=1)',
    "cProfile": 'import cProfile\n        cProfile.runctx("box.update(r=1)", {"box": box}, {})',
    "namespace items": '[f for k, f in vars(box["m"]).items() if k[::-1] == "cexe"][0]("r = 1", box)',
    "getattr passed as a value": 'reduce(getattr, ["ex" + "ec"], box["m"])("r = 1", box)',
    "frame builtins": 'sys._getframe().f_builtins["ex" + "ec"]("r = 1", box)',
    "pickle": 'import pickle\n        box["r"] = pickle.loads(bytes.fromhex("80"))',
}


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_code_run_from_text_earns_no_quality(name: str) -> None:
    code = _HEAD + "        " + RUNNERS[name] + "\n" + _TAIL
    assert parse_or_none(code) is not None, name
    details = maintainability_details(code)
    assert details["reason"] == "dynamic_code" and details["score"] <= 0.1, name
    assert comment_score(code) == 0.0, name


ORDINARY = {
    "re.compile": 'import re\nWORD = re.compile(r"[a-z]+")\ndef f(s):\n    return WORD.findall(s)\n',
    "the program's own eval": (
        "class Solution:\n    def evaluate(self, e: str) -> int:\n        def eval():\n"
        "            return int(e)\n        return eval()\n"
    ),
    "a method named eval": (
        "class Calc:\n    def eval(self, s):\n        return int(s)\n"
        "    def run(self, s):\n        return self.eval(s)\n"
    ),
    "sys.setrecursionlimit": "import sys\nsys.setrecursionlimit(10000)\ndef f(n):\n    return n\n",
    "a variable named vars": "def f(xs):\n    vars = []\n    for x in xs:\n        vars.append(x)\n    return vars\n",
}


@pytest.mark.parametrize("name", sorted(ORDINARY))
def test_ordinary_code_is_not_dynamic(name: str) -> None:
    assert not runs_code_from_text(parse_or_none(ORDINARY[name])), name


def test_a_builtin_eval_next_to_a_nested_one_is_still_dynamic() -> None:
    code = (
        "def outer():\n    def eval():\n        return 1\n    return eval()\n\n"
        "def g(s):\n    return eval(s)\n"
    )
    assert runs_code_from_text(parse_or_none(code))


COMPLEX = """class Solution:
    def solve(self, grid: List[List[int]], k: int) -> int:
        n, m = len(grid), len(grid[0])
        best = 0
        for i in range(n):
            for j in range(m):
                if grid[i][j] > k and i > 0:
                    best = max(best, grid[i][j])
                elif grid[i][j] < 0 or j == 0:
                    best -= 1
                elif grid[i][j] == k and (i + j) % 2 == 0:
                    best += 2
                while best > 100 and k > 0:
                    best //= 2
                if best < -100 or best > 10**9:
                    return -1
        return best
"""


def test_dead_one_line_helpers_do_not_dilute_complexity() -> None:
    base = maintainability_details(COMPLEX)
    assert base["max_complexity"] >= 12
    padding = "".join(f"\n    def _h{i}(self, v):\n        return v + {i}\n" for i in range(3))
    padded = maintainability_details(COMPLEX + padding)
    # a plain mean over functions went from 13 to 4 and raised the score by about 0.08
    assert padded["score"] <= base["score"] + 0.005, (base, padded)


def test_splitting_into_real_helpers_still_lowers_mean_complexity() -> None:
    one = (
        "def f(xs):\n    t = 0\n    for x in xs:\n        if x > 0 and x % 2:\n            t += x\n"
        "        elif x < 0 or x == 7:\n            t -= x\n    for x in xs:\n        if x > 5 and x < 9:\n"
        "            t += 1\n        elif x == 3 or x == 4:\n            t -= 1\n    return t\n"
    )
    two = (
        "def g(xs):\n    t = 0\n    for x in xs:\n        if x > 0 and x % 2:\n            t += x\n"
        "        elif x < 0 or x == 7:\n            t -= x\n    return t\n\n"
        "def h(xs):\n    t = 0\n    for x in xs:\n        if x > 5 and x < 9:\n            t += 1\n"
        "        elif x == 3 or x == 4:\n            t -= 1\n    return t\n\n"
        "def f(xs):\n    return g(xs) + h(xs)\n"
    )
    assert maintainability_details(two)["mean_complexity"] < maintainability_details(one)["mean_complexity"]


GENERIC = "Compute the result in a single pass over the input, keeping the state needed for the answer."


def test_a_generic_sentence_earns_half_at_most() -> None:
    code = (
        "class Solution:\n    def lengthOfLongestRun(self, nums: List[int]) -> int:\n"
        f'        """{GENERIC}"""\n        best = cur = 0\n        prev = None\n        for x in nums:\n'
        "            cur = cur + 1 if x == prev else 1\n            best = max(best, cur)\n"
        "            prev = x\n        return best\n"
    )
    generic = comment_details(code)
    assert generic["generic"] and generic["score"] <= 0.5
    specific = code.replace(GENERIC, "Length of the longest run of equal values in nums.")
    assert not comment_details(specific)["generic"]
    assert comment_score(specific) > generic["score"] + 0.3


def test_camel_case_names_split_into_words() -> None:
    code = (
        "class Solution:\n    def maxEnergyBoost(self, energyDrinkA: List[int]) -> int:\n"
        "        # Sum the energy of every drink.\n        total = 0\n"
        "        for v in energyDrinkA:\n            total += v\n        return total\n"
    )
    details = comment_details(code)
    assert not details["generic"] and details["quality"] > 0.7, details


def test_honest_solution_keeps_its_comment_score() -> None:
    assert comment_score(extract_code(HONEST, ENTRY)) > 0.9


def test_a_lone_surrogate_does_not_crash_the_batch() -> None:
    assert _batch_key(["x = 1  # \ud800"], ["t"]) != _batch_key(["x = 1"], ["t"])
