"""The seccomp program itself, checked by emulating it: the binary-tree layout a child loads decides
every system call exactly as the linear layout of the same rules does, and what it decides is an
allowlist: system calls it does not name, those of kernels newer than libseccomp's table included,
are denied. (What the filter denies, end to end, is in the hostile suites.)"""

from __future__ import annotations

import struct

import pytest

from grpo4codegen.sandbox import seccomp

pytestmark = pytest.mark.skipif(seccomp.load_library() is None, reason="libseccomp is not installed")

AUDIT_ARCH_X86_64, AUDIT_ARCH_I386 = 0xC000003E, 0x40000003
_X32_BIT = 0x40000000
_INSN = struct.Struct("=HBBI")
_DATA = struct.Struct("=iIQ6Q")  # struct seccomp_data: nr, arch, instruction pointer, six arguments
PID = 4242


def _with_pid(program: bytes, pid: int) -> list[tuple[int, int, int, int]]:
    insns = [_INSN.unpack_from(program, o) for o in range(0, len(program), _INSN.size)]
    return [(c, jt, jf, pid if k == seccomp.PID_PLACEHOLDER else k) for c, jt, jf, k in insns]


def _run(insns: list[tuple[int, int, int, int]], data: bytes) -> int:
    """Classic BPF as the kernel runs a seccomp filter, for the instructions libseccomp emits."""
    a = pc = 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == 0x20:  # ld [k]
            a = struct.unpack_from("=I", data, k)[0]
        elif code == 0x54:  # and #k
            a &= k
        elif code == 0x06:  # ret #k
            return k
        elif code == 0x05:  # ja
            pc += k
        elif code in (0x15, 0x25, 0x35, 0x45):  # jeq, jgt, jge, jset #k
            taken = {0x15: a == k, 0x25: a > k, 0x35: a >= k, 0x45: a & k != 0}[code]
            pc += jt if taken else jf
        else:
            raise AssertionError(f"an instruction this emulator does not know: {code:#x}")


def _calls() -> list[bytes]:
    """System calls to decide: every number (and x32's) with each argument in turn set to the values
    the rules compare with and their neighbours (the own pid, 0, option numbers, flag bits, 64-bit
    values), and a few calls of other architectures."""
    values = [0, 1, 2, PID - 1, PID, PID + 1, 14, 15, 16, 17, 0x10000, 0x10011, 0xFFFFFFFF, 1 << 32]
    values += [(1 << 32) | PID, 3, 8, 9, 10, 1031, 0x8901, 0x8902, 0x5401, 0x5412, (1 << 32) | 8]
    calls = []
    for nr in [*range(0, 520), *(_X32_BIT | n for n in (0, 57, 59, 62))]:
        calls.append(_DATA.pack(nr, AUDIT_ARCH_X86_64, 0, 0, 0, 0, 0, 0, 0))
        for position in range(3):
            for value in values:
                args = [0] * 6
                args[position] = value
                calls.append(_DATA.pack(nr, AUDIT_ARCH_X86_64, 0, *args))
    for arch in (AUDIT_ARCH_I386, 0):
        calls.extend(_DATA.pack(nr, arch, 0, 0, 0, 0, 0, 0, 0) for nr in (0, 1, 2, 11, 57, 62, 120))
    return calls


def test_the_tree_layout_decides_every_system_call_as_the_linear_one():
    linear = _with_pid(seccomp.compile_filter(tree=False), PID)
    tree = _with_pid(seccomp.compile_filter(tree=True), PID)
    assert tree != linear  # (libseccomp 2.5 and later lays it out as a tree)
    decisions = {}
    for data in _calls():
        decided = _run(linear, data)
        assert _run(tree, data) == decided, _DATA.unpack(data)
        decisions[decided] = decisions.get(decided, 0) + 1
    # the emulation means something: calls are allowed, denied with EPERM, and answered ENOSYS
    eperm, enosys = 0x00050000 | 1, 0x00050000 | 38
    assert decisions.get(seccomp.SCMP_ACT_ALLOW) and decisions.get(eperm) and decisions.get(enosys)


