"""User-space instruction counts from `perf_event_open`, where the CPU exposes hardware counters.

The worker opens the counter on a child from outside (`open_counter(pid)`), after forking it: the
count is the kernel's, not a claim of the candidate's process, and no descriptor has to survive the
child's confinement. On machines without counters (many VMs) opening fails and the metric is None:
never a made-up number.
"""

from __future__ import annotations

import ctypes
import os
import struct

_SYSCALL_NR = {"x86_64": 298, "aarch64": 241}
_PERF_TYPE_HARDWARE = 0
_PERF_COUNT_HW_INSTRUCTIONS = 1
# flag bits in perf_event_attr: disabled(0) inherit(1) ... exclude_kernel(5) exclude_hv(6)
_FLAGS = (1 << 5) | (1 << 6)
_INHERIT = 1 << 1  # threads the child starts later are counted too


class _PerfEventAttr(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
        ("config", ctypes.c_uint64),
        ("sample_period", ctypes.c_uint64),
        ("sample_type", ctypes.c_uint64),
        ("read_format", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),
        ("wakeup_events", ctypes.c_uint32),
        ("bp_type", ctypes.c_uint32),
        ("config1", ctypes.c_uint64),
        ("config2", ctypes.c_uint64),
        ("branch_sample_type", ctypes.c_uint64),
        ("sample_regs_user", ctypes.c_uint64),
        ("sample_stack_user", ctypes.c_uint32),
        ("clockid", ctypes.c_int32),
        ("sample_regs_intr", ctypes.c_uint64),
        ("aux_watermark", ctypes.c_uint32),
        ("sample_max_stack", ctypes.c_uint16),
        ("reserved", ctypes.c_uint16),
    ]


class InstructionCounter:
    """Counts user-space instructions of one process (or thread); `read()` is cumulative."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self) -> int:
        # read() first: a perf event's file has no position, and recent kernels (6.18 here) refuse
        # pread on it (ESPIPE), which the worker meets only where counters exist; pread for a file
        # that has one (a stand-in whose position is past the count)
        data = os.read(self.fd, 8)
        return struct.unpack("q", data if len(data) == 8 else os.pread(self.fd, 8, 0))[0]

    def close(self) -> None:
        os.close(self.fd)


def open_counter(pid: int = 0) -> tuple[InstructionCounter | None, str]:
    """An enabled counter for process `pid` and the threads it starts (0: the calling thread), or
    None and the reason it is unavailable."""
    machine = os.uname().machine
    nr = _SYSCALL_NR.get(machine)
    if nr is None:
        return None, f"perf_event_open: unknown syscall number on {machine}"
    libc = ctypes.CDLL(None, use_errno=True)
    attr = _PerfEventAttr(
        type=_PERF_TYPE_HARDWARE,
        size=ctypes.sizeof(_PerfEventAttr),
        config=_PERF_COUNT_HW_INSTRUCTIONS,
        flags=_FLAGS | (_INHERIT if pid else 0),
    )
    fd = libc.syscall(nr, ctypes.byref(attr), pid, -1, -1, 0)
    if fd < 0:
        err = ctypes.get_errno()
        return None, f"perf_event_open(instructions) failed: {os.strerror(err)} (no hardware counters here?)"
    return InstructionCounter(fd), "available"
