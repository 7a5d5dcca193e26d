"""Hostile submissions against the isolation layers: what a candidate can see, reach and leave behind.

Each candidate below is what a reward-hacking policy would try: find the answers on disk (the
package's data, a dataset at an ordinary path), read other processes' command lines and
environments, signal or throttle every process it can name, escape the minimal root, and leave
something for the next submission. Each is contained with the right outcome, honest code keeps
passing, and no worker has to be restarted.

These run as root in the normal suite, and as an unprivileged user (`nobody`, in a user namespace)
through tests/test_sandbox_isolation.py::test_hostile_suites_pass_as_an_unprivileged_user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from grpo4codegen.data.loader import load_problems
from grpo4codegen.sandbox.executor import Executor, Submission
from grpo4codegen.sandbox.isolation import allowlist, package_paths
from grpo4codegen.sandbox.types import Limits

from .conftest import ADD_REFERENCE, make_problem

FAST = Limits(time_s=2.0, total_time_s=20.0, memory_mb=256)
REPO = Path(__file__).resolve().parent.parent
#: where the root run plants dataset copies; an unprivileged run gets the paths from the root run
PLANTED_ENV = "G4C_PLANTED_DATASETS"
PLANT_DIRS = ("/srv", "/var/lib", "/data")


@pytest.fixture(autouse=True)
def pool_still_serves(executor, add_problem):
    """After every hostile submission, an honest one still passes and no worker had to be restarted."""
    restarts = executor.stats.worker_restarts
    yield
    honest = executor.run(add_problem, ADD_REFERENCE, FAST)
    assert honest.ok and honest.all_passed, honest
    assert executor.stats.worker_restarts == restarts


@pytest.fixture(scope="module", autouse=True)
def isolated(executor):
    """These tests are about the isolation layers: fail loudly as root if one is missing; skip with the
    reason where this machine cannot have them without root (no unprivileged user namespaces)."""
    layers = executor.layers()
    needed = ("network_namespace", "mount_namespace", "pid_namespace", "minimal_root", "seccomp")
    missing = {k: layers.get(k) for k in needed if layers.get(k) != "active"}
    if missing and os.geteuid() == 0:
        pytest.fail(f"isolation layers missing as root: {missing}")
    if missing:
        pytest.skip(f"isolation layers unavailable to this user here: {missing}")


def outcomes(result) -> list[str]:
    return [t.exec_outcome.value for t in result.tests]


def observe(executor, program: str, expected: str = "CONTAINED") -> str:
    """Run a stdio program that prints `expected` when every probe failed, else what it found.
    Returns what it printed (shortened), after checking it ran at all."""
    r = executor.run_stdio(textwrap.dedent(program), [("", expected)], FAST)
    assert r.ok and r.tests, r
    test = r.tests[0]
    assert test.exec_outcome.value in ("PASSED", "WRONG_ANSWER"), (test.exec_outcome, test.error)
    try:
        return json.loads(test.result).strip()
    except ValueError:  # cut to 200 characters
        return test.result


# -- the answers on disk --------------------------------------------------------------------------
#: looks everywhere a dataset could be (the package, sys.path, module files, planted paths, a walk of
#: the whole tree), loads its own problem's reference solution and delegates to it
CHEAT = """
import gzip, json, os, sys
from typing import List
from collections import Counter

EXTRA = {extra!r}

def _files():
    yield from EXTRA
    for module in list(sys.modules.values()):
        f = getattr(module, "__file__", None) or ""
        if "grpo4codegen" in f:
            yield f.split("grpo4codegen")[0] + "grpo4codegen/data/builtin/problems.jsonl"
    for p in sys.path + ["/srv", "/data", "/var/lib", "/work", "/root", "/home", "/tmp"]:
        yield os.path.join(p, "grpo4codegen/data/builtin/problems.jsonl")
    seen = 0
    for d, dirs, files in os.walk("/"):
        dirs[:] = [x for x in dirs if not (d == "/" and x in ("proc", "sys"))]
        seen += 1
        if seen > 20000:
            break
        yield from (os.path.join(d, f) for f in files if ".jsonl" in f)

