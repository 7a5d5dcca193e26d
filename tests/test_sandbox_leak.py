"""A candidate sees only its own submission: nothing of an earlier one (its code, inputs, outputs, error
texts, files or progress-page writes) is in a later child's address space or scratch directory, however
the earlier one ended.

The probe scans every readable anonymous mapping of its own process (the heap, the stack, anonymous
and shared memory: where a freed remnant of an earlier job would be) for needles it holds only in two
halves, so the probe's own memory never contains a needle whole; it proves first that the scan works
by finding a marker of its own that it joins at runtime. One worker serves every submission here, as
the 8 samples of a GRPO group share workers.
"""

from __future__ import annotations

import textwrap

import pytest

from grpo4codegen.sandbox.executor import Executor
from grpo4codegen.sandbox.types import Limits

from .conftest import ADD_REFERENCE, make_problem

LIMITS = Limits(time_s=5.0, total_time_s=30.0, memory_mb=256)
#: the earlier submission's problem: inputs and an answer whose digits appear nowhere else
A, B = 314159265358979323, 271828182845904523
EARLIER = make_problem("add", [f"assert candidate(a={A}, b={B}) == {A + B}"] * 3, task_id="earlier")
#: the probe's problem: other inputs, and an answer the probe never gives (it reports what it found)
LATER = make_problem("add", ["assert candidate(a=1, b=2) == 3"], task_id="later")

#: each needle split in two halves: the probe's source and memory hold the halves apart, never joined
NEEDLES = {
    "code": ("LEAKMARK-5f1c", "3a9e-in-code"),  # a literal in the earlier submission's source only
    "input": (str(A)[:9], str(A)[9:]),  # the earlier problem's input
    "value": (str(A + B)[:9], str(A + B)[9:]),  # the earlier submission's return value
    "error": ("ERRMARK-c0ff", "ee-raised"),  # built at runtime, in an exception's text
    "page": ("PAGEMARK-2e18", "-edbe-write"),  # built at runtime, written on the progress page
    "file": ("FILEMARK-9b7d", "-0a11-left"),  # built at runtime, written to its work directory
}


def _reversed_literal(needle: str) -> str:
    """A source expression that evaluates to `needle` without holding it as one literal."""
    return f"''.join(reversed({needle[::-1]!r}))"


def earlier_submission(ending: str) -> str:
    """An earlier candidate: its source holds the code marker; test 0 returns the (right) value, test 1
    raises with the error marker, test 2 writes the page and file markers, then ends as `ending` says."""
    endings = {
        "returns": "return a + b",
        "times_out": "while True:\n    pass",
        "crashes": "import ctypes\nctypes.string_at(0)",
        "exits": "os._exit(3)",
        "killed": "os.kill(os.getpid(), signal.SIGKILL)",
    }
    code = f"""
        import os, signal, sys
        SOURCE_MARK = {"".join(NEEDLES["code"])!r}
        calls = [0]

        class Solution:
            def add(self, a, b):
                calls[0] += 1
                if calls[0] == 1:
                    return a + b
                if calls[0] == 2:
                    raise ValueError({_reversed_literal("".join(NEEDLES["error"]))})
                mark = {_reversed_literal("".join(NEEDLES["page"]))}.encode()
                frame = sys._getframe()
                while frame is not None:  # the harness's record writer holds the progress page
                    page = getattr(frame.f_locals.get("out"), "page", None)
                    if page is not None:
                        page[256 : 256 + len(mark)] = mark  # past the worker's fields: it stays valid
                    frame = frame.f_back
                with open("left-behind.txt", "w") as f:
                    f.write({_reversed_literal("".join(NEEDLES["file"]))} * 4)
{textwrap.indent(endings[ending], " " * 16)}
    """
    return textwrap.dedent(code)


