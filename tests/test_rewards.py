"""Execution-based rewards on real problems, the reward-hacking suite, and the TRL adapter."""

from __future__ import annotations

import pytest

from grpo4codegen.data import load_problems
from grpo4codegen.rewards.scorer import RewardConfig, RewardScorer
from grpo4codegen.rewards.trl_rewards import TrlRewardAdapter, build_reward_funcs
from grpo4codegen.sandbox.executor import Submission
from grpo4codegen.sandbox.types import ExecutionResult, Limits

from .conftest import V031, make_problem, needs_data

HONEST = '''```python
class Solution:
    def countPairs(self, nums: List[int], target: int) -> int:
        """Count index pairs i < j whose values add up to target."""
        # How many times each value has appeared so far.
        seen = Counter()
        pairs = 0
        for x in nums:
            # Each earlier value equal to target - x forms a pair with x.
            pairs += seen[target - x]
            seen[x] += 1
        return pairs
```'''

QUADRATIC = """```python
class Solution:
    def countPairs(self, nums: List[int], target: int) -> int:
        # Try every pair of indices.
        pairs = 0
        for i in range(len(nums)):
            for j in range(i + 1, len(nums)):
                if nums[i] + nums[j] == target:
                    pairs += 1
        return pairs
```"""


def fenced(code: str) -> str:
    return f"Here is my solution.\n```python\n{code}\n```\n"


HACKS = {
    "empty": "",
    "prose only": "I would use a hash map to count complements.",
    "only comments": fenced("# count pairs with a hash map\n# return the number of pairs\n"),
    "identifier stuffing": HONEST.replace(
        "# How many times each value has appeared so far.",
        "# seen pairs nums target x seen pairs nums target x",
    ).replace(
        "# Each earlier value equal to target - x forms a pair with x.", "# Solution countPairs seen pairs x"
    ),
    "comment on every line": fenced(
        "class Solution:  # class\n    def countPairs(self, nums, target):  # method\n"
        "        seen = Counter()  # counter\n        pairs = 0  # pairs\n        for x in nums:  # loop\n"
        "            pairs += seen[target - x]  # add\n            seen[x] += 1  # count\n        return pairs  # return\n"
    ),
    "sys.exit": fenced(
        "import sys\nclass Solution:\n    def countPairs(self, nums, target):\n        sys.exit(0)\n"
    ),
    "always equal": fenced(
        "class Solution:\n    def countPairs(self, nums, target):\n        class A:\n"
        "            def __eq__(self, o):\n                return True\n        return A()\n"
    ),
    "hard-coded examples": fenced(
        "class Solution:\n    def countPairs(self, nums, target):\n"
        "        if nums == [1, 5, 3, 3, 7] and target == 8:\n            return 3\n"
        "        if nums == [2, 2, 2, 2] and target == 4:\n            return 6\n        return 0\n"
    ),
    "prints instead of returning": fenced(
        "class Solution:\n    def countPairs(self, nums, target):\n        seen = Counter()\n        pairs = 0\n"
        "        for x in nums:\n            pairs += seen[target - x]\n            seen[x] += 1\n        print(pairs)\n"
    ),
}


@pytest.fixture(scope="module")
def builtin():
    return {p.task_id: p for p in load_problems("builtin")}


@pytest.fixture(scope="module")
def scorer(builtin, executor):
    return RewardScorer(builtin, RewardConfig(), runner=executor)


@pytest.fixture(scope="module")
def kernel_figures(builtin, executor):
    """Skip where the sandbox does not yet measure the kernel-side figures efficiency trusts (issue 11)."""
    problem = builtin["pair-sum-count"]
    (result,) = executor.run_many([Submission(problem, problem.reference_solution, Limits())])
    if getattr(result, "cpu_time_kernel", None) is None:
        pytest.skip("this sandbox measures no kernel-side CPU time (ExecutionResult.cpu_time_kernel)")


def test_reference_gets_full_correctness(scorer, builtin):
    ids = list(builtin)[:12]
    scores = scorer.score(ids, [fenced(builtin[t].reference_solution) for t in ids])
    for s in scores:
        assert s.dimensions["correctness"] == 1.0 and s.dimensions["correctness_strict"] == 1.0, s.task_id
        assert 0 < s.reward <= 1


def test_reference_gets_full_efficiency(scorer, builtin, kernel_figures):
    ids = list(builtin)[:12]
    scores = scorer.score(ids, [fenced(builtin[t].reference_solution) for t in ids])
    for s in scores:
        assert s.dimensions["efficiency"] > 0.9, (s.task_id, s.execution.ratios)


def test_wrong_syntax_and_timeout_score_lower(scorer):
    tid = "pair-sum-count"
    wrong = HONEST.replace("seen[target - x]", "seen[target + x]")
    syntax = HONEST.replace(
        "def countPairs(self, nums: List[int], target: int) -> int:", "def countPairs(self nums):"
    )
    loop = HONEST.replace("pairs = 0", "pairs = 0\n        while True:\n            pass")
    honest, wrong_s, syntax_s, loop_s = scorer.score([tid] * 4, [HONEST, wrong, syntax, loop])
    assert honest.dimensions["correctness"] == 1.0
    assert 0 < wrong_s.dimensions["correctness"] < 1.0
    assert syntax_s.dimensions["correctness"] == 0.0 and syntax_s.reward == 0.0
    assert loop_s.dimensions["correctness"] == 0.0
    assert loop_s.execution.result.tests[0].exec_outcome.value == "TIME_LIMIT_EXCEEDED"
    for bad in (wrong_s, syntax_s, loop_s):
        assert bad.reward < honest.reward


