"""Isolation layers, applied in three places. Everything is an allowlist: what is not put in is absent.

Once per warm worker, at start-up (`enter_worker_namespaces`): a user namespace when not started as
root (so that no layer needs privileges), then private network, IPC, mount and PID namespaces. With a
PID namespace the process forks: the child becomes pid 1 of the new namespace and goes on as the
worker, the original process only relays its exit status.

Once per warm worker, after it imported everything its children need (`enter_minimal_root`): a fresh
read-only tmpfs becomes the root of its mount namespace (pivot_root; chroot where that cannot be had),
holding only the interpreter's standard library and extension modules, the system's shared
libraries, the allowlisted runtime packages (`sortedcontainers`), four device nodes, a fresh /proc
of the worker's own PID namespace (its own processes only), and an empty tmpfs /tmp for work
directories. The old root is detached: no project tree, no dataset, no home, no venv, no host /proc.

Once per submission, in the freshly forked child (`confine_child`): its own session and process
group, an empty working directory, a scrubbed environment, no inherited file descriptors, a uid of
its own and no capabilities, resource limits, and a seccomp filter.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import resource
import signal
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import seccomp

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_MOVE, MS_REC = 1024, 2048, 4096, 8192, 16384
MS_PRIVATE, MS_RELATIME, MNT_DETACH = 1 << 18, 1 << 21, 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 4, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
NOBODY_UID = NOBODY_GID = 65534
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
#: mount flags a bind remount must keep (they are locked inside a user namespace), from statvfs flags
_STATVFS_TO_MS = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}
DEVICES = ("null", "zero", "random", "urandom")
#: the only writable directory in the minimal root, where work directories live: the first of these
#: that holds no allowlisted path (a venv may well live under /tmp)
SCRATCH_CHOICES = ("/tmp", "/var/tmp", "/sandbox-tmp")
_scratch = "/tmp"


def scratch_dir() -> str:
    """Where the worker makes its children's work directories."""
    return _scratch


#: layers whose status "n/a: ..." is by design (the uid drop needs root; a user namespace is only
#: entered when not root), never a reason for the warning
NOT_APPLICABLE = "n/a"


@dataclass
class IsolationConfig:
    """Which layers to apply. Each is skipped, and reported as such, where the machine lacks it."""

    network: bool = True
    filesystem: bool = True  # private mount namespace and the minimal root
    pid_namespace: bool = True
    ipc_namespace: bool = True
    user_namespace: bool = True  # entered when not root, so that the namespaces need no privileges
    drop_privileges: bool = True
    seccomp: bool = True
    #: importable packages (or single-file modules) that candidates may use, besides the standard
    #: library: bound read-only into the minimal root, each alone (never the whole site-packages)
    runtime_packages: tuple[str, ...] = ("sortedcontainers",)
    #: as root, the child of worker slot k runs as uid and gid `uid_base + k`: an id of its own that
    #: no account on the host should own (the default is far above the ranges distributions allocate)
    uid_base: int = 2_000_000_000
    slot: int = 0  # set by the executor per worker
    max_open_files: int = 64
    #: tasks (threads: fork itself is denied by seccomp) of the child's uid, counted in its user
    #: namespace: without root that uid is the caller's, and with thousands a child left the caller and
    #: the other workers unable to start a thread or fork a child (an honest neighbour's infra_error)
    max_processes: int = 32
    #: signals queued to the child at once (RLIMIT_SIGPENDING, also counted per uid: without root a
    #: child that queued the caller's whole allowance to itself left the caller unable to create a
    #: POSIX timer or queue a real-time signal)
    max_pending_signals: int = 64
    max_file_bytes: int = 16 << 20
    #: the scratch tmpfs's data: a file's pages are memory outside the child's address-space limit and
    #: its peak memory (VmHWM), so it holds a few small files, never a table kept out of the figures
    tmpfs_size_mb: int = 1
    #: files and directories the scratch tmpfs holds at most (its inodes: without a cap, extended
    #: attributes and empty files could pin gigabytes of kernel memory outside the memory limit)
    tmpfs_inodes: int = 4096

    def __post_init__(self) -> None:
        self.runtime_packages = tuple(self.runtime_packages)  # a list after a JSON round trip

    @property
    def child_uid(self) -> int:
        return self.uid_base + self.slot


