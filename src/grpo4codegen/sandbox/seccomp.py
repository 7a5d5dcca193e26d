"""A seccomp filter through libseccomp (ctypes): an allowlist of the system calls a Python solution
needs; every other one answers EPERM, those a newer kernel adds included. (The filter was a denylist
until a kernel newer than libseccomp's table let `setxattrat`, 6.13's, past the `setxattr` denial:
whatever a kernel adds after the list was written gets through a denylist unseen.)

Allowed: memory (brk, mmap and the rest on its own address space), files and descriptors in the tree
it sees (open, read, write, stat, directories, renames, links, truncation, locks, reading extended
attributes), waiting (poll, select, epoll, event, timer and signal descriptors), clocks, sleeps and
interval timers, its own identity, limits and usage, `uname`, `getrandom`, signal handling, threads
(`clone` with `CLONE_THREAD`, futexes, robust lists, rseq), and, on a condition:
- signals only to itself (`kill`, `tgkill`, `rt_sigqueueinfo`, `rt_tgsigqueueinfo` naming its own pid;
  never its process group, pid 0);
- resource limits and I/O priority only of itself (pid 0): without root the child has the worker's
  uid, and the kernel would let it lower the limits of the worker, its supervisor or any process of
  that user it can name. Its CPU priority, scheduling class and CPUs it may not change at all: the
  worker moves a child's deadlines by the wall clock on by the time the kernel saw it wait for a core,
  and a child that could lower its own priority (or pin itself to a busy core) could make that wait;
- `fcntl` commands that read or set its own descriptors' flags, locks and duplicates: never a
  descriptor's owner (F_SETOWN, F_SETSIG, F_SETOWN_EX: the kernel would signal that owner, checking
  only the uid), never a pipe's size (kernel memory outside its figures), leases or directory
  notifications;
- `ioctl` requests that ask a descriptor what it is (a terminal? its size, bytes ready) or set
  close-on-exec and non-blocking: never a descriptor's owner (FIOSETOWN, SIOCSPGRP) nor input pushed
  into a terminal;
- `madvise` only with advice that keeps its pages resident (never DONTNEED, FREE, COLD, PAGEOUT:
  dropping the pages it inherited and allocating into the room would hide memory from the peak the
  worker reads);
- `prctl` only to name its threads (PR_SET_NAME, PR_GET_NAME): PR_SET_DUMPABLE would make its /proc
  files its own (clear_refs resets the peak memory that the worker reads from the kernel);
- `clone3` answers ENOSYS, so that the C library falls back to `clone`, whose flags the filter can see.

Denied, among the rest: networking sockets, process creation (fork, vfork, clone without
CLONE_THREAD), exec, ptrace and cross-process memory access, mounts (the old and the new API),
namespaces, chroot, kernel modules, bpf, perf, keyrings, io_uring (which would bypass this filter),
native AIO (a host-wide count), inotify and fanotify (per-user counts shared with the caller), pipes,
FIFOs and device nodes (a pipe's buffer is 64 KiB of kernel memory outside the child's figures, for
one descriptor; the one pipe a child needs, to the worker, is made before the filter), setting
extended attributes (a tmpfs keeps them in kernel memory, outside its figures), memory files and
`mlock`, System V and POSIX IPC (channels that would outlive the child), pidfds and file handles,
`sync` and `syncfs` (the host writes back every process's dirty data while the child waits at no CPU
cost), `syslog`, and the calls that change the clock or the machine.

The program is laid out as a binary tree of system call numbers (libseccomp's `CTL_OPTIMIZE` level
2) where the library can: the kernel checks a filter when a child loads it, at a cost that grows
with the filter's length and the number of system calls, and every system call the candidate makes
then walks a few comparisons instead of a hundred. `tests/test_seccomp.py` checks, by emulation, that
both layouts decide every system call alike, and what they decide.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_CMP_EQ = 4
_SCMP_CMP_MASKED_EQ = 7
_SCMP_FLTATR_CTL_OPTIMIZE, _BINARY_TREE = 8, 2
_CLONE_THREAD = 0x00010000

#: allowed whatever their arguments (names this architecture or libseccomp does not know are skipped)
_ALLOWED = (
    # its own memory
    "brk mmap munmap mremap mprotect mincore msync membarrier mbind get_mempolicy set_mempolicy "
    # files and descriptors, in the tree it sees
    "read write readv writev pread64 pwrite64 preadv pwritev preadv2 pwritev2 open openat openat2 creat "
    "close close_range dup dup2 dup3 lseek stat fstat lstat newfstatat statx statfs fstatfs access "
    "faccessat faccessat2 readlink readlinkat getdents getdents64 getcwd chdir fchdir umask mkdir "
    "mkdirat rmdir unlink unlinkat rename renameat renameat2 link linkat symlink symlinkat chmod fchmod "
    "fchmodat truncate ftruncate fallocate fsync fdatasync flock fadvise64 utime utimes utimensat "
    "futimesat getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr "
    "fremovexattr sendfile copy_file_range "
    # waiting
    "select pselect6 poll ppoll epoll_create epoll_create1 epoll_ctl epoll_wait epoll_pwait "
    "epoll_pwait2 eventfd eventfd2 timerfd_create timerfd_settime timerfd_gettime signalfd signalfd4 "
    # clocks, sleeps and timers
    "clock_gettime clock_getres clock_nanosleep nanosleep gettimeofday time times getitimer setitimer "
    "alarm timer_create timer_settime timer_gettime timer_getoverrun timer_delete "
    # itself: identity, limits, usage, threads, signals
    "exit exit_group wait4 waitid getpid getppid gettid getuid geteuid getgid getegid getgroups "
    "getresuid getresgid getpgid getpgrp getsid set_tid_address set_robust_list get_robust_list rseq "
    "futex sched_yield sched_getaffinity sched_getparam sched_getscheduler sched_getattr "
    "sched_get_priority_max sched_get_priority_min sched_rr_get_interval getpriority ioprio_get "
    "getrlimit setrlimit getrusage sysinfo uname arch_prctl capget getrandom getcpu restart_syscall "
    "rt_sigaction rt_sigprocmask rt_sigreturn rt_sigpending rt_sigtimedwait rt_sigsuspend sigaltstack "
    "pause"
).split()
#: signals: allowed only to the child itself (the first argument, a pid, is its own)
_SIGNALS = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
#: (system call, index of its pid argument): allowed only when that pid is 0 (the caller). Not in
#: any list, so denied: setpriority, sched_setscheduler, sched_setparam, sched_setattr and
#: sched_setaffinity (see the module's docstring)
_ONLY_ON_ITSELF = (("prlimit64", 0),)
#: `fcntl` commands allowed: F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK, F_SETLK, F_SETLKW,
#: F_GETOWN, F_GETSIG, F_GETOWN_EX, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_DUPFD_CLOEXEC,
#: F_GETPIPE_SZ, F_GET_SEALS
_FCNTL_ALLOWED = (0, 1, 2, 3, 4, 5, 6, 7, 9, 11, 16, 36, 37, 38, 1030, 1032, 1034)
#: `ioctl` requests allowed: TCGETS (isatty), TIOCGPGRP, TIOCGWINSZ (terminal size), FIONREAD,
#: FIONBIO, FIONCLEX, FIOCLEX
_IOCTL_ALLOWED = (0x5401, 0x540F, 0x5413, 0x541B, 0x5421, 0x5450, 0x5451)
#: `madvise` advice allowed: NORMAL, RANDOM, SEQUENTIAL, WILLNEED, DONTFORK, DOFORK, HUGEPAGE,
#: NOHUGEPAGE, DONTDUMP, DODUMP, WIPEONFORK, KEEPONFORK, POPULATE_READ, POPULATE_WRITE. Never advice
#: that drops resident pages (DONTNEED, FREE, REMOVE, COLD, PAGEOUT, DONTNEED_LOCKED): the peak memory
#: the worker reads is a high-water mark over everything resident, so dropping pages the child
#: inherited (the libraries' text) and allocating into the room hid that much of its memory (1 MiB
#: here). The C library tolerates the refusal (it only returns memory sooner with it); nor merging
#: pages with other processes' (MERGEABLE)
_MADVISE_ALLOWED = (0, 1, 2, 3, 10, 11, 14, 15, 16, 17, 18, 19, 22, 23)
#: the only `prctl` options a child may use (naming its threads)
PR_SET_NAME, PR_GET_NAME = 15, 16


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


_lib: ctypes.CDLL | None = None


def load_library() -> ctypes.CDLL | None:
    """libseccomp, or None where it is not installed."""
    global _lib
    if _lib is None:
        try:  # by soname first: `ctypes.util` (and the subprocess it runs) stays out of the worker
            lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        except OSError:
            from ctypes.util import find_library

            name = find_library("seccomp")
            if name is None:
                return None
            try:
                lib = ctypes.CDLL(name, use_errno=True)
            except OSError:
                return None
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.POINTER(_ArgCmp),
        ]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        _lib = lib
    return _lib


#: placeholder for the child's pid in the compiled program (outside any pid's range)
PID_PLACEHOLDER = 0x5EC0DE42
_SOCK_FILTER = struct.Struct("=HBBI")  # one classic-BPF instruction: code, jt, jf, k
_PID = struct.Struct("=I")
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def compile_filter(tree: bool = True) -> bytes:
    """The filter as a classic-BPF program, compiled once per worker (libseccomp takes milliseconds).
    `tree`: laid out as a binary tree where this libseccomp can (2.5 and later), else linear."""
    lib = load_library()
    if lib is None:
        raise OSError("libseccomp not found")
    ctx = _build(lib, PID_PLACEHOLDER)
    try:
        if tree:
            lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_OPTIMIZE, _BINARY_TREE)  # (older: stays linear)
        fd = os.memfd_create("g4c-seccomp")
        try:
            rc = lib.seccomp_export_bpf(ctx, fd)
            if rc < 0:
                raise OSError(-rc, "seccomp_export_bpf failed")
            size = os.lseek(fd, 0, os.SEEK_END)
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)


class PreparedFilter:
    """A compiled program made ready in the worker, so a forked child only patches in its pid and loads it."""

    def __init__(self, program: bytes) -> None:
        self._buffer = (ctypes.c_char * len(program)).from_buffer_copy(program)
        self._offsets = [
            offset + 4  # the `k` field of an instruction
            for offset in range(0, len(program), _SOCK_FILTER.size)
            if _SOCK_FILTER.unpack_from(program, offset)[3] == PID_PLACEHOLDER
        ]
        self._fprog = _SockFprog(len(program) // _SOCK_FILTER.size, ctypes.addressof(self._buffer))
        self._prctl = ctypes.CDLL(None, use_errno=True).prctl

    def install(self, own_pid: int) -> None:
        """Load the filter in the calling process with `own_pid` as the only allowed signal target."""
        for offset in self._offsets:
            _PID.pack_into(self._buffer, offset, own_pid)
        if self._prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(self._fprog), 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl(PR_SET_SECCOMP): {os.strerror(err)}")


def install_filter(own_pid: int) -> None:
    """Compile and load the filter in one go (slower; `PreparedFilter` for many children)."""
    PreparedFilter(compile_filter()).install(own_pid)


def _build(lib: ctypes.CDLL, own_pid: int) -> int:
    ctx = lib.seccomp_init(_errno_action(errno.EPERM))  # whatever is not allowed below
    if not ctx:
        raise OSError("seccomp_init failed")
    try:
        allow = SCMP_ACT_ALLOW

        def rule(action: int, name: str, *cmps: tuple[int, int, int, int]) -> None:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                return  # not a syscall on this architecture
            arr = (_ArgCmp * max(1, len(cmps)))(*[_ArgCmp(*c) for c in cmps])
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), arr)
            if rc < 0:
                raise OSError(-rc, f"seccomp rule for {name} failed")

        for name in _ALLOWED:
            rule(allow, name)
        rule(_errno_action(errno.ENOSYS), "clone3")
        rule(allow, "clone", (0, _SCMP_CMP_MASKED_EQ, _CLONE_THREAD, _CLONE_THREAD))
        for name in _SIGNALS:
            rule(allow, name, (0, _SCMP_CMP_EQ, own_pid, 0))
        for name, arg in _ONLY_ON_ITSELF:
            rule(allow, name, (arg, _SCMP_CMP_EQ, 0, 0))
        # only IOPRIO_WHO_PROCESS of pid 0: not a group, not a user
        rule(allow, "ioprio_set", (0, _SCMP_CMP_EQ, 1, 0), (1, _SCMP_CMP_EQ, 0, 0))
        # the kernel reads these as 32-bit: compared on the low half, as the kernel will read them
        for command in _FCNTL_ALLOWED:
            rule(allow, "fcntl", (1, _SCMP_CMP_MASKED_EQ, 0xFFFFFFFF, command))
        for request in _IOCTL_ALLOWED:
            rule(allow, "ioctl", (1, _SCMP_CMP_MASKED_EQ, 0xFFFFFFFF, request))
        for advice in _MADVISE_ALLOWED:
            rule(allow, "madvise", (2, _SCMP_CMP_MASKED_EQ, 0xFFFFFFFF, advice))
        for option in (PR_SET_NAME, PR_GET_NAME):
            rule(allow, "prctl", (0, _SCMP_CMP_MASKED_EQ, 0xFFFFFFFF, option))
    except BaseException:
        lib.seccomp_release(ctx)
        raise
    return ctx
