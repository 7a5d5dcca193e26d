"""A seccomp filter through libseccomp (ctypes): deny the system calls a LeetCode solution never needs.

Denied with EPERM: networking sockets, process creation (fork/vfork, clone without CLONE_THREAD),
extended attributes (a tmpfs keeps them in kernel memory, outside the child's memory figures),
inotify instances and fanotify groups (per-user counts: without root the child has the caller's
uid, and 60 of them left the caller and its other workers a user's default 128 minus 60),
native AIO contexts (a host-wide count, `fs.aio-max-nr`: one `io_setup` took all 65,536 events,
leaving every other process on the host, a trainer's NVMe offload included, unable to start one),
FIFOs and other nodes made with `mknod`, and pipes (a pipe's or FIFO's buffer is 64 KiB of kernel
memory, outside the child's memory figures, for one descriptor: 40 FIFOs in its work directory held
2.5 MiB of its data while its peak showed none of it, and 30 pipes 1.9 MiB; the one pipe a child
needs, to the worker, is made before the filter), `sync` and `syncfs` (they make the host write back every
process's dirty data, waiting for it uninterruptibly at no CPU cost to the child),
setting a descriptor's owner (`fcntl` F_SETOWN/F_SETSIG/F_SETOWN_EX and their `ioctl` forms: the
kernel would signal that owner, checking only the uid) and resizing pipe buffers,
exec, ptrace and cross-process memory access, memory files (memory outside the address-space limit),
every `prctl` option but naming threads, mounts and namespaces, kernel modules, bpf, keyrings,
io_uring (which would bypass this filter), System V and POSIX message IPC (a channel that would
outlive the child), pidfds and file handles, and signals to any process but the child itself
(kill(0, ...) included). Calls that act on a process by pid (resource limits, priorities,
scheduling) may name only the caller itself (pid 0): without root the child has the worker's uid,
and the kernel would let it lower the limits of the worker, its supervisor, or any process of that
user it can name. `clone3` answers ENOSYS so that the C
library falls back to `clone`, which the filter can inspect (threads stay allowed).

The program is laid out as a binary tree of system call numbers (libseccomp's `CTL_OPTIMIZE` level
2) where the library can: the kernel checks a filter when a child loads it, at a cost that grows
with the filter's length and the number of system calls (0.13 to 0.17 ms to load here, against 0.2 to
0.26 ms for the linear layout), and every system call the candidate makes then walks a few
comparisons instead of a hundred. `tests/test_seccomp.py` checks, by emulation, that both layouts
decide every system call alike.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_CMP_NE = 1
_SCMP_CMP_LT = 2
_SCMP_CMP_GT = 6
_SCMP_CMP_MASKED_EQ = 7
_SCMP_FLTATR_CTL_OPTIMIZE, _BINARY_TREE = 8, 2
_CLONE_THREAD = 0x00010000

_DENY_ALWAYS = (
    "socket socketpair connect bind listen accept accept4 ptrace process_vm_readv process_vm_writev "
    "mount umount2 pivot_root chroot unshare setns reboot kexec_load kexec_file_load init_module "
    "finit_module delete_module bpf perf_event_open userfaultfd keyctl add_key request_key "
    "fork vfork execve execveat tkill io_uring_setup io_uring_enter io_uring_register "
    "shmget shmat shmdt shmctl msgget msgsnd msgrcv msgctl semget semop semtimedop semctl "
    "mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr "
    "pidfd_open pidfd_send_signal pidfd_getfd process_madvise process_mrelease kcmp "
    "open_by_handle_at name_to_handle_at migrate_pages move_pages memfd_create memfd_secret "
    "setxattr lsetxattr fsetxattr inotify_init inotify_init1 fanotify_init fanotify_mark "
    "io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents "
    "mknod mknodat pipe pipe2 sync syncfs"
).split()
#: `fcntl` commands denied: F_SETOWN, F_SETSIG, F_SETOWN_EX (a descriptor's owner gets a signal of
#: the child's choosing, SIGKILL included, when it becomes ready: the kernel checks only the uid,
#: which without root is the worker's) and F_SETPIPE_SZ (pipe buffers: memory outside its figures)
_FCNTL_DENIED = (8, 10, 15, 1031)
#: `ioctl` requests denied: FIOSETOWN and SIOCSPGRP, which set a descriptor's owner as F_SETOWN does
_IOCTL_DENIED = (0x8901, 0x8902)
#: the only `prctl` options a child may use (naming its threads); every other one is denied, among
#: them PR_SET_DUMPABLE, which would make its /proc files its own (clear_refs resets the peak memory
#: that the worker reads from the kernel)
PR_SET_NAME, PR_GET_NAME = 15, 16
#: (system call, index of its pid argument): denied unless that pid is 0 (the caller)
_ONLY_ON_ITSELF = (
    ("prlimit64", 0),
    ("sched_setaffinity", 0),
    ("sched_setscheduler", 0),
    ("sched_setparam", 0),
    ("sched_setattr", 0),
    ("setpriority", 1),
    ("ioprio_set", 1),
)


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
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        raise OSError("seccomp_init failed")
    try:
        eperm = _errno_action(errno.EPERM)

        def rule(action: int, name: str, *cmps: tuple[int, int, int, int]) -> None:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                return  # not a syscall on this architecture
            arr = (_ArgCmp * max(1, len(cmps)))(*[_ArgCmp(*c) for c in cmps])
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), arr)
            if rc < 0:
                raise OSError(-rc, f"seccomp rule for {name} failed")

        for name in _DENY_ALWAYS:
            rule(eperm, name)
        rule(_errno_action(errno.ENOSYS), "clone3")
        rule(eperm, "clone", (0, _SCMP_CMP_MASKED_EQ, _CLONE_THREAD, 0))
        rule(eperm, "kill", (0, _SCMP_CMP_NE, own_pid, 0))
        rule(eperm, "tgkill", (0, _SCMP_CMP_NE, own_pid, 0))
        rule(eperm, "rt_sigqueueinfo", (0, _SCMP_CMP_NE, own_pid, 0))
        rule(eperm, "rt_tgsigqueueinfo", (0, _SCMP_CMP_NE, own_pid, 0))
        for name, arg in _ONLY_ON_ITSELF:
            rule(eperm, name, (arg, _SCMP_CMP_NE, 0, 0))
        rule(eperm, "setpriority", (0, _SCMP_CMP_NE, 0, 0))  # only PRIO_PROCESS: not a group, not a user
        rule(eperm, "ioprio_set", (0, _SCMP_CMP_NE, 1, 0))  # only IOPRIO_WHO_PROCESS
        # the kernel reads these as 32-bit: compared on the low half, so high bits set do not slip past
        for command in _FCNTL_DENIED:
            rule(eperm, "fcntl", (1, _SCMP_CMP_MASKED_EQ, 0xFFFFFFFF, command))
        for request in _IOCTL_DENIED:
            rule(eperm, "ioctl", (1, _SCMP_CMP_MASKED_EQ, 0xFFFFFFFF, request))
        rule(eperm, "prctl", (0, _SCMP_CMP_LT, PR_SET_NAME, 0))  # an allowlist: PR_SET_NAME, PR_GET_NAME
        rule(eperm, "prctl", (0, _SCMP_CMP_GT, PR_GET_NAME, 0))
    except BaseException:
        lib.seccomp_release(ctx)
        raise
    return ctx