@dataclass
class LayerReport:
    """What a worker / a child probe found: layer name -> 'active', 'n/a: why' or the reason it is not."""

    layers: dict[str, str] = field(default_factory=dict)

    def active(self, name: str) -> bool:
        return self.layers.get(name) == "active"


def missing_layers(layers: dict[str, str]) -> dict[str, str]:
    """The layers that are neither active nor not applicable by design, with their status."""
    return {k: v for k, v in layers.items() if v != "active" and not v.startswith(NOT_APPLICABLE)}


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_prctl = _libc.prctl  # resolved once in the worker, not in every child


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


# -- once per worker: namespaces --------------------------------------------------------------------
def enter_worker_namespaces(config: IsolationConfig, keep_fds: tuple[int, ...] = ()) -> LayerReport:
    """Move the calling (worker) process into its own namespaces. With a PID namespace this forks: the
    call returns in the child, pid 1 of the new namespace, while the original process waits for it and
    exits with its status (it closes `keep_fds`, the worker's pipes, so that only the child holds them).
    """
    global _user_namespace
    report = LayerReport()
    layers = report.layers
    wanted = {
        "network_namespace": (config.network, CLONE_NEWNET),
        "ipc_namespace": (config.ipc_namespace, CLONE_NEWIPC),
        "mount_namespace": (config.filesystem, CLONE_NEWNS),
        "pid_namespace": (config.pid_namespace, CLONE_NEWPID),
    }
    flags = sum(flag for enabled, flag in wanted.values() if enabled)
    root = os.geteuid() == 0
    layers["user_namespace"] = f"{NOT_APPLICABLE}: started as root" if root else "disabled"
    error = None
    if flags and root:
        error = _unshare(flags)
    if flags and (not root or error is not None) and config.user_namespace:
        # not root, or root without the capability (a container): a user namespace grants it
        error = _enter_user_namespace()
        layers["user_namespace"] = "active" if error is None else f"unavailable: {error}"
        _user_namespace = error is None
        if error is None:
            error = _unshare(flags)
    elif flags and not root:
        error = "needs root or a user namespace (disabled)"
    for name, (enabled, _) in wanted.items():
        layers[name] = "disabled" if not enabled else "active" if error is None else f"unavailable: {error}"
    if layers["pid_namespace"] == "active":
        _become_pid_one(keep_fds)
    return report


_user_namespace = False  # entered by this worker: its uid map holds one id, so no uid drop


def _really_root() -> bool:
    return os.geteuid() == 0 and not _user_namespace


def _unshare(flags: int) -> str | None:
    if _libc.unshare(flags) != 0:
        return f"unshare: {os.strerror(ctypes.get_errno())}"
    return None


def _enter_user_namespace() -> str | None:
    """A user namespace in which the caller keeps its uid and gid and holds every capability."""
    uid, gid = os.geteuid(), os.getegid()
    error = _unshare(CLONE_NEWUSER)
    if error:
        return error
    try:
        for name, text in (
            ("setgroups", "deny"),
            ("uid_map", f"{uid} {uid} 1"),
            ("gid_map", f"{gid} {gid} 1"),
        ):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    except OSError as e:
        return f"writing the id maps: {e.strerror}"
    return None


def _become_pid_one(keep_fds: tuple[int, ...]) -> None:
    """Fork into the new PID namespace; the parent relays the child's exit status and never returns."""
    pid = os.fork()
    if pid == 0:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the executor kills the relay: we go too
        return
    for fd in keep_fds:
        os.close(fd)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


# -- once per worker: the minimal root ---------------------------------------------------------------
def allowlist() -> list[tuple[str, str]]:
    """(path, why) of everything bound read-only into the minimal root, as seen by this interpreter."""
    paths: list[tuple[str, str]] = []
    stdlib = sysconfig.get_path("stdlib")
    paths.append((stdlib, "standard library"))
    dynload = _extension_dir()
    if dynload and not _under(os.path.realpath(dynload), os.path.realpath(stdlib)):
        paths.append((dynload, "standard library extension modules"))
    libdir = _system_library_dir()
    if libdir:
        paths.append((libdir, "system shared libraries"))
    if os.path.isfile("/etc/ld.so.cache"):
        paths.append(("/etc/ld.so.cache", "where the dynamic loader finds shared libraries"))
    return paths


