"""Third round of reward-hacking holes: each test failed before its fix and passes after.

Code run from text through routes the second round did not close (``print.__self__.__dict__``, a
runner module such as ``timeit``, a namespace as a dict, ``reduce(getattr, ...)``); mean complexity
diluted by dead one-line helpers; camelCase names never split into their words; a lone surrogate
in a completion crashing the TRL batch.

Then the review of that round: the exemption for a program's own ``def eval`` faked at module level
(``if False:``, ``try``/``except``, ``del``) hid a real builtin call, and it now follows Python's
scoping rule (function locals only); ``gc.disable()``, ``self.system`` and ``course.modules`` were
flagged (false positives); ``Formatter().get_field``, ``ForwardRef._evaluate`` and
``dataclasses._create_fn`` ran text unflagged; a dead helper padded with statements lifted the mean
complexity weighted by statements; the generic-documentation halving was bypassed by naming a
parameter and halved honest comments, and is gone.
"""

from __future__ import annotations

import pytest

from grpo4codegen.rewards.comments import comment_details, comment_score
from grpo4codegen.rewards.dynamic_code import runs_code_from_text
from grpo4codegen.rewards.extract import extract_code, parse_or_none
from grpo4codegen.rewards.maintainability import maintainability_details
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
    "a docstring naming builtins and __dict__": (
        'class Solution:\n    def f(self, xs):\n        """Count with builtins only; no __dict__ or __self__ tricks."""\n'
        "        return len(set(xs))\n"
    ),
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
    # flagged before the review's fixes
    "a local variable named eval": "def f(s):\n    eval = 0\n    for ch in s:\n        eval += 1\n    return eval\n",
    "a parameter named compile": "def f(compile, xs):\n    return [compile(x) for x in xs]\n",
    "an aliased re.compile": 'import re as rx\ndef f(s):\n    return rx.compile(r"a+").findall(s)\n',
    "gc.disable": "import gc\ngc.disable()\ndef f(xs):\n    return sum(xs)\n",
    "an attribute named system": (
        "class FileSystem:\n    def __init__(self):\n        self.system = {}\n"
        "    def create(self, path, value):\n        self.system[path] = value\n        return True\n"
    ),
    "an attribute named modules": "def f(course):\n    return sum(c for c in course.modules)\n",
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


#: a builtin `eval` or `exec` behind a definition of the same name that never shadows it where it runs
_FAKE_SHADOWS = {
    "module def under if False": "if False:\n    def eval(s):\n        return 0\n",
    "module def under except": "try:\n    pass\nexcept ImportError:\n    def eval(s):\n        return 0\n",
    "module def then del": "def eval(s):\n    return 0\ndel eval\n",
    "a def nested in another function": "",
    "class-level def": "",
}
_USES_EVAL = """class Solution:
    def total(self, nums):
        return eval("sum(v * v for v in nums if v % 2)", {"nums": nums})
"""


@pytest.mark.parametrize("name", sorted(_FAKE_SHADOWS))
def test_a_fake_definition_does_not_hide_the_builtin(name: str) -> None:
    code = _FAKE_SHADOWS[name] + _USES_EVAL
    if name == "a def nested in another function":
        code = _USES_EVAL + "\n\ndef _unused():\n    def eval(s):\n        return s\n"
    elif name == "class-level def":
        code = _USES_EVAL.replace(
            "    def total", "    def eval(self, s):\n        return 0\n\n    def total"
        )
    namespace: dict = {}
    exec(code, namespace)  # the builtin runs: the "definition" never shadows it
    assert namespace["Solution"]().total([1, 2, 3]) == 10, name
    details = maintainability_details(code)
    assert details["reason"] == "dynamic_code" and details["score"] <= 0.1, name


@pytest.mark.parametrize(
    "code",
    [
        # defaults, decorators and annotations run in the enclosing scope, not the function's
        'class Solution:\n    def f(self, eval=eval("1 + 1")):\n        return eval\n',
        'def f(x: eval("int")):\n    return x\n',
        "def outer(s):\n    eval = int\n\n    def inner():\n        global eval\n        return eval(s)\n\n    return inner()\n",
        "def f(fs):\n    return [eval('1') for eval in fs]\n",
    ],
)
def test_only_a_function_local_shadows_a_builtin(code: str) -> None:
    assert runs_code_from_text(parse_or_none(code))


