"""The bytes that cross the sandbox's process boundaries, in one place.

executor <-> worker: frames `json_size(u32) tail_size(u32) json tail`. A job's JSON holds only what
  the supervisor reads (limits, mode, number of tests); its tail is the whole job's JSON text, code and
  tests included, which the supervisor passes to each child undecoded (the executor encodes a
  problem's part of it once). A reply's tail carries the children's raw value payloads, which the
  executor decodes once, itself.
child -> worker: records `kind(1 byte) test(u32) size(u32) payload`. The child buffers them and
  writes them in batches (`RecordWriter`), so a test costs no system call and no wake-up of the worker.
  BEGIN is the line between our code and the candidate's: before it the child runs only the harness
  (LAYERS, INFRA, and SETUP for a compilation error may come only then); BEGIN is flushed before the
  solution's module-level code runs, and after it only VALUE, ERROR, METRICS and DONE are accepted:
  anything else is the candidate's doing and fails its test.
child -> worker, shared memory: the progress page `test(i32) phase(i32) started(f64, monotonic)
  check(u64)`, written before every call, from which the worker knows which test is running and since
  when without any message. After BEGIN it is a claim: the worker accepts only a page that moves
  forward (phase, then position in the child's order), never into the future, with a valid check
  (which only tells a torn read from a finished write). A record lost in the child's buffer when it
  dies is re-run, never guessed.
value payload: `time(f64) cpu_time(f64) instructions(i64, -1 when not counted)` then the JSON text.
supervisor <-> forker (inside a worker): `FORKER_REQUEST` / `FORKER_REPLY` messages on a Unix socket,
  numbers only; a spawn request carries two descriptors: the child's job file (`write_job_file`: a
  memory file the child reads itself) and the write end of its result pipe. The one exception, WARM,
  carries a preamble's leading import statements, which the forker checks (imports of modules it has
  loaded already, nothing else) and runs once, so that each child starts from that namespace.
job: what a child reads (`job_body`): the submission's own fields and the problem's (encoded once per
  problem), each a marshalled dict, tagged with the interpreter's version (workers run the
  executor's interpreter). Marshal rather than JSON: a child decodes its job in a fresh copy of the
  worker, where every page it writes is a page fault; reading its job and loading the preamble
  cost a child 146 faults instead of 192 (JSON text, and the preamble's code in base64).
preamble: a job carries the problem's preamble compiled by the executor (`preamble_code`, a code
  object), so that no job runner compiles it again; the source text rides along as the fallback.
  It also carries the preamble split in two (`split_preamble`): its leading import statements as
  text (`preamble_imports`), and the rest compiled (`preamble_rest_code`), run on a namespace the
  forker warmed with those imports when it has one.

Everything the child writes is untrusted: the worker and the executor check sizes, kinds, order and
numbers, and a forged record can only hurt the candidate that forged it (it never knows the expected
value).
"""

from __future__ import annotations

import ast
import binascii
import json
import marshal
import mmap
import os
import struct
import sys
import time
from types import CodeType
from typing import Any

from ..astparse import parse

FRAME = struct.Struct(">II")
MAX_FRAME = 256 << 20
#: the values of all a submission's tests together, in the worker's reply; more is the candidate's
#: failure (its output), never a frame too large for the executor to read
MAX_VALUES = MAX_FRAME // 2
RECORD = struct.Struct("<cII")
VALUE_HEAD = struct.Struct("<ddq")
#: a VALUE record's header and its payload's head, packed at once (`RecordWriter.send_value`)
VALUE_RECORD = struct.Struct("<cIIddq")
_VALUE_HEAD_SIZE = VALUE_HEAD.size
_unpack_value_head = VALUE_HEAD.unpack_from
PROGRESS = struct.Struct("<iidQ")
BEGIN_HEAD = struct.Struct("<dq")  # the child's CPU seconds and peak RSS (KiB) at BEGIN

LAYERS, INFRA, SETUP, BEGIN, VALUE, ERROR, METRICS, DONE = (bytes([c]) for c in b"LISBVEMD")
KINDS = frozenset((LAYERS, INFRA, SETUP, BEGIN, VALUE, ERROR, METRICS, DONE))
#: what a child may send before BEGIN (our code only) and after it (the candidate's code runs)
BEFORE_BEGIN = frozenset((LAYERS, INFRA, SETUP, BEGIN))
AFTER_BEGIN = frozenset((VALUE, ERROR, METRICS, DONE))

#: the phases on the progress page, in the order a child goes through them: SETUP (written by the
#: worker at fork: confinement, our code), COMPILE (the harness compiles the candidate's source),
#: LOADING (its module-level code), then CALL (timed child) or TRACED (traced child) per test
PHASE_SETUP, PHASE_COMPILE, PHASE_LOADING, PHASE_CALL, PHASE_TRACED = 0, 1, 2, 3, 4
_CHECK_MASK = (1 << 64) - 1