def _reference():
    for name in _files():
        try:
            opener = gzip.open if name.endswith(".gz") else open
            with opener(name, "rt") as f:
                for line in f:
                    row = json.loads(line)
                    if row.get("task_id") == "pair-sum-count":
                        ns = {{"List": List, "Counter": Counter}}
                        exec(row["completion"], ns)
                        return ns["Solution"]
        except (OSError, ValueError):
            continue
    raise FileNotFoundError("no answers anywhere")

class Solution:
    def countPairs(self, nums, target):
        return _reference()().countPairs(nums, target)
"""


@pytest.fixture(scope="module")
def builtin_problem():
    return next(p for p in load_problems("builtin") if p.task_id == "pair-sum-count")


@pytest.fixture(scope="module")
def planted():
    """Copies of the package's dataset at ordinary paths (/srv, /var/lib, /data), world-readable.
    Made here as root; an unprivileged run uses those the root run made (their paths in the env)."""
    if os.environ.get(PLANTED_ENV):
        yield json.loads(os.environ[PLANTED_ENV])
        return
    if os.geteuid() != 0:
        yield []
        return
    with plant_datasets() as paths:
        yield paths


class plant_datasets:
    """Context manager: planted copies of the builtin dataset; removes them (and /data if it made it)."""

    def __enter__(self) -> list[str]:
        source = REPO / "src" / "grpo4codegen" / "data" / "builtin" / "problems.jsonl"
        self.made: list[str] = []
        self.paths: list[str] = []
        for parent in PLANT_DIRS:
            if not os.path.isdir(parent):
                os.makedirs(parent, 0o755)
                self.made.append(parent)
            d = tempfile.mkdtemp(prefix="g4c-planted-", dir=parent)
            self.made.append(d)
            os.chmod(d, 0o755)
            target = os.path.join(d, "problems.jsonl")
            shutil.copyfile(source, target)
            os.chmod(target, 0o644)
            self.paths.append(target)
        return self.paths

    def __exit__(self, *exc: object) -> None:
        for d in reversed(self.made):
            shutil.rmtree(d, ignore_errors=True)


def test_the_cheat_works_where_the_files_are_readable(builtin_problem, planted, tmp_path):
    """The cheat is real: run in-process (no sandbox), it finds a planted copy and passes every test."""
    if not planted:
        pytest.skip("no planted dataset (needs root, or the root run's paths)")
    ns: dict = {}
    exec(CHEAT.format(extra=planted), ns)
    solution = ns["Solution"]()
    for test in builtin_problem.tests:
        args = {a.name: a.value for a in test.args}
        assert solution.countPairs(**args) == test.expected


def test_package_data_is_not_readable(executor, builtin_problem):
    r = executor.run(builtin_problem, CHEAT.format(extra=[]), FAST)
    assert r.ok and set(outcomes(r)) == {"RUNTIME_ERROR"}, r
    assert "no answers anywhere" in r.tests[0].error


def test_a_dataset_at_an_ordinary_path_is_not_readable(executor, builtin_problem, planted):
    if not planted:
        pytest.skip("no planted dataset (needs root, or the root run's paths)")
    r = executor.run(builtin_problem, CHEAT.format(extra=planted), FAST)
    assert r.ok and set(outcomes(r)) == {"RUNTIME_ERROR"}, r
    assert "no answers anywhere" in r.tests[0].error


# -- other processes ------------------------------------------------------------------------------
@pytest.fixture
def bystander():
    """A process of the caller's user with a secret on its command line and in its environment."""
    marker = f"g4c-marker-{os.getpid()}-{id(object())}"
    env = {"G4C_SECRET": marker, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", marker], env=env)
    yield proc, marker
    proc.kill()
    proc.wait()


def test_other_processes_command_lines_and_environments_are_invisible(executor, bystander):
    proc, marker = bystander
    problem = make_problem("add", [f"assert candidate(a=1, b=2) == {marker!r}"])
    code = """
import glob, os
class Solution:
    def add(self, a, b):
        for pattern in ("/proc/*/cmdline", "/proc/*/environ", "/proc/*/task/*/environ", "/proc/*/task/*/cmdline"):
            for path in glob.glob(pattern):
                try:
                    text = open(path, "rb").read().decode("utf-8", "replace")
                except OSError:
                    continue
                if "g4c-marker-" in text:
                    return text[text.index("g4c-marker-"):].split("\\x00")[0].split()[0]
        return "nothing"
"""
    r = executor.run(problem, code, FAST)
    assert outcomes(r) == ["WRONG_ANSWER"] and r.tests[0].result == '"nothing"', r
    seen = observe(
        executor,
        """
        import os
        mine = {str(os.getpid()), "self", "thread-self"}
        others = sorted(p for p in os.listdir("/proc") if p not in mine) if os.path.isdir("/proc") else []
        print("CONTAINED" if not others else others)
        """,
    )
    assert seen == "CONTAINED", f"the child sees other processes: {seen}"
    assert proc.poll() is None


KILL_EVERYTHING = """
import os, signal, resource, ctypes
class Solution:
    def add(self, a, b):
        for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM, signal.SIGINT):
            for target in [-1, 0, os.getppid(), -os.getppid(), *range(1, 4096)]:
                if target == os.getpid():
                    continue
                try:
                    os.kill(target, sig)
                except OSError:
                    pass
        libc = ctypes.CDLL(None, use_errno=True)
        for pid in range(1, 64):
            if pid == os.getpid():
                continue
            for attempt in (
                lambda: resource.prlimit(pid, resource.RLIMIT_CPU, (1, 1)),
                lambda: resource.prlimit(pid, resource.RLIMIT_NOFILE, (0, 0)),
                lambda: os.setpriority(os.PRIO_PROCESS, pid, 19),
                lambda: os.sched_setaffinity(pid, {0}),
            ):
                try:
                    attempt()
                except OSError:
                    pass
            if os.uname().machine == "x86_64":
                libc.syscall(129, pid, 10, None)  # rt_sigqueueinfo
            libc.syscall(434, pid, 0)  # pidfd_open
        try:
            os.setpriority(os.PRIO_USER, 0, 19)
        except OSError:
            pass
        return a + b
"""


def test_signalling_every_visible_pid_harms_no_one(executor, add_problem, bystander):
    """Hostile children signal and throttle everything they can name while honest siblings run."""
    proc, _ = bystander
    honest = ADD_REFERENCE.replace("return a + b", "import time; time.sleep(0.05); return a + b")
    subs = [Submission(add_problem, KILL_EVERYTHING if i % 2 else honest, FAST) for i in range(8)]
    results = executor.run_many(subs)
    for i, r in enumerate(results):
        assert r.ok, r
        if i % 2 == 0:
            assert r.all_passed, r
    assert proc.poll() is None, "a process outside the sandbox was killed"
    assert os.getpriority(os.PRIO_PROCESS, proc.pid) == os.getpriority(os.PRIO_PROCESS, 0)


SELF_STARVE = """
import ctypes, os
class Solution:
    def add(self, a, b):
        refused = []
        for name, attempt in (
            ("nice", lambda: os.nice(19)),
            ("setpriority", lambda: os.setpriority(os.PRIO_PROCESS, 0, 19)),
            ("idle_class", lambda: os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))),
            ("batch_class", lambda: os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))),
            ("one_cpu", lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})),
            ("autogroup", lambda: open("/proc/self/autogroup", "w").write("19")),
            ("oom_score", lambda: open("/proc/self/oom_score_adj", "w").write("1000")),
        ):
            try:
                attempt()
            except OSError:
                refused.append(name)
        return refused
"""


def test_a_child_cannot_make_its_own_waits_for_a_core(executor, add_problem):
    """The worker moves a child's wall-clock deadlines on by the time the kernel saw it wait for a
    core, so the child must not be able to make such waits: it cannot lower its priority (nice,
    setpriority, its autogroup's through /proc, which is read-only), take an idle or batch
    scheduling class, or pin itself to one (busy) core. Otherwise it could hold its worker with no
    CPU to show for it, until the submission's total by the wall clock."""
    r = executor.run(add_problem, SELF_STARVE, FAST)
    assert r.ok, r.infra_error
    refused = json.loads(r.tests[0].result)
    assert refused == "nice setpriority idle_class batch_class one_cpu autogroup oom_score".split()


# -- the filesystem -------------------------------------------------------------------------------
def test_only_the_allowlist_is_visible(executor):
    allowed_top = {"dev", "proc", "tmp", "var", "sandbox-tmp", "etc", "lib", "lib64", "lib32", "libx32"}
    bound = [p for p, _ in allowlist()] + package_paths(("sortedcontainers",))[0]
    allowed_top |= {p.strip("/").split("/")[0] for p in bound}
    secrets = [
        "/etc/shadow",
        "/etc/passwd",
        "/etc/hostname",
        os.path.join(sys.prefix, "pyvenv.cfg"),
        str(REPO / "pyproject.toml"),
        str(REPO / "README.md"),
        str(REPO / "src" / "grpo4codegen" / "__init__.py"),
        os.path.expanduser("~/.bash_history"),
        "/root/.bashrc",
        "/proc/1/environ",
        "/proc/self/root/etc/shadow",
        "/proc/1/root/etc/passwd",
        "/sys/kernel/hostname",
    ]
    seen = observe(
        executor,
        f"""
        import os
        found = []
        for path in {secrets!r}:
            try:
                open(path, "rb").read(1)
                found.append(path)
            except OSError:
                pass
        extra = sorted(set(os.listdir("/")) - set({sorted(allowed_top)!r}))
        venv = {sys.prefix!r}
        listed = os.listdir(venv) if os.path.isdir(venv) else []
        print("CONTAINED" if not (found or extra or [x for x in listed if x != "lib"]) else (found, extra, listed))
        """,
    )
    assert seen == "CONTAINED", f"visible outside the allowlist: {seen}"


def test_escapes_through_proc_descriptors_links_and_mounts_fail(executor):
    seen = observe(
        executor,
        """
        import ctypes, os
        found = []
        libc = ctypes.CDLL(None, use_errno=True)
        # every open descriptor: only /dev/null, the result pipe and stdin (this test's own input, a
        # sealed memory file; a deleted file in its own work directory where none could be made)
        own_input = ("/memfd:stdin (deleted)", os.path.join(os.getcwd(), f".stdin-{os.getpid()} (deleted)"))
        for fd in range(1024):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if not (target == "/dev/null" or target.startswith("pipe:") or (fd == 0 and target in own_input)):
                found.append(("fd", fd, target))
        # the roots of this process and of pid 1 are the minimal root, or invisible
        if os.path.isdir("/proc/self/root") and sorted(os.listdir("/proc/self/root")) != sorted(os.listdir("/")):
            found.append("proc/self/root differs")
        for path in ("/proc/1/root", "/proc/1/cwd", "/proc/1/fd", "/proc/1/mem", "/proc/2/root"):
            try:
                os.listdir(path) if not path.endswith("mem") else open(path, "rb").read(1)
                found.append(path)
            except OSError:
                pass
        # links planted in the work directory
        for name, target in (("a", "/etc/shadow"), ("b", "../../../../../etc/passwd"), ("c", "/proc/1/root/etc/passwd")):
            os.symlink(target, name)
            try:
                open(name, "rb").read(1)
                found.append(("symlink", target))
            except OSError:
                pass
        for source in ("/usr/lib/x86_64-linux-gnu/libc.so.6", "/etc/ld.so.cache"):
            try:
                os.link(source, "hard")
                found.append(("hardlink", source))
            except OSError:
                pass
        # mounts, namespaces, chroot, file handles
        if libc.mount(b"none", b".", b"tmpfs", 0, None) == 0:
            found.append("mount")
        if libc.umount2(b"/usr", 2) == 0:
            found.append("umount")
        for flags in (0x00020000, 0x10000000, 0x20000000, 0x40000000):
            if libc.unshare(flags) == 0:
                found.append(("unshare", flags))
        try:
            os.chroot(".")
            found.append("chroot")
        except OSError:
            pass
        if os.uname().machine == "x86_64" and libc.syscall(304, -100, b"/", None, 0) >= 0:
            found.append("open_by_handle_at")
        for path in ("/", "/usr", "/etc", "/dev", "/proc"):
            try:
                open(os.path.join(path, "written"), "w").write("x")
                found.append(("wrote", path))
            except OSError:
                pass
        print("CONTAINED" if not found else found)
        """,
    )
    assert seen == "CONTAINED", f"escaped: {seen}"


LEAVE_SOMETHING = """
import ctypes, os
here = os.getcwd()
scratch = os.path.dirname(here)
open("left-in-workdir", "w").write("x")
os.makedirs("deep/er", exist_ok=True)
open("deep/er/file", "w").write("x")
for place in (scratch, "/tmp", "/var/tmp", "/dev/shm", "/"):
    try:
        os.chmod(place, 0o777)
    except OSError:
        pass
    try:
        open(os.path.join(place, "left-outside"), "w").write("x")
    except OSError:
        pass
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget(0x6734, 4096, 0o1666)  # System V shared memory would outlive the child
print("done")
"""

FIND_LEFTOVERS = """
import ctypes, os
here = os.path.basename(os.getcwd())
scratch = os.path.dirname(os.getcwd())
found = [x for x in os.listdir(scratch) if x != here]
for place in ("/tmp", "/var/tmp", "/dev/shm", "/"):
    if os.path.exists(os.path.join(place, "left-outside")):
        found.append(place)
libc = ctypes.CDLL(None, use_errno=True)
if libc.shmget(0x6734, 0, 0) >= 0:
    found.append("shm")
print("CONTAINED" if not found else found)
"""


def test_nothing_is_left_for_the_next_submission():
    """A submission writes wherever it can; the next one on the same worker finds nothing."""
    with Executor(workers=1) as ex:
        first = ex.run_stdio(LEAVE_SOMETHING, [("", "done")], FAST)
        assert first.ok and first.all_passed, first
        second = ex.run_stdio(FIND_LEFTOVERS, [("", "CONTAINED")], FAST)
        assert second.ok and second.all_passed, second
        assert ex.stats.worker_restarts == 0


def test_the_network_is_unreachable_even_locally(executor):
    seen = observe(
        executor,
        """
        import socket
        found = []
        for family, address in ((socket.AF_INET, ("127.0.0.1", 22)), (socket.AF_INET, ("1.1.1.1", 53)), (socket.AF_UNIX, "/run/dbus/system_bus_socket")):
            try:
                s = socket.socket(family, socket.SOCK_STREAM)
                s.settimeout(0.5)
                s.connect(address)
                found.append(address)
            except OSError:
                pass
        print("CONTAINED" if not found else found)
        """,
    )
    assert seen == "CONTAINED"


def test_planting_the_next_work_directory_is_not_an_infrastructure_failure(executor, add_problem):
    """A child that prepares the work directory of the child that will take over after it crashes
    (possible where it owns the scratch directory, without root) fails only itself."""
    code = """
import os
here = os.getcwd()
scratch, name = os.path.split(here)
prefix, serial = name.rsplit("-", 1)
class Solution:
    def add(self, a, b):
        if a == 1:
            try:
                os.chmod(scratch, 0o777)
            except OSError:
                pass
            for k in range(1, 64):
                try:
                    os.mkdir(os.path.join(scratch, f"{prefix}-{int(serial) + k}"), 0o500)
                except OSError:
                    pass
            os._exit(1)
        return a + b
"""
    r = executor.run(add_problem, code, FAST)
    assert r.ok, r.infra_error
    assert outcomes(r) == ["RUNTIME_ERROR", "PASSED", "PASSED"], r
