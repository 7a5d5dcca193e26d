"""Isolation layers, applied in two places.

Once per warm worker (`enter_worker_namespaces`): a private network namespace (no interfaces up, so
no network at all) and a private mount namespace in which the host's private directories (home
directories, /tmp, the project tree, datasets) are covered by empty tmpfs mounts, with only the Python
installation re-exposed read-only. Every child forked from that worker inherits this view.

Once per submission, in the freshly forked child (`confine_child`): its own session and process
group, an empty working directory, a scrubbed environment, no inherited file descriptors, privileges
dropped to `nobody` (when started as root), resource limits, and a seccomp filter.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys
from dataclasses import dataclass, field

from . import seccomp

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG = 38, 1
NOBODY_UID = NOBODY_GID = 65534
DEFAULT_HIDDEN = ("/root", "/home", "/tmp", "/var/tmp", "/dev/shm", "/mnt", "/media", "/srv", "/work", "/opt")


@dataclass
class IsolationConfig:
    """Which layers to apply. Each is skipped, and reported as such, where the machine lacks it."""

    network: bool = True
    filesystem: bool = True
    drop_privileges: bool = True
    seccomp: bool = True
    hidden_paths: tuple[str, ...] = DEFAULT_HIDDEN
    extra_hidden_paths: tuple[str, ...] = ()
    max_open_files: int = 64
    max_processes: int = 4096  # counts threads of every `nobody` process; fork itself is denied by seccomp
    max_file_bytes: int = 16 << 20
    tmpfs_size_mb: int = 256


@dataclass
class LayerReport:
    """What `enter_worker_namespaces` / a child probe found: layer name -> 'active' or the reason not."""

    layers: dict[str, str] = field(default_factory=dict)

    def active(self, name: str) -> bool:
        return self.layers.get(name) == "active"


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_prctl = _libc.prctl  # resolved once in the worker, not in every child


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def python_paths() -> list[str]:
    """Directories the interpreter needs to keep importing modules after the filesystem is hidden."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths.update(p for p in sys.path if p and os.path.isdir(p))
    return sorted(os.path.realpath(p) for p in paths)


def enter_worker_namespaces(config: IsolationConfig) -> LayerReport:
    """Move the calling (worker) process into private network and mount namespaces."""
    report = LayerReport()
    if os.geteuid() != 0:
        reason = "unavailable: needs root (run as root, or use bubblewrap around the worker)"
        report.layers["network_namespace"] = reason if config.network else "disabled"
        report.layers["filesystem_view"] = reason if config.filesystem else "disabled"
        return report
    flags = (CLONE_NEWNET if config.network else 0) | (CLONE_NEWNS if config.filesystem else 0)
    if flags:
        try:
            _check(_libc.unshare(flags), "unshare")
        except OSError as e:
            report.layers["network_namespace"] = f"unavailable: {e}"
            report.layers["filesystem_view"] = f"unavailable: {e}"
            return report
    report.layers["network_namespace"] = "active" if config.network else "disabled"
    if not config.filesystem:
        report.layers["filesystem_view"] = "disabled"
        return report
    try:
        _hide_paths(config)
        report.layers["filesystem_view"] = "active"
    except OSError as e:
        report.layers["filesystem_view"] = f"unavailable: {e}"
    return report


def _hide_paths(config: IsolationConfig) -> None:
    """Cover each hidden directory with an empty tmpfs, then bind the Python installation back, read-only."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    scratch = {"/tmp", "/var/tmp", "/dev/shm"}  # stay private, writable tmpfs even if they are on sys.path
    keep = [p for p in python_paths() if p not in scratch]
    keep_fds = {p: os.open(p, os.O_PATH) for p in keep}
    hidden = [os.path.realpath(p) for p in (*config.hidden_paths, *config.extra_hidden_paths)]
    hidden = sorted({p for p in hidden if os.path.isdir(p)}, key=len)
    # a directory inside another hidden one is covered already
    hidden = [p for i, p in enumerate(hidden) if not any(_under(p, q) for q in hidden[:i])]
    os.chdir("/")
    try:
        for path in hidden:
            mode = "1777" if path in ("/tmp", "/var/tmp", "/dev/shm") else "0755"
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={config.tmpfs_size_mb}m,mode={mode}")
            for kept in keep:
                if _under(kept, path) and not any(
                    _under(kept, k) and k != kept for k in keep if _under(k, path)
                ):
                    os.makedirs(kept, mode=0o755, exist_ok=True)
                    _mount(f"/proc/self/fd/{keep_fds[kept]}", kept, None, MS_BIND | MS_REC)
                    _mount(None, kept, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)
    finally:
        for fd in keep_fds.values():
            os.close(fd)


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
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def confine_child(
    config: IsolationConfig,
    workdir: str,
    keep_fd: int,
    address_space_bytes: int,
    cpu_seconds: int,
    seccomp_filter: seccomp.PreparedFilter | None = None,
) -> dict[str, str]:
    """Confine the calling (freshly forked) child. Returns layer -> status for the doctor.

    The worker prepares what it can before forking (a scrubbed environment, the address-space limit,
    the compiled seccomp filter), so that a child's own setup stays cheap. `seccomp_filter` None
    means seccomp is unavailable or disabled.
    """
    layers: dict[str, str] = {}
    os.setsid()
    layers["process_group"] = "active"
    _prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # die with the worker
    root = os.geteuid() == 0
    os.mkdir(workdir, 0o700)
    if root and config.drop_privileges:
        os.chown(workdir, NOBODY_UID, NOBODY_GID)
    os.chdir(workdir)
    layers["workdir"] = "active"
    if len(os.environ) != len(CHILD_ENVIRONMENT):  # the worker has normally scrubbed it already
        scrub_environment()
    os.environ["HOME"] = os.environ["TMPDIR"] = workdir
    layers["environment"] = "active"
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, keep_fd)
    os.closerange(keep_fd + 1, 65536)
    layers["file_descriptors"] = "active"
    if root and config.drop_privileges:
        os.setgroups([])
        os.setgid(NOBODY_GID)
        os.setuid(NOBODY_UID)
        layers["unprivileged_user"] = "active"
    else:
        layers["unprivileged_user"] = "disabled" if root else "n/a: not started as root"
    limits = {
        resource.RLIMIT_AS: address_space_bytes,
        resource.RLIMIT_CPU: cpu_seconds,
        resource.RLIMIT_FSIZE: config.max_file_bytes,
        resource.RLIMIT_NOFILE: config.max_open_files,
        resource.RLIMIT_NPROC: config.max_processes,
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
