"""`bench server`: loopback load on a real server process, then the same jobs on the embedded executor.

N client threads, each with its own `RemoteExecutor`, send batch requests of reference solutions for a
fixed time; every job must come back (`lost` counts those that did not) without an infrastructure
error (`errors`). The jobs that completed are then run through an embedded `Executor` with as many
workers, in the same process run, and `http_over_embedded` is the ratio of the two tests/s figures.
`ServerProcess` (a `grpo4codegen serve` child on a free loopback port) is shared with the tests.
"""

from __future__ import annotations

import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import httpx

from ..data.problems import Problem
from ..sandbox.executor import Executor, Submission
from ..sandbox.sizing import pool_size
from .client import RemoteExecutor


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`grpo4codegen serve` on 127.0.0.1 in its own session, so stopping it takes its sandbox too."""

    def __init__(self, *args: str, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.args, self.port = list(args), port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile()

    def start(self, timeout_s: float = 60.0) -> ServerProcess:
        cmd = [sys.executable, "-m", "grpo4codegen.cli", "serve", "--port", str(self.port)]
        cmd += ["--log-level", "warning", *self.args]
        self.process = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server not healthy within {timeout_s:.0f} s: {self.log_tail()}")

    def log_tail(self, size: int = 3000) -> str:
        self._log.flush()
        self._log.seek(0, os.SEEK_END)
        self._log.seek(max(0, self._log.tell() - size))
        return self._log.read().decode(errors="replace")

    def sandbox_workers(self) -> list[int]:
        """Pids of the server's sandbox worker processes."""
        pids = []
        for path in glob.glob(f"/proc/{self.process.pid}/task/*/children") if self.process else []:
            try:
                children = [int(p) for p in open(path).read().split()]
            except OSError:
                continue
            for pid in children:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        if b"grpo4codegen.sandbox.worker" in f.read():
                            pids.append(pid)
                except OSError:
                    pass
        return pids

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int | None:
        """Signal the server, wait for it, then make sure nothing of its session is left."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        return self.process.returncode

    def kill(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._log.close()


def run_server_benchmark(
    problems: list[Problem],
    dataset: str,
    split: str = "test",
    clients: int = 4,
    duration_s: float = 10.0,
    batch: int = 4,
    sandbox_workers: int | None = None,
    send_problems: bool = False,
    round_s: float = 5.0,
) -> int:
    """Print the figures and, last, one JSON line; exit code 1 when a job errored or was lost.

    HTTP load and the embedded replay of the same jobs alternate in rounds of `round_s`, so that a
    change in what else the machine runs affects both sides alike.
    """
    workers = sandbox_workers or pool_size()
    jobs = [Submission(p, p.reference_solution) for p in problems]
    load_before = os.getloadavg()[0]
    rounds = max(1, round(duration_s / round_s))
    load = _Load(jobs, clients, batch, send_problems)
    embedded_s, embedded_tests, replayed = 0.0, 0, 0
    args = ["--dataset", dataset, "--split", split, "--sandbox-workers", str(workers)]
    with ServerProcess(*args) as server, Executor(workers=workers) as executor:
        executor.run_many(jobs[:workers])  # start the pool outside the timing
        with RemoteExecutor(server.url, chunk_size=batch, send_problems=send_problems) as warm:
            warm.run_many(jobs[: 2 * batch])  # the server's first requests, outside the timing
        for _ in range(rounds):
            done = load.run(server.url, duration_s / rounds)
            t0 = time.perf_counter()
            results = executor.run_many(done)
            embedded_s += time.perf_counter() - t0
            embedded_tests += sum(r.total for r in results if r.ok)
            replayed += len(done)
        server_jobs = _server_jobs_ok(server.url)
    summary = load.summary()
    embedded_tps = embedded_tests / embedded_s if embedded_s else 0.0
    summary.update(
        embedded_tests_per_s=round(embedded_tps, 1),
        http_over_embedded=round(summary["tests_per_s"] / embedded_tps, 3) if embedded_tps else None,
        server_jobs_ok=server_jobs,
        sandbox_workers=workers,
        clients=clients,
        batch=batch,
        duration_s=duration_s,
        rounds=rounds,
        send_problems=send_problems,
        load_avg_before=round(load_before, 2),
        load_avg_after=round(os.getloadavg()[0], 2),
        cores=os.cpu_count(),
    )
    print(
        f"server: {workers} sandbox workers, {clients} clients x {batch} jobs/request, {rounds} x "
        f"{duration_s / rounds:g} s, {'problems inline' if send_problems else 'preloaded task ids'}, "
        f"load avg {load_before:.2f} -> {summary['load_avg_after']:.2f} on {os.cpu_count()} cores"
    )
    print(
        f"HTTP      {summary['requests_per_s']:8.1f} requests/s {summary['tests_per_s']:9.1f} tests/s  "
        f"p50 {summary['p50_ms']:.1f} ms  p99 {summary['p99_ms']:.1f} ms  "
        f"errors {summary['errors']}  lost {summary['lost']}  failed references {summary['failed_references']}"
    )
    print(
        f"embedded  {embedded_tps:29.1f} tests/s  ({replayed} jobs, {embedded_tests} tests); "
        f"HTTP/embedded {summary['http_over_embedded']}"
    )
    print(json.dumps(summary))
    return 0 if summary["errors"] == 0 and summary["lost"] == 0 else 1


class _Load:
    """N client threads, each a RemoteExecutor sending one batch request at a time; counts every job."""

    def __init__(self, jobs: list[Submission], clients: int, batch: int, send_problems: bool) -> None:
        self.jobs, self.clients, self.batch, self.send_problems = jobs, clients, batch, send_problems
        self.lock = threading.Lock()
        self.cursor = 0
        self.latencies: list[float] = []
        self.counts = {"requests": 0, "jobs": 0, "tests": 0, "errors": 0, "lost": 0, "failed_references": 0}
        self.wall = 0.0

    def run(self, url: str, seconds: float) -> list[Submission]:
        """Load for `seconds` (requests in flight then finish); the jobs that came back complete."""
        done: list[Submission] = []
        deadline = time.perf_counter() + seconds
        threads = [
            threading.Thread(target=self._client, args=(url, deadline, done), name=f"bench-client-{i}")
            for i in range(self.clients)
        ]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.wall += time.perf_counter() - started
        return done

    def _client(self, url: str, deadline: float, done: list[Submission]) -> None:
        with RemoteExecutor(
            url, chunk_size=self.batch, parallel=1, send_problems=self.send_problems
        ) as remote:
            while time.perf_counter() < deadline:
                with self.lock:
                    chunk = [self.jobs[(self.cursor + k) % len(self.jobs)] for k in range(self.batch)]
                    self.cursor += self.batch
                t0 = time.perf_counter()
                try:
                    results = remote.run_many(chunk)
                except Exception:  # counted as lost, never raised: the load must keep going
                    results = []
                self._count(chunk, results, time.perf_counter() - t0, done)

    def _count(self, chunk: list[Submission], results: list, elapsed: float, done: list[Submission]) -> None:
        c = self.counts
        with self.lock:
            self.latencies.append(elapsed)
            c["requests"] += 1
            c["jobs"] += len(chunk)
            c["lost"] += len(chunk) - len(results)
            for job, r in zip(chunk, results, strict=False):
                if not r.ok:
                    c["errors"] += 1
                elif r.total != len(job.problem.tests):
                    c["lost"] += 1  # tests missing from a result count as a lost job
                else:
                    c["tests"] += r.total
                    c["failed_references"] += not r.all_passed
                    done.append(job)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)

        def quantile(q: float) -> float:
            return round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 2) if lat else 0.0

        wall = self.wall or 1e-9
        return {
            "requests_per_s": round(self.counts["requests"] / wall, 2),
            "tests_per_s": round(self.counts["tests"] / wall, 1),
            "p50_ms": quantile(0.5),
            "p99_ms": quantile(0.99),
            **self.counts,
            "http_wall_s": round(self.wall, 2),
        }


def _server_jobs_ok(url: str) -> int | None:
    """The server's own count of jobs run (a cross-check on `lost`), from /metrics."""
    try:
        text = httpx.get(url + "/metrics", timeout=5.0).text
    except httpx.HTTPError:
        return None
    match = re.search(r'^g4c_jobs_total\{result="ok"\} ([0-9.e+]+)$', text, re.MULTILINE)
    return int(float(match.group(1))) if match else None