ROUTES = {
    "Formatter.get_field": (
        "import string\nclass Solution:\n    def total(self, nums):\n"
        '        run = string.Formatter().get_field("0.__self__.ev" + "al", [print], {})[0]\n'
        '        return run("sum(nums)", {"nums": nums})\n'
    ),
    "ForwardRef._evaluate": (
        "import typing\nclass Solution:\n    def total(self, nums):\n"
        '        ref = typing.ForwardRef("sum(nums)")\n'
        '        return ref._evaluate({"nums": nums}, None, frozenset())\n'
    ),
    "dataclasses._create_fn": (
        "import dataclasses\nclass Solution:\n    def total(self, nums):\n"
        '        f = dataclasses._create_fn("f", ["nums"], ["s = 0", "for v in nums:", "    s += v", "return s"])\n'
        "        return f(nums)\n"
    ),
    "os reached through shutil": (
        "import shutil\nclass Solution:\n    def total(self, nums):\n"
        '        return shutil.os.system("true")\n'
    ),
    "os passed as a value": (
        "import os\ndef spawn(m, cmd):\n    return m.system(cmd)\n"
        "class Solution:\n    def total(self, nums):\n"
        '        return spawn(os, "true")\n'
    ),
    "from os import system": (
        'from os import system\nclass Solution:\n    def total(self, nums):\n        return system("true")\n'
    ),
}


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_more_routes_to_run_text_are_dynamic(name: str) -> None:
    details = maintainability_details(ROUTES[name])
    assert details["reason"] == "dynamic_code" and details["score"] <= 0.1, name


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


@pytest.mark.parametrize(
    "padding",
    [
        "\n    def table(self):\n"
        + "".join(f"        v{i} = {i}\n" for i in range(40))
        + "        return v0\n",
        "\n    def reset(self):\n" + "".join(f"        self.v{i} = None\n" for i in range(25)),
    ],
)
def test_a_dead_helper_padded_with_statements_does_not_dilute_complexity(padding: str) -> None:
    base = maintainability_details(COMPLEX)
    padded = maintainability_details(COMPLEX + padding)
    # weighted by statements, the mean fell from 13 to about 6 and the score rose by 0.04 to 0.05
    assert padded["mean_complexity"] == base["mean_complexity"], (base, padded)
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


def test_honest_documentation_that_names_no_identifier_keeps_its_score() -> None:
    # the grid-escape-steps reference: its comment names the technique, not a variable, and was
    # halved as "generic" (0.44 -> 0.22) while a filled-in parameter name bypassed the halving
    code = (
        "class Solution:\n    def escapeSteps(self, grid: List[List[int]]) -> int:\n"
        "        m, n = len(grid), len(grid[0])\n        if grid[0][0] or grid[m - 1][n - 1]:\n"
        "            return -1\n"
        "        # Breadth-first search: cells are dequeued in order of their distance from the start.\n"
        "        dist = [[-1] * n for _ in range(m)]\n        dist[0][0] = 0\n"
        "        queue = deque([(0, 0)])\n        while queue:\n            i, j = queue.popleft()\n"
        "            if (i, j) == (m - 1, n - 1):\n                return dist[i][j]\n"
        "            for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):\n"
        "                if 0 <= a < m and 0 <= b < n and grid[a][b] == 0 and dist[a][b] < 0:\n"
        "                    dist[a][b] = dist[i][j] + 1\n                    queue.append((a, b))\n"
        "        return -1\n"
    )
    details = comment_details(code)
    assert "generic" not in details and details["score"] > 0.4, details


def test_camel_case_names_split_into_words() -> None:
    code = (
        "class Solution:\n    def maxEnergyBoost(self, energyDrinkA: List[int]) -> int:\n"
        "        # Sum the energy of every drink.\n        total = 0\n"
        "        for v in energyDrinkA:\n            total += v\n        return total\n"
    )
    details = comment_details(code)
    assert details["quality"] > 0.7, details


def test_honest_solution_keeps_its_comment_score() -> None:
    assert comment_score(extract_code(HONEST, ENTRY)) > 0.9


def test_a_lone_surrogate_does_not_crash_the_batch() -> None:
    assert _batch_key(["x = 1  # \ud800"], ["t"]) != _batch_key(["x = 1"], ["t"])