#: the child writes its buffered records when they are this old or this large (and at the end, and
#: around each traced run). Small enough that a crash re-runs little; large enough to batch most tests.
FLUSH_AFTER_S = 0.05
FLUSH_BYTES = 32 << 10

_monotonic = time.monotonic
_dumps = json.dumps  # bound before candidate code could patch json
_write = os.write
_pack_record = RECORD.pack
_pack_value_record = VALUE_RECORD.pack
_pack_progress = PROGRESS.pack_into


# -- executor <-> worker ------------------------------------------------------------------------------
def write_frame(fd: int, obj: Any, tail: bytes = b"") -> None:
    body = json.dumps(obj).encode()
    data = memoryview(b"".join((FRAME.pack(len(body), len(tail)), body, tail)))
    while data:
        data = data[os.write(fd, data) :]


def read_frame(fd: int) -> tuple[Any, bytes] | None:
    """(decoded JSON, tail bytes); None at a clean end of stream."""
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

    def send_value(self, test: int, seconds: float, cpu_seconds: float, value_json: str) -> None:
        """A VALUE record: the call's time and CPU time, then the JSON text of the value it returned
        (`parse_value_payload` reads it)."""
        text = value_json.encode()
        self.buffer += _pack_value_record(VALUE, test, _VALUE_HEAD_SIZE + len(text), seconds, cpu_seconds, -1)
        self.buffer += text
        if len(self.buffer) >= FLUSH_BYTES or _monotonic() - self.flushed_at > FLUSH_AFTER_S:
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
            write_progress(self.page, test, phase, _monotonic())

    def begin(self, setup_cpu: float, setup_maxrss_kib: int) -> None:
        """The last record of our own code: from here on the candidate's code runs. Flushed, so what
        came before is in the pipe before any candidate code could touch the buffer."""
        self.send(BEGIN, 0, BEGIN_HEAD.pack(setup_cpu, setup_maxrss_kib), flush=True)


def _check(test: int, phase: int, started: float) -> int:
    """Tells a torn read (the page is written without a lock) from a finished write. Not a secret:
    Python's hash of the three numbers, which is the same in every process (numbers are not hashed
    with a random seed)."""
    return hash((test, phase, started)) & _CHECK_MASK


def write_progress(page: mmap.mmap, test: int, phase: int, started: float) -> None:
    _pack_progress(page, 0, test, phase, started, _check(test, phase, started))


def new_progress_page() -> mmap.mmap:
    return mmap.mmap(-1, mmap.PAGESIZE)  # anonymous and MAP_SHARED: the forked child writes, the worker reads


def read_progress(page: mmap.mmap) -> tuple[int, int, float] | None:
    """(test, phase, started) from the page, or None while it does not hold a finished write (or holds
    garbage, or a time that is not a finite number)."""
    for _ in range(3):
        test, phase, started, check = PROGRESS.unpack_from(page, 0)
        if started - started != 0.0:  # NaN or infinity
            return None
        if check == _check(test, phase, started):
            return test, phase, started
    return None


def parse_value_payload(
    data: bytes, start: int = 0, end: int | None = None
) -> tuple[float, float, int | None, bytes]:
    """(time, cpu_time, instructions or None, JSON text of the value) of the value payload
    `data[start:end]` (the whole of `data` by default). Raises ValueError when it is too short."""
    end = len(data) if end is None else end
    if end - start < _VALUE_HEAD_SIZE:
        raise ValueError("value record too short")
    seconds, cpu_seconds, instructions = _unpack_value_head(data, start)
    return (
        seconds,
        cpu_seconds,
        None if instructions < 0 else instructions,
        data[start + _VALUE_HEAD_SIZE : end],
    )


def value_checksum(value_json: bytes) -> int:
    """Compares a traced run's value with the timed run's without sending it twice."""
    return binascii.crc32(value_json)