def package_paths(names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(paths to bind, names not found) for the allowlisted runtime packages."""
    found, missing = [], []
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            missing.append(name)
        elif spec.submodule_search_locations:
            found.extend(p for p in spec.submodule_search_locations if os.path.isdir(p))
        elif spec.origin and os.path.isfile(spec.origin):
            found.append(spec.origin)
        else:
            missing.append(name)
    return found, missing


def _extension_dir() -> str | None:
    for name in ("_json", "math", "select", "_struct"):
        module = sys.modules.get(name) or __import__(name)
        path = getattr(module, "__file__", None)
        if path:
            return os.path.dirname(path)
    return None


def _system_library_dir() -> str | None:
    """The directory of the C library this interpreter runs on (where extension modules' dependencies are)."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and os.path.basename(parts[5]).startswith("libc.so"):
                    return os.path.dirname(parts[5])
    except OSError:
        pass
    return None


_statm_fd: int | None = None
_in_minimal_root = False  # set once the worker lives in the minimal root


def enter_minimal_root(config: IsolationConfig, mount_namespace: bool, pid_namespace: bool) -> dict[str, str]:
    """Pivot the worker into a tmpfs root holding only the allowlist. Returns layer -> status.
    /proc is there only with a PID namespace of the worker's own (the host's would show everything)."""
    global _statm_fd, _in_minimal_root
    _statm_fd = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)  # kept: the new /proc may fail
    if not config.filesystem:
        return {"minimal_root": "disabled"}
    if not mount_namespace:
        return {"minimal_root": "unavailable: no private mount namespace"}
    packages, missing = package_paths(config.runtime_packages)
    if missing:
        print(
            f"grpo4codegen sandbox: runtime packages not found, left out: {', '.join(missing)}",
            file=sys.stderr,
        )
    try:
        how = _build_and_pivot(config, [p for p, _ in allowlist()] + packages, pid_namespace)
    except OSError as e:
        return {"minimal_root": f"unavailable: {e}"}
    _in_minimal_root = True
    return {"minimal_root": "active" if how == "pivot_root" else f"active ({how})"}


def _build_and_pivot(config: IsolationConfig, binds: list[str], proc: bool) -> str:
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # open every source first: the new root's tmpfs may cover one of them (a venv under /tmp)
    sources = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in [*binds, *(f"/dev/{d}" for d in DEVICES)]}
    links = {n: os.readlink(f"/{n}") for n in ("lib", "lib64", "lib32", "libx32") if os.path.islink(f"/{n}")}
    scratch = next(d for d in SCRATCH_CHOICES if not any(_under(p, d) or _under(d, p) for p in binds))
    new = "/tmp"  # any directory: the new root's tmpfs covers it in this mount namespace only
    try:
        _mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
        for path in binds:
            fd, target = sources[path], new + path
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.makedirs(target, 0o755, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
                open(target, "w").close()
            _bind(f"/proc/self/fd/{fd}", target, read_only=True)
        for name in ("site-packages", "dist-packages"):  # the base interpreter's packages: not allowlisted
            inner = os.path.join(new + sysconfig.get_path("stdlib"), name)
            if os.path.isdir(inner):
                _mount("tmpfs", inner, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=0555")
        os.makedirs(f"{new}/dev", 0o755, exist_ok=True)
        for dev in DEVICES:
            open(f"{new}/dev/{dev}", "w").close()
            _bind(f"/proc/self/fd/{sources[f'/dev/{dev}']}", f"{new}/dev/{dev}", read_only=False)
        for name, target in (
            ("fd", "/proc/self/fd"),
            ("stdin", "fd/0"),
            ("stdout", "fd/1"),
            ("stderr", "fd/2"),
        ):
            os.symlink(target, f"{new}/dev/{name}")
        for name, target in links.items():
            if not os.path.lexists(f"{new}/{name}"):
                os.symlink(target, f"{new}/{name}")
        if proc:
            os.mkdir(f"{new}/proc", 0o555)
            _mount_proc(f"{new}/proc")
        os.makedirs(f"{new}{scratch}", 0o755)
        _mount_scratch(f"{new}{scratch}", config)
        _mount(None, new, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    except OSError:
        _libc.umount2(new.encode(), MNT_DETACH)  # leave the worker as it was
        raise
    finally:
        for fd in sources.values():
            os.close(fd)
    os.chdir(new)
    nr = _SYS_PIVOT_ROOT.get(os.uname().machine)
    if nr is not None and _libc.syscall(nr, b".", b".") == 0:
        _check(_libc.umount2(b".", MNT_DETACH), "umount old root")  # the old root was stacked on top
        how = "pivot_root"
    else:  # e.g. the root is an initramfs: move the new root over it instead, and chroot
        _mount(".", "/", None, MS_MOVE)
        os.chroot(".")
        how = "chroot"
    os.chdir("/")
    global _scratch
    _scratch = scratch
    return how


def _bind(source: str, target: str, read_only: bool) -> None:
    _mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        flags = os.statvfs(target).f_flag
        locked = sum(ms for st, ms in _STATVFS_TO_MS.items() if flags & st)
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | locked)


def _mount_proc(target: str) -> None:
    """/proc of the worker's PID namespace; where the kernel allows, showing processes only, and only
    those the caller may trace (so a child does not see the worker). Read-only: nothing a child could
    write there is its business (its autogroup's priority, which would let it make its own waits for a
    core, which the worker credits; its OOM score)."""
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY
    for options in ("hidepid=invisible,subset=pid", "hidepid=2", None):
        try:
            _mount("proc", target, "proc", flags, options)
            return
        except OSError as e:
            error = e
    print(f"grpo4codegen sandbox: no /proc in the minimal root ({error})", file=sys.stderr)


def _mount_scratch(target: str, config: IsolationConfig) -> None:
    # not writable by the child (as root it has another uid; without root it also lacks capabilities,
    # and `reset_scratch` replaces the tmpfs if anything was left behind anyway)
    options = f"size={config.tmpfs_size_mb}m,nr_inodes={config.tmpfs_inodes},mode=0555"
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options)


def scratch_replaced() -> bool:
    """Is the scratch directory a tmpfs of the worker's own, which `reset_scratch` replaces?"""
    return _in_minimal_root


def reset_scratch(config: IsolationConfig) -> None:
    """After a submission: if anything is left in the scratch directory (beside removed work
    directories), replace it by a fresh tmpfs, so the next submission never sees it."""
    if not _in_minimal_root:
        return
    try:
        if not os.listdir(_scratch):
            return
        _check(_libc.umount2(_scratch.encode(), MNT_DETACH), "umount scratch")
        _mount_scratch(_scratch, config)
    except OSError as e:
        raise OSError(e.errno, f"resetting {_scratch}: {e.strerror}") from None


def trim_heap() -> None:
    """Give the C heap's free pages back to the kernel (glibc's malloc_trim): the worker then holds
    fewer pages for each fork to copy and each child's exit to unmap. A no-op without glibc."""
    trim = getattr(_libc, "malloc_trim", None)
    if trim is not None:
        trim(0)


def die_with_parent(parent: int) -> bool:
    """SIGKILL the calling process when its parent `parent` dies. False when it died already, before
    the request was made (the caller then must not go on: nobody would supervise or kill it)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    return os.getppid() == parent


def seal_worker() -> None:
    """The worker becomes non-dumpable: its /proc entries (memory, environment, descriptors) are
    closed to its children, which hold no capability over it."""
    _check(_prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


#: the whole environment a child sees, plus HOME and TMPDIR pointing at its work directory
CHILD_ENVIRONMENT = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def scrub_environment() -> None:
    """Reduce the calling process's environment to CHILD_ENVIRONMENT (the worker does it once)."""
    os.environ.clear()
    os.environ.update(CHILD_ENVIRONMENT)


def address_space_now() -> int:
    """The calling process's address space in bytes; a child's memory limit is added on top of it."""
    if _statm_fd is not None:
        return int(os.pread(_statm_fd, 256, 0).split()[0]) * resource.getpagesize()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


# -- once per submission, in the child ---------------------------------------------------------------
class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


_CAP_HEADER = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
_NO_CAPS = (_CapData * 2)()
_capset = _libc.capset


def child_layers(config: IsolationConfig, seccomp_ready: bool) -> dict[str, str]:
    """The layers every child of this worker gets (known before any child runs; `confine_child`
    applies them, and a child that cannot is an infrastructure failure)."""
    root = _really_root()
    if not config.drop_privileges:
        user = "disabled"
    elif root:
        user = "active"
    else:
        user = (
            f"{NOT_APPLICABLE}: not started as root; the child keeps the caller's uid, without capabilities"
        )
    return {
        "process_group": "active",
        "workdir": "active",
        "environment": "active",
        "file_descriptors": "active",
        "unprivileged_user": user,
        "capabilities": "active",
        "resource_limits": "active",
        "seccomp": "disabled"
        if not config.seccomp
        else "active"
        if seccomp_ready
        else "unavailable: libseccomp not found",
    }


def confine_child(
    config: IsolationConfig,
    workdir: str,
    keep_fd: int,
    address_space_bytes: int,
    cpu_seconds: int,
    seccomp_filter: seccomp.PreparedFilter | None = None,
    parent: int | None = None,
    keep_fds: Sequence[int] = (),
) -> dict[str, str]:
    """Confine the calling (freshly forked) child. Returns layer -> status for the doctor.

    The worker prepares what it can before forking (a scrubbed environment, the address-space limit,
    the compiled seccomp filter), so that a child's own setup stays cheap. `seccomp_filter` None
    means seccomp is unavailable or disabled. `parent`: the pid of the process that forked it (the
    worker), which it dies with; if that one is gone already, the child exits at once.
    """
    layers: dict[str, str] = {}
    os.setsid()
    layers["process_group"] = "active"
    if not die_with_parent(os.getppid() if parent is None else parent):
        os._exit(1)
    root = _really_root()
    uid = config.child_uid
    try:
        os.mkdir(workdir, 0o700)
    except FileExistsError:
        # planted by an earlier child of the same submission (without root a child owns the scratch
        # directory): a name it cannot guess, so its own failure never looks like ours; the scratch
        # directory is replaced after this submission since something was left in it
        workdir = f"{workdir}-{os.urandom(8).hex()}"
        os.mkdir(workdir, 0o700)
    if root and config.drop_privileges:
        os.chown(workdir, uid, uid)
    os.chdir(workdir)
    layers["workdir"] = "active"
    if len(os.environ) != len(CHILD_ENVIRONMENT):  # the worker has normally scrubbed it already
        scrub_environment()
    os.environ["HOME"] = os.environ["TMPDIR"] = workdir
    layers["environment"] = "active"
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    low = 3
    for fd in sorted({keep_fd, *keep_fds}):  # every descriptor but these
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, 65536)
    layers["file_descriptors"] = "active"
    if root and config.drop_privileges:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)  # from root to another uid: every capability goes with it
        # the kernel clears the parent-death signal when credentials change: arm it again, or a
        # child waiting to be measured outlives a worker that was killed
        if not die_with_parent(os.getppid() if parent is None else parent):
            os._exit(1)
        layers["unprivileged_user"] = "active"
    else:
        layers["unprivileged_user"] = (
            "disabled" if not config.drop_privileges else f"{NOT_APPLICABLE}: not started as root"
        )
    _check(_capset(ctypes.byref(_CAP_HEADER), _NO_CAPS), "capset")  # those of a user namespace too
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    layers["capabilities"] = "active"
    limits = {
        resource.RLIMIT_AS: address_space_bytes,
        resource.RLIMIT_CPU: cpu_seconds,
        resource.RLIMIT_FSIZE: config.max_file_bytes,
        resource.RLIMIT_NOFILE: config.max_open_files,
        resource.RLIMIT_NPROC: config.max_processes,
        resource.RLIMIT_SIGPENDING: config.max_pending_signals,
        resource.RLIMIT_CORE: 0,
    }
    for which, value in limits.items():
        _, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value if which != resource.RLIMIT_CPU else value + 1))
    layers["resource_limits"] = "active"
    _check(_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    if config.seccomp and seccomp_filter is not None:
        seccomp_filter.install(os.getpid())  # a failure here is an infrastructure error
        layers["seccomp"] = "active"
    else:
        layers["seccomp"] = "disabled" if not config.seccomp else "unavailable: libseccomp not found"
    return layers
