"""A seccomp filter through libseccomp (ctypes): deny the system calls a LeetCode solution never needs.

Denied with EPERM: networking sockets, process creation (fork/vfork, clone without CLONE_THREAD),
exec, ptrace and cross-process memory access, mounts and namespaces, kernel modules, bpf, keyrings,
and signals to any process but the child itself (kill(0, ...) included). `clone3` answers ENOSYS so that the C library falls
back to `clone`, which the filter can inspect (threads stay allowed).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct

SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_CMP_NE = 1
_SCMP_CMP_MASKED_EQ = 7
_CLONE_THREAD = 0x00010000

_DENY_ALWAYS = (
    "socket socketpair connect bind listen accept accept4 ptrace process_vm_readv process_vm_writev "
    "mount umount2 pivot_root chroot unshare setns reboot kexec_load kexec_file_load init_module "
    "finit_module delete_module bpf perf_event_open userfaultfd keyctl add_key request_key "
    "fork vfork execve execveat tkill"
).split()


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
        name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
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
        _lib = lib
    return _lib


#: placeholder for the child's pid in the compiled program (outside any real pid's range)
PID_PLACEHOLDER = 0x5EC0DE42
_SOCK_FILTER = struct.Struct("=HBBI")  # one classic-BPF instruction: code, jt, jf, k
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def compile_filter() -> bytes:
    """The filter as a classic-BPF program, compiled once per worker (libseccomp takes milliseconds)."""
    lib = load_library()
    if lib is None:
        raise OSError("libseccomp not found")
    ctx = _build(lib, PID_PLACEHOLDER)
    try:
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


def load_compiled(program: bytes, own_pid: int) -> None:
    """Install a program from `compile_filter` in the calling process, with its own pid patched in."""
    patched = bytearray(program)
    for offset in range(0, len(patched), _SOCK_FILTER.size):
        code, jt, jf, k = _SOCK_FILTER.unpack_from(patched, offset)
        if k == PID_PLACEHOLDER:
            _SOCK_FILTER.pack_into(patched, offset, code, jt, jf, own_pid)
    buf = (ctypes.c_char * len(patched)).from_buffer(patched)
    prog = _SockFprog(len(patched) // _SOCK_FILTER.size, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_SECCOMP): {os.strerror(err)}")


def install_filter(own_pid: int) -> None:
    """Compile and load the filter in one go (slower; `compile_filter` + `load_compiled` for many children)."""
    load_compiled(compile_filter(), own_pid)


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
    except BaseException:
        lib.seccomp_release(ctx)
        raise
    return ctx
