"""One sandbox pool per node: the sizing rule, the backend choice, and two ranks sharing one pool."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import pytest

from grpo4codegen.errors import UserError
from grpo4codegen.sandbox import sizing
from grpo4codegen.server.client import RemoteExecutor
from grpo4codegen.server.runners import make_runner, resolve_backend

RANK = textwrap.dedent(
    """
    import json, os, sys, time
    from types import SimpleNamespace
    from grpo4codegen.data import load_problems
    from grpo4codegen.sandbox.executor import Submission
    from grpo4codegen.server.runners import make_runner

    runner, owned = make_runner(SimpleNamespace(execute_backend="auto"))
    problems = load_problems("builtin")[:6]
    results = runner.run_many([Submission(p, p.reference_solution) for p in problems] * 2)
    print(json.dumps({"type": type(runner).__name__, "host": runner.server is not None,
                      "passed": [r.all_passed for r in results], "infra": [r.infra_error for r in results]}),
          flush=True)
    time.sleep(float(sys.argv[1]))
    """
)


@pytest.mark.parametrize(
    ("cores", "trainers", "share", "expected"),
    [(16, 8, 1, 12), (96, 8, 1, 88), (2, 2, 1, 2), (2, 0, 1, 2), (8, 2, 1, 6), (8, 2, 2, 3), (1, 4, 4, 1)],
)
def test_one_sizing_rule(cores, trainers, share, expected):
    assert sizing.pool_size(share=share, trainers=trainers, cores=cores) == expected


def test_embedded_pools_of_several_ranks_share_the_node(monkeypatch):
    monkeypatch.setattr(sizing, "node_cores", lambda: 16)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert sizing.embedded_pool_size() == 3  # (16 - 4) / 4 ranks
    assert sizing.pool_size() == 12  # the node pool (or a server) gets all of it
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    assert sizing.embedded_pool_size() == 16


def test_backend_choice(monkeypatch):
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert resolve_backend(SimpleNamespace()) == "embedded"
    assert resolve_backend(SimpleNamespace(execute_code_url="http://h:1")) == "http"
    assert resolve_backend(SimpleNamespace(ray_address="auto")) == "ray"
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert resolve_backend(SimpleNamespace(execute_backend="auto")) == "node"
    assert resolve_backend(SimpleNamespace(execute_backend="embedded")) == "embedded"
    with pytest.raises(UserError, match="choose from"):
        resolve_backend(SimpleNamespace(execute_backend="slurm"))
    with pytest.raises(UserError, match="execute_code_url"):
        make_runner(SimpleNamespace(execute_backend="http"))


def test_unix_urls_are_accepted_and_others_named():
    RemoteExecutor("unix:/tmp/x.sock").close()
    with pytest.raises(ValueError, match="unix:/"):
        RemoteExecutor("ftp://host")


def _workers_under(pid: int) -> list[int]:
    """Sandbox workers (not their per-submission children) in the process tree under `pid`."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read()
            except (OSError, IndexError, ValueError):
                continue
            table[int(entry)] = (ppid, b"grpo4codegen.sandbox.worker" in cmd)
    tree, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, (pp, _) in table.items() if pp in frontier} - tree
        tree |= frontier
    return [p for p in tree if table[p][1] and not table.get(table[p][0], (0, False))[1]]


def _rank(rank: int, sleep: float, socket: str) -> subprocess.Popen:
    env = {**os.environ, "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": "2", "GRPO4CODEGEN_NODE_SOCKET": socket}
    return subprocess.Popen(
        [sys.executable, "-c", RANK, str(sleep)], env=env, stdout=subprocess.PIPE, text=True
    )


def test_two_ranks_share_one_pool_that_ends_with_its_host(tmp_path):
    import json

    socket = str(tmp_path / "node.sock")
    host = _rank(0, 3.0, socket)
    other = _rank(1, 0.0, socket)
    try:
        out_other, _ = other.communicate(timeout=120)
        line = host.stdout.readline()  # the host printed; it now sleeps with the pool up
        workers = _workers_under(host.pid)
        assert len(workers) == sizing.pool_size(trainers=2), workers  # one pool, not one per rank
        assert _workers_under(other.pid) == []
        for text, is_host in ((line, True), (out_other, False)):
            record = json.loads(text)
            assert record["type"] == "NodePool" and record["host"] is is_host
            assert all(record["passed"]) and not any(record["infra"])
        host.wait(timeout=60)
        deadline = time.monotonic() + 20
        while os.path.exists(socket) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not os.path.exists(socket)  # the server went with its host
    finally:
        for p in (host, other):
            p.kill()
            p.wait()


def test_the_pool_stops_when_its_host_is_killed(tmp_path):
    socket = str(tmp_path / "node.sock")
    host = _rank(0, 60.0, socket)
    try:
        assert host.stdout.readline()  # pool up and used
        server = [p for p in _children(host.pid)]
        assert server, "the host has no pool server child"
        host.send_signal(signal.SIGKILL)  # no atexit: the server must notice on its own
        host.wait()
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in server) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(p) for p in server)
    finally:
        host.kill()
        host.wait()


def _children(pid: int) -> list[int]:
    out = []
    for path in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{path}/children") as f:
            out += [int(p) for p in f.read().split()]
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_scorers_of_one_process_share_one_embedded_pool(monkeypatch):
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    config = SimpleNamespace(execute_backend="embedded", sandbox_workers=1)
    first, owned = make_runner(config)
    second, _ = make_runner(SimpleNamespace(execute_backend="embedded", sandbox_workers=1))
    assert first is second and not owned and first.size == 1
