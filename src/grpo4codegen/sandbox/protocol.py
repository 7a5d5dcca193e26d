"""The bytes that cross the sandbox's process boundaries, in one place.

executor <-> worker: frames `json_size(u32) tail_size(u32) json tail`. A job is JSON only; a reply's
  tail carries the children's raw value payloads, which the executor decodes once, itself.
child -> worker: records `kind(1 byte) test(u32) size(u32) payload`. The child buffers them and
  writes them in batches (`RecordWriter`), so a test costs no system call and no wake-up of the worker.
child -> worker, shared memory: the progress page `test(i32) phase(i32) started(f64, monotonic)`,
  written before every call, from which the worker knows which test is running and since when without
  any message. A record lost in the child's buffer when it dies is re-run, never guessed.
value payload: `time(f64) cpu_time(f64) instructions(i64, -1 when not counted)` then the JSON text.

Everything the child writes is untrusted: the worker and the executor check sizes, kinds and order,
and a forged record can only hurt the candidate that forged it (it never knows the expected value).
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import time
from typing import Any

FRAME = struct.Struct(">II")
MAX_FRAME = 256 << 20
RECORD = struct.Struct(">cII")
VALUE_HEAD = struct.Struct("<ddq")
PROGRESS = struct.Struct("<iid")

LAYERS, INFRA, READY, SETUP, VALUE, ERROR, METRICS, DONE = (bytes([c]) for c in b"LIRSVEMD")
KINDS = frozenset((LAYERS, INFRA, READY, SETUP, VALUE, ERROR, METRICS, DONE))

PHASE_LOADING, PHASE_CALL, PHASE_TRACED = 0, 1, 2

#: the child writes its buffered records when they are this old or this large (and at the end, and
#: around each traced run). Small enough that a crash re-runs little; large enough to batch most tests.
FLUSH_AFTER_S = 0.05
FLUSH_BYTES = 32 << 10

_monotonic = time.monotonic
_dumps = json.dumps  # bound before candidate code could patch json
_write = os.write
_pack_record = RECORD.pack
_pack_progress = PROGRESS.pack_into


# -- executor <-> worker ------------------------------------------------------------------------------
def write_frame(fd: int, obj: Any, tail: bytes = b"") -> None:
    body = json.dumps(obj).encode()
    data = memoryview(b"".join((FRAME.pack(len(body), len(tail)), body, tail)))
    while data:
        data = data[os.write(fd, data) :]


def read_frame(fd: int) -> tuple[Any, bytes] | None:
    """(decoded JSON, tail bytes), or None at a clean end of stream."""
    header = _read_exact(fd, FRAME.size)
    if header is None:
        return None
    size, tail_size = FRAME.unpack(header)
    if size + tail_size > MAX_FRAME:
        raise ValueError(f"frame of {size + tail_size} bytes exceeds the limit")
    body = _read_exact(fd, size + tail_size)
    if body is None:
        raise EOFError("truncated frame")
    return json.loads(body[:size]), body[size:]


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, n - got)
        if not chunk:
            if got == 0:
                return None
            raise EOFError("truncated frame")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


# -- child -> worker ----------------------------------------------------------------------------------
class RecordWriter:
    """The child's side: buffered records on the result pipe, progress on the shared page."""

    def __init__(self, fd: int, page: mmap.mmap | None = None) -> None:
        self.fd = fd
        self.page = page
        self.buffer = bytearray()
        self.flushed_at = _monotonic()

    def send(self, kind: bytes, test: int = 0, payload: bytes = b"", flush: bool = False) -> None:
        self.buffer += _pack_record(kind, test, len(payload))
        self.buffer += payload
        if flush or len(self.buffer) >= FLUSH_BYTES or _monotonic() - self.flushed_at > FLUSH_AFTER_S:
            self.flush()

    def send_json(self, kind: bytes, test: int, obj: Any, flush: bool = False) -> None:
        self.send(kind, test, _dumps(obj).encode(), flush)

    def flush(self) -> None:
        view = memoryview(self.buffer)
        while view:
            view = view[_write(self.fd, view) :]
        view.release()
        self.buffer.clear()
        self.flushed_at = _monotonic()

    def progress(self, test: int, phase: int) -> None:
        """Tell the worker, through shared memory, that `test` enters `phase` now."""
        if self.page is not None:
            _pack_progress(self.page, 0, test, phase, _monotonic())


def new_progress_page() -> mmap.mmap:
    return mmap.mmap(-1, mmap.PAGESIZE)  # anonymous and MAP_SHARED: the forked child writes, the worker reads


def read_progress(page: mmap.mmap) -> tuple[int, int, float]:
    """A consistent (test, phase, started) from the page; it is written without a lock, so read until stable."""
    last = PROGRESS.unpack_from(page, 0)
    for _ in range(100):
        now = PROGRESS.unpack_from(page, 0)
        if now == last:
            return now
        last = now
    return last


def value_payload(seconds: float, cpu_seconds: float, instructions: int | None, value_json: str) -> bytes:
    head = VALUE_HEAD.pack(seconds, cpu_seconds, -1 if instructions is None else instructions)
    return head + value_json.encode()


def parse_value_payload(payload: bytes) -> tuple[float, float, int | None, bytes]:
    """(time, cpu_time, instructions or None, JSON text of the value). Raises ValueError when too short."""
    if len(payload) < VALUE_HEAD.size:
        raise ValueError("value record too short")
    seconds, cpu_seconds, instructions = VALUE_HEAD.unpack_from(payload)
    return seconds, cpu_seconds, None if instructions < 0 else instructions, payload[VALUE_HEAD.size :]