def test_the_emulated_filter_denies_what_the_rules_say():
    """A few decisions spelled out, so that the emulation is checked against the rules, not only
    against itself: fork and socket are denied, a thread may be made, a signal may go only to the
    child itself, a descriptor's owner cannot be set (the kernel would signal it), nor a pipe's size
    or an extended attribute."""
    program = _with_pid(seccomp.compile_filter(), PID)
    eperm = 0x00050000 | 1

    def decide(nr: int, *args: int) -> int:
        return _run(program, _DATA.pack(nr, AUDIT_ARCH_X86_64, 0, *args, *[0] * (6 - len(args))))

    fork, socket, clone, kill, getpid = 57, 41, 56, 62, 39
    assert decide(fork) == eperm and decide(socket, 2, 1, 0) == eperm
    assert decide(clone, 0x10000 | 0x100) == seccomp.SCMP_ACT_ALLOW  # CLONE_THREAD | CLONE_VM
    assert decide(clone, 0x11) == eperm  # a new process
    assert decide(kill, PID, 9) == seccomp.SCMP_ACT_ALLOW and decide(kill, PID + 1, 9) == eperm
    assert decide(kill, 0, 9) == eperm  # the process group
    assert decide(getpid) == seccomp.SCMP_ACT_ALLOW
    fcntl, ioctl, setxattr = 72, 16, 188
    f_getfl, f_setown, f_setsig, f_setpipe_sz = 3, 8, 10, 1031
    assert decide(fcntl, 3, f_getfl) == seccomp.SCMP_ACT_ALLOW
    high = (1 << 32) | f_setown  # (the kernel drops the high bits)
    for command in (f_setown, f_setsig, f_setpipe_sz, high):
        assert decide(fcntl, 3, command) == eperm, command
    assert decide(ioctl, 3, 0x8901) == eperm and decide(ioctl, 3, 0x5401) == seccomp.SCMP_ACT_ALLOW
    assert decide(ioctl, 0, 0x5412) == eperm  # TIOCSTI: input pushed into a terminal
    assert decide(setxattr) == eperm
    prctl, pr_set_name, pr_set_dumpable = 157, 15, 4
    assert decide(prctl, pr_set_name) == seccomp.SCMP_ACT_ALLOW and decide(prctl, pr_set_dumpable) == eperm
    prlimit64 = 302
    assert decide(prlimit64, 0, 7) == seccomp.SCMP_ACT_ALLOW and decide(prlimit64, PID + 1, 7) == eperm
    # its CPU priority, scheduling class and CPUs: not even its own (the worker credits its waits for
    # a core, which it must not be able to make)
    # (setpriority, sched_setscheduler, sched_setaffinity, sched_setattr, sched_setparam)
    for nr in (141, 144, 203, 314, 142):
        assert decide(nr, 0, 0, 5) == eperm, nr
    madvise, dontneed, free, pageout, hugepage = 28, 4, 8, 21, 14
    assert decide(madvise, 0, 4096, hugepage) == seccomp.SCMP_ACT_ALLOW
    for advice in (dontneed, free, pageout):  # pages dropped: memory hidden from the high-water mark
        assert decide(madvise, 0, 4096, advice) == eperm, advice
    sched_getaffinity, getpriority = 204, 140
    assert decide(sched_getaffinity) == decide(getpriority) == seccomp.SCMP_ACT_ALLOW


def _numbers(text: str) -> dict[str, int]:
    return {name: int(nr) for name, nr in (pair.split(":") for pair in text.split())}


#: x86_64 numbers of system calls a solution never needs, the families the filter must deny: sockets,
#: fork and exec, ptrace and cross-process memory, mounts (old and new API), namespaces, modules, bpf,
#: perf, userfaultfd, keyrings, io_uring, native AIO, inotify/fanotify, pipes, device nodes, System V
#: and POSIX IPC, pidfds, file handles, memory files, xattr writes, sync, syslog, clock setting, mlock
_MUST_DENY = _numbers(
    "socket:41 socketpair:53 connect:42 fork:57 vfork:58 execve:59 execveat:322 ptrace:101 "
    "process_vm_readv:310 process_vm_writev:311 mount:165 umount2:166 pivot_root:155 "
    "chroot:161 unshare:272 setns:308 init_module:175 finit_module:313 bpf:321 "
    "perf_event_open:298 userfaultfd:323 add_key:248 keyctl:250 io_uring_setup:425 "
    "io_setup:206 inotify_init1:294 fanotify_init:300 pipe:22 pipe2:293 mknod:133 mknodat:259 "
    "shmget:29 msgget:68 semget:64 mq_open:240 pidfd_open:434 pidfd_getfd:438 "
    "open_by_handle_at:304 memfd_create:319 memfd_secret:447 setxattr:188 fsetxattr:190 "
    "sync:162 syncfs:306 syslog:103 settimeofday:164 clock_settime:227 mlock:149 mlockall:151 "
    "tkill:200 open_tree:428 move_mount:429 fsopen:430 fsmount:432 mount_setattr:442 kcmp:312 "
    "process_madvise:440 seccomp:317 personality:135 reboot:169 swapon:167 acct:163 "
    "quotactl:179 kexec_load:246 vmsplice:278"
)
#: added by kernels after this libseccomp's table (6.5 to 6.17): a denylist let them through
_NEWER = _numbers(
    "cachestat:451 fchmodat2:452 map_shadow_stack:453 futex_wake:454 statmount:457 "
    "listmount:458 lsm_get_self_attr:459 mseal:462 setxattrat:463 getxattrat:464 "
    "removexattrat:466 open_tree_attr:467 file_getattr:468 file_setattr:469"
)


def test_everything_the_allowlist_does_not_name_is_denied():
    program = _with_pid(seccomp.compile_filter(), PID)
    eperm = 0x00050000 | 1

    def decide(nr: int) -> int:
        return _run(program, _DATA.pack(nr, AUDIT_ARCH_X86_64, 0, 3, 0, 0, 0, 0, 0))

    for name, nr in {**_MUST_DENY, **_NEWER}.items():
        assert decide(nr) == eperm, name
    for nr in range(470, 1024):  # numbers no kernel has given out yet
        assert decide(nr) == eperm, nr
    # what every Python solution needs stays allowed
    read, write, mmap, brk, futex, clock_gettime, getrandom, exit_group = 0, 1, 9, 12, 202, 228, 318, 231
    for nr in (read, write, mmap, brk, futex, clock_gettime, getrandom, exit_group):
        assert decide(nr) == seccomp.SCMP_ACT_ALLOW, nr