def compiled_preamble(text: str) -> CodeType | None:
    """A preamble compiled once by the executor, for the job; None when there is none or it does not
    compile (the worker then reports the error)."""
    if not text:
        return None
    try:
        return compile(text, "<preamble>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        return None


def split_preamble(text: str) -> tuple[str, CodeType | None] | None:
    """A preamble's leading import statements (one per line, as `ast.unparse` writes them: the key of a
    warmed namespace) and the rest compiled as `compiled_preamble` does (None when there is no rest).
    None when it does not start with an import, or does not compile. `from __future__` ends the
    imports: it changes how the rest compiles."""
    try:
        tree = parse(text, "<preamble>")  # (in the executor, from several threads)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        return None
    k = 0
    while k < len(tree.body) and _plain_import(tree.body[k]):
        k += 1
    if k == 0:
        return None
    imports = "\n".join(ast.unparse(stmt) for stmt in tree.body[:k])
    if k == len(tree.body):
        return imports, None
    # a `pass` first: a string right after the imports is no docstring in the whole preamble, and must
    # not become one (the module's __doc__) in the rest alone
    rest = [ast.copy_location(ast.Pass(), tree.body[k]), *tree.body[k:]]
    try:
        code = compile(ast.Module(rest, type_ignores=[]), "<preamble>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        return None
    return imports, code


def _plain_import(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Import):
        return True
    return isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module not in (None, "__future__")


def load_preamble(field: Any) -> CodeType | None:
    """A job's compiled preamble; None when it is absent (the worker then compiles the source text)."""
    return field if isinstance(field, CodeType) else None


#: a job's head: the interpreter's version (marshal's format is its own), the size of its own part
JOB_HEAD = struct.Struct("<II")


def job_members(fields: dict[str, Any]) -> bytes:
    """A problem's part of every job for it, encoded once (see `job_body`)."""
    return marshal.dumps(_plain(fields))


def job_body(own: dict[str, Any], members: bytes = b"") -> bytes:
    """What a child reads of its job: a submission's own fields, then `job_members`' bytes."""
    blob = marshal.dumps(_plain(own))
    return b"".join((JOB_HEAD.pack(sys.hexversion & 0xFFFFFFFF, len(blob)), blob, members))


_MARSHAL_EXACT = (str, int, float, bool, type(None), bytes, CodeType)


def _plain(value: Any) -> Any:
    """`value` with subclasses of str, int and float (numpy's str_ from a parquet file, an IntEnum)
    made plain, which marshal requires (JSON took them); lists and dicts walked."""
    kind = type(value)
    if kind in _MARSHAL_EXACT:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value  # (marshal names what it cannot encode)


def load_job_body(data: bytes | memoryview) -> dict[str, Any]:
    """`job_body`'s fields as one dict. Raises ValueError for another interpreter's or a broken job."""
    view = memoryview(data)
    version, size = JOB_HEAD.unpack_from(view)
    if version != sys.hexversion & 0xFFFFFFFF:
        raise ValueError("a job written by another Python version")
    try:
        job = marshal.loads(view[JOB_HEAD.size : JOB_HEAD.size + size])
        rest = view[JOB_HEAD.size + size :]
        if len(rest):
            job.update(marshal.loads(rest))
    except (EOFError, TypeError) as e:
        raise ValueError(f"a broken job: {e}") from None
    if not isinstance(job, dict):
        raise ValueError("a broken job: not a dict")
    return job


# -- supervisor <-> forker, inside a worker -----------------------------------------------------------
#: supervisor -> forker: kind, pid (reap), serial, memory MiB, CPU seconds (spawn, with the job file
#: and the result pipe's write end attached); forker -> supervisor: the pid (0: no fork) or found
#: (0/1), exit status, CPU seconds, peak RSS (KiB). Numbers only (WARM adds import statements, which
#: the forker checks): the forker never sees a job.
FORKER_REQUEST = struct.Struct("<cqqqq")
FORKER_REPLY = struct.Struct("<qqdq")
SPAWN, REAP, WARM = b"S", b"R", b"W"
#: forker -> a standby child (forked ahead of its job): serial, address-space limit (bytes), CPU
#: seconds, with the job file and the result pipe's write end attached, as SPAWN brought them
HANDOFF = struct.Struct("<qqq")
#: the longest import statements' text a WARM message carries, and the longest message
WARM_TEXT_MAX = 4096
WARM_MAX = FORKER_REQUEST.size + WARM_TEXT_MAX


def write_job_file(raw: bytes, order: list[int], traced: bool) -> int:
    """A memory file holding one child's job: its tests and whether traced (marshalled, after its
    size), then `job_body`'s bytes. The child reads it itself: the process it is forked from never
    holds the job."""
    fd = os.memfd_create("g4c-job", os.MFD_CLOEXEC)
    head = marshal.dumps((order, traced))
    data = memoryview(b"".join((_SIZE.pack(len(head)), head, raw)))
    while data:
        data = data[os.write(fd, data) :]
    return fd


def read_job_file(fd: int) -> tuple[dict[str, Any], list[int], bool]:
    """(job, the child's tests in order, traced) from `write_job_file`'s file."""
    size = os.fstat(fd).st_size
    chunks, got = [], 0
    while got < size:
        chunk = os.pread(fd, size - got, got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    view = memoryview(b"".join(chunks))
    (size,) = _SIZE.unpack_from(view)
    order, traced = marshal.loads(view[_SIZE.size : _SIZE.size + size])
    return load_job_body(view[_SIZE.size + size :]), order, traced


_SIZE = struct.Struct("<I")