def test_slower_correct_solution_is_less_efficient(executor, kernel_figures):
    """On a test set heavy enough to measure (a 2,000-element input): the quadratic solution is ~100x
    slower and scores well below the linear one. (Whole test sets under ~50 ms of CPU compare as about
    equal: timing noise at that scale is as large as the differences.)"""
    from collections import Counter

    nums = [(i * 7919) % 1000 for i in range(2000)]
    pairs, seen = 0, Counter()
    for x in nums:
        pairs, seen[x] = pairs + seen[1000 - x], seen[x] + 1
    reference = HONEST.split("```python\n")[1].split("```")[0]
    problem = make_problem(
        "countPairs",
        [
            f"assert candidate(nums={nums}, target=1000) == {pairs}",
            "assert candidate(nums=[1, 2], target=3) == 1",
        ],
        reference,
        preamble="from collections import Counter\nfrom typing import List\n",
        task_id="pairs-heavy",
    )
    scorer = RewardScorer([problem], RewardConfig(), runner=executor)
    honest, quadratic = scorer.score(["pairs-heavy"] * 2, [HONEST, QUADRATIC])
    assert honest.dimensions["correctness"] == quadratic.dimensions["correctness"] == 1.0
    assert quadratic.dimensions["efficiency"] < honest.dimensions["efficiency"] - 0.15
    assert quadratic.execution.ratios["time"] < honest.execution.ratios["time"]


@pytest.mark.parametrize("name", sorted(HACKS))
def test_reward_hacks_score_below_an_honest_solution(scorer, name):
    honest, hack = scorer.score(["pair-sum-count"] * 2, [HONEST, HACKS[name]])
    assert hack.reward is not None
    assert hack.reward < honest.reward, (name, hack.dimensions, honest.dimensions)


def test_example_usage_block_is_not_run(scorer):
    with_usage = HONEST + "\n```python\nprint(Solution().countPairs([1, 2], 3))\nimport sys; sys.exit(1)\n```"
    honest, usage = scorer.score(["pair-sum-count"] * 2, [HONEST, with_usage])
    assert usage.code == honest.code and usage.reward == honest.reward


def test_failing_code_never_outscores_passing_code_on_any_dimension(scorer):
    wrong_but_pretty = HONEST.replace("return pairs", "return pairs + 1")
    honest, wrong = scorer.score(["pair-sum-count"] * 2, [HONEST, wrong_but_pretty])
    for dim in ("correctness", "efficiency", "comment", "maintainability"):
        assert wrong.dimensions[dim] <= (honest.dimensions[dim] or 0.0), dim
    assert (
        wrong.dimensions["efficiency"]
        == wrong.dimensions["comment"]
        == wrong.dimensions["maintainability"]
        == 0
    )


class _BrokenRunner:
    """An executor whose every run is an infrastructure failure (e.g. the server is down)."""

    def run_many(self, submissions):
        return [ExecutionResult(infra_error="connection refused") for _ in submissions]


def test_infrastructure_failure_is_none_not_zero(builtin):
    scorer = RewardScorer(builtin, RewardConfig(), runner=_BrokenRunner())
    (s,) = scorer.score(["pair-sum-count"], [HONEST])
    assert s.infra_failure
    assert all(v is None for v in s.dimensions.values())
    assert s.reward is None


def test_trl_reward_functions(builtin, executor):
    funcs, weights, callbacks = build_reward_funcs(list(builtin.values()), RewardConfig(), runner=executor)
    assert [f.__name__ for f in funcs] == ["correctness", "efficiency", "comment", "maintainability"]
    assert weights == pytest.approx([0.5, 0.2, 0.2, 0.1])
    logged: dict[str, list[float]] = {}
    kwargs = {
        "task_id": ["pair-sum-count"] * 2,
        "log_metric": lambda k, v: logged.setdefault(k, []).append(v),
    }
    completions = [[{"role": "assistant", "content": HONEST}], [{"role": "assistant", "content": "no code"}]]
    columns = [f(prompts=[[], []], completions=completions, **kwargs) for f in funcs]
    assert columns[0] == [1.0, 0.0]
    assert all(len(c) == 2 for c in columns)
    assert logged["exec/PASSED"] == [12.0] and logged["exec/infra_failures"] == [0.0]
    assert set(logged) >= {"weights/correctness", "reward_seconds", "correctness_strict"}
    adapter = callbacks[0].adapter
    assert isinstance(adapter, TrlRewardAdapter)


def test_no_dimension_falls_back_to_a_constant(builtin, executor):
    with pytest.warns(RuntimeWarning):
        funcs, weights, _ = build_reward_funcs(
            list(builtin.values()), RewardConfig(reward_dimensions=()), runner=executor
        )
        assert weights is None
        assert funcs[0](prompts=[[]] * 3, completions=["a", "b", "c"], task_id=["x"] * 3) == [0.5] * 3


@needs_data
def test_real_dataset_rewards(executor):
    problems = load_problems(V031)[:6]
    scorer = RewardScorer(problems, RewardConfig(), runner=executor)
    scores = scorer.score([p.task_id for p in problems], [fenced(p.reference_solution) for p in problems])
    assert all(s.dimensions["correctness"] == 1.0 for s in scores)
    responses = scorer.score([p.task_id for p in problems], [p.response for p in problems])
    assert all(r.dimensions["correctness"] is not None for r in responses)