PROBE = """
import ctypes, gc, os

NEEDLES = {needles!r}
OWN = {own!r}
CHUNK = 1 << 20
SLACK = 64  # chunks overlap by this much: a needle across a boundary is still found


def regions():
    spans = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            path = parts[5] if len(parts) > 5 else ""
            anonymous = not path or path in ("[heap]", "[stack]") or path.startswith(("[anon", "/dev/zero", "/memfd:"))
            if parts[1][0] == "r" and anonymous:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                spans.append((lo, hi))
    return spans


def scan(needles):
    buf = bytearray(CHUNK + SLACK)  # allocated once: the scan maps and unmaps nothing while it reads
    found, scanned = set(), 0
    try:
        fd = os.open("/proc/self/mem", os.O_RDONLY)
        how = "mem"
    except OSError:
        fd, how = None, "ctypes"
    address = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
    gc.disable()
    for lo, hi in regions():
        at = lo
        while at < hi:
            n = min(CHUNK + SLACK, hi - at)
            if fd is not None:
                try:
                    n = os.preadv(fd, [memoryview(buf)[:n]], at)
                except OSError:
                    break
            else:
                ctypes.memmove(address, at, n)
            scanned += n
            for name, (first, second) in needles.items():
                if name in found:
                    continue
                i = buf.find(first, 0, n)
                while i >= 0:
                    if buf.startswith(second, i + len(first), n):
                        found.add(name)
                        break
                    i = buf.find(first, i + 1, n)
            at += CHUNK
    gc.enable()
    return found, scanned, how


def scan_files(needles):
    found = set()
    scratch = os.path.dirname(os.getcwd())
    for root, _, files in os.walk(scratch):
        for name in files:
            try:
                with open(os.path.join(root, name), "rb") as f:
                    data = f.read(1 << 20)
            except OSError:
                continue
            for key, (first, second) in needles.items():
                i = data.find(first)
                if i >= 0 and data.startswith(second, i + len(first)):
                    found.add(key)
    return found


class Solution:
    def add(self, a, b):
        first, second = OWN
        own = first + second  # joined at runtime: the scan must find it, or it proves nothing
        needles = {{k: (x.encode(), y.encode()) for k, (x, y) in NEEDLES.items()}}
        needles["own"] = (first.encode(), second.encode())
        own_bytes = own.encode()
        found, scanned, how = scan(needles)
        files = scan_files(needles)
        assert own_bytes
        return "found=" + ",".join(sorted(found)) + " files=" + ",".join(sorted(files)) + f" via={{how}} mib={{scanned >> 20}}"
"""


def probe_source(needles: dict[str, tuple[str, str]] | None = None) -> str:
    return PROBE.format(needles=needles or NEEDLES, own=("OWNMARK-77aa", "bb91-joined"))


def report(result) -> dict[str, set[str] | str]:
    """What the probe found, from its (wrong) answer."""
    assert result.ok and result.tests, result
    test = result.tests[0]
    assert test.exec_outcome.value == "WRONG_ANSWER", test
    fields = dict(part.split("=", 1) for part in test.result.strip('"').split())
    return {
        "memory": set(filter(None, fields["found"].split(","))),
        "files": set(filter(None, fields["files"].split(","))),
        "via": fields["via"],
        "mib": fields["mib"],
    }


@pytest.fixture(scope="module")
def one_worker():
    """A single warm worker: every submission in this module runs in its children."""
    with Executor(workers=1) as ex:
        yield ex


def test_the_probe_finds_what_is_in_its_own_memory(one_worker):
    found = report(one_worker.run(LATER, probe_source(), LIMITS))
    assert "own" in found["memory"], found  # the scan reads the heap: it would see a remnant
    assert int(found["mib"]) > 0


@pytest.mark.parametrize("ending", ["returns", "times_out", "crashes", "exits", "killed"])
def test_a_later_candidate_sees_nothing_of_an_earlier_one(one_worker, ending):
    limits = Limits(time_s=1.0, total_time_s=10.0, memory_mb=256)
    earlier = one_worker.run(EARLIER, earlier_submission(ending), limits)
    outcomes = [t.exec_outcome.value for t in earlier.tests]
    assert outcomes[:2] == ["PASSED", "RUNTIME_ERROR"], earlier  # its value and its error text went out
    assert "ERRMARK" in earlier.tests[1].error
    found = report(one_worker.run(LATER, probe_source(), LIMITS))
    assert found["memory"] == {"own"}, found
    assert found["files"] == set(), found


def test_a_sibling_on_the_same_problem_sees_only_its_own_job(one_worker):
    """A GRPO group: samples of one problem, one after another on the same worker. The later one finds
    the problem's inputs (its own job holds them), never the earlier sample's code, value or error."""
    limits = Limits(time_s=1.0, total_time_s=10.0, memory_mb=256)
    assert one_worker.run(EARLIER, earlier_submission("returns"), limits).ok
    found = report(one_worker.run(EARLIER, probe_source(), LIMITS))
    assert found["memory"] == {"own", "input"}, found
    assert found["files"] == set(), found


def test_a_later_candidate_sees_nothing_of_an_earlier_problems_preamble(one_worker):
    """A preamble's leading imports may be warmed in the process children are forked from: only a text
    made of names already in that process ever reaches it. A marker in an `as` name, or in the name
    of a module that is not loaded, stays out of it, so no later child (of another problem, another
    client of a server) finds it."""
    first, second = "PREMARK_4e1f", "_77c2_alias"
    for i, imports in enumerate((f"import math as {first}{second}", f"import {first}{second}")):
        earlier = make_problem(
            "add",
            ["assert candidate(a=1, b=2) == 3"],
            ADD_REFERENCE,
            preamble=f"{imports}\nfrom collections import *\n\nLIMIT = 1\n",
            task_id=f"earlier-preamble-{i}",
        )
        assert one_worker.run(earlier, ADD_REFERENCE, LIMITS).ok
    found = report(one_worker.run(LATER, probe_source({"preamble": (first, second)}), LIMITS))
    assert found["memory"] == {"own"}, found


def test_an_honest_submission_still_passes_after_the_probe(one_worker, add_problem):
    assert one_worker.run(add_problem, ADD_REFERENCE, LIMITS).all_passed
