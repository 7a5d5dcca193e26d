"""The seccomp program itself, checked by emulating it: the binary-tree layout a child loads decides
every system call exactly as the linear layout of the same rules does. (What the filter denies, end
to end, is in the hostile suites.)"""

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
    values += [(1 << 32) | PID, 3, 8, 9, 10, 1031, 0x8901, 0x8902, (1 << 32) | 8]
    calls = []
    for nr in [*range(0, 470), *(_X32_BIT | n for n in (0, 57, 59, 62))]:
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
    assert decide(setxattr) == eperm
