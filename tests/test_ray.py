"""The Ray backend against a real local Ray runtime (2 CPUs): results, problems shipped once, actor
restarts, and actors killed mid-batch: every job comes back retried or as an infrastructure failure
(a None reward), none lost, none scored 0."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from grpo4codegen.data import load_problems
from grpo4codegen.rewards.scorer import RewardConfig, RewardScorer
from grpo4codegen.sandbox.executor import StdioSubmission, Submission
from grpo4codegen.sandbox.types import Limits

ray = pytest.importorskip("ray")

from grpo4codegen.server.raypool import RayExecutor  # noqa: E402

SLOW = Limits(time_s=5.0, total_time_s=30.0)


@pytest.fixture(scope="module")
def runtime():
    """One local Ray runtime for the module (started by the first RayExecutor), stopped at the end."""
    started = RayExecutor(name="g4c-test", init_kwargs={"num_cpus": 2})
    assert started.started_runtime
    yield started
    ray.shutdown()


@pytest.fixture(scope="module")
def builtin():
    return load_problems("builtin")[:6]


def signature(result):
    return result.infra_error, [(t.exec_outcome, t.skipped) for t in result.tests]


def sleepy(problem, seconds: float) -> Submission:
    """A correct solution that sleeps once, at module level, before its tests run."""
    return Submission(problem, f"import time\ntime.sleep({seconds})\n{problem.reference_solution}", SLOW)


def test_ray_is_imported_only_when_chosen():
    code = (
        "import sys\nimport grpo4codegen.server.runners, grpo4codegen.server.raypool, grpo4codegen.rewards.scorer\n"
        "assert 'ray' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_the_runner_factory_builds_it_from_the_reward_configuration(runtime, builtin):
    from types import SimpleNamespace

    from grpo4codegen.server.runners import make_runner

    runner, owned = make_runner(
        SimpleNamespace(execute_backend="auto", ray_address="auto", sandbox_workers=1)
    )
    try:
        assert isinstance(runner, RayExecutor) and owned and runner.size == 1
        assert runner.run(builtin[0], builtin[0].reference_solution).all_passed
    finally:
        runner.close()
    assert ray.is_initialized()  # attached, not started: closing it leaves the runtime up


def test_results_match_the_embedded_executor(runtime, executor, builtin):
    subs = [Submission(p, p.reference_solution) for p in builtin]
    subs += [Submission(p, "class Solution:\n    pass\n", Limits(time_s=1.0)) for p in builtin[:2]]
    subs += [
        Submission(builtin[0], "def broken(:\n"),
        StdioSubmission("print(int(input()) * 2)", [("2", "4")]),
    ]
    seen: list[int] = []
    results = runtime.run_many(subs, on_result=lambda i, r: seen.append(i))
    assert seen == list(range(len(subs)))
    assert [signature(r) for r in results] == [signature(r) for r in executor.run_many(subs)]
    assert all(r.all_passed for r in results[: len(builtin)]) and results[-1].all_passed
    assert runtime.actors and all(a.workers >= 1 for a in runtime.actors)


def test_each_problem_travels_once_per_actor(runtime, builtin):
    runtime.run_many([Submission(p, p.reference_solution) for p in builtin])
    shipped = runtime.stats.problems_shipped
    results = runtime.run_many([Submission(p, p.reference_solution) for p in builtin] * 3)
    assert all(r.all_passed for r in results)
    assert runtime.stats.problems_shipped == shipped  # known by content: not sent again


def test_a_restarted_actor_is_sent_the_problems_it_lost(runtime, builtin):
    runtime.run_many([Submission(p, p.reference_solution) for p in builtin])
    resent = runtime.stats.resent_problems
    ray.kill(runtime.actors[0].handle, no_restart=False)  # Ray restarts it, with an empty cache
    results = runtime.run_many([Submission(p, p.reference_solution) for p in builtin])
    assert all(r.all_passed for r in results), [r.infra_error for r in results]
    assert runtime.stats.resent_problems + runtime.stats.retries > resent


def test_actor_killed_mid_batch_is_retried_nothing_lost(runtime, builtin):
    subs = [sleepy(p, 0.4) for p in builtin] * 2
    out: list = []
    worker = threading.Thread(target=lambda: out.extend(runtime.run_many(subs)))
    retries = runtime.stats.retries
    worker.start()
    time.sleep(1.0)  # chunks are running on the actor
    ray.kill(runtime.actors[0].handle, no_restart=False)
    worker.join(timeout=120)
    assert len(out) == len(subs)  # nothing lost
    assert runtime.stats.retries > retries  # the killed chunks were sent again
    for r in out:
        assert r.all_passed or (r.infra_error and not r.tests), (r.infra_error, r.tests[:1])
    assert sum(r.all_passed for r in out) == len(subs)  # retried on the restarted actor: all correct


def test_a_batch_given_up_on_scores_none_never_zero(runtime, builtin):
    """An actor that Ray may not restart, killed while the scorer waits, with no retries: the rewards
    of the jobs it held are None (an infrastructure failure), the others keep their real scores, and
    the node gets a fresh actor for what follows."""
    doomed = RayExecutor(name="g4c-test-doomed", max_restarts=0, retries=0)
    assert not doomed.started_runtime  # attached to the module's runtime
    scorer = RewardScorer(
        builtin, RewardConfig(reward_dimensions=("correctness", "efficiency")), runner=doomed
    )
    scorer.execution.profiles(builtin)
    task_ids = [p.task_id for p in builtin] * 2
    fast = [f"```python\n{p.reference_solution}\n```" for p in builtin]
    slow = [f"```python\nimport time\ntime.sleep(0.6)\n{p.reference_solution}\n```" for p in builtin]
    scores: list = []
    worker = threading.Thread(target=lambda: scores.extend(scorer.score(task_ids, fast + slow)))
    worker.start()
    time.sleep(1.5)
    ray.kill(doomed.actors[0].handle, no_restart=True)
    worker.join(timeout=120)
    assert len(scores) == len(task_ids)
    infra = [s for s in scores if s.infra_failure]
    assert infra, "the kill came too late to hit the batch"
    for s in infra:
        assert s.reward is None and s.dimensions["correctness"] is None
    for s in scores:
        assert s.reward is None or s.dimensions["correctness"] == 1.0  # every completion is correct
    later = doomed.run_many([Submission(builtin[0], builtin[0].reference_solution)])
    assert later[0].all_passed, later[0].infra_error  # a new actor took the dead one's place


def test_bench_rewards_on_ray_ends_with_its_summary(runtime, builtin, capsys):
    import json

    from grpo4codegen.rewards.bench import run_reward_benchmark

    assert run_reward_benchmark(builtin, groups=2, per_group=4, seed=0, backend="ray", rounds=1) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("completions", "seconds", "embedded_seconds", "ray_over_embedded", "lost", "over_floor"):
        assert key in summary, key
    assert summary["completions"] == 8 and summary["lost"] == 0 and summary["infra_failures"] == 0
    assert summary["ray_over_embedded"] == pytest.approx(summary["embedded_seconds"] / summary["seconds"])
    assert ray.is_initialized()  # attached to the test's runtime: the bench left it running
