"""What goes into the executor and what comes out: outcomes, limits, per-test results.

Field names follow ExecEval (`exec_outcome`, `time_consumed`, ...) so the HTTP layer can pass them on.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class ExecOutcome(str, enum.Enum):
    PASSED = "PASSED"
    WRONG_ANSWER = "WRONG_ANSWER"
    RUNTIME_ERROR = "RUNTIME_ERROR"
    TIME_LIMIT_EXCEEDED = "TIME_LIMIT_EXCEEDED"
    MEMORY_LIMIT_EXCEEDED = "MEMORY_LIMIT_EXCEEDED"
    COMPILATION_ERROR = "COMPILATION_ERROR"


#: metrics a request can ask for; "time" is always cheap, the others cost an extra traced run
METRICS = ("time", "memory", "steps", "instructions")


@dataclass(frozen=True)
class Limits:
    """Per-request limits. `time_s` is per test; `total_time_s` bounds the whole submission."""

    time_s: float = 4.0
    memory_mb: int = 1024
    total_time_s: float = 60.0
    output_bytes: int = 1 << 20  # cap on one test's serialised result / captured stdout
    stop_on_first_fail: bool = False
    metrics: tuple[str, ...] = ("time",)
    #: tests that get the traced (memory/steps) run; None means all. Lets callers trace only the heavy tests.
    traced_tests: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.metrics) - set(METRICS)
        if unknown:
            raise ValueError(f"unknown metrics {sorted(unknown)}; choose from {METRICS}")
        if self.time_s <= 0 or self.total_time_s <= 0 or self.memory_mb <= 0:
            raise ValueError("limits must be positive")


@dataclass
class TestResult:
    """One test's verdict (decided by the parent) and the metrics measured in the child around the call.

    The metrics are the candidate's claims (they are measured inside its process): each is checked
    (finite, non-negative, bounded, consistent with the kernel's figures) and None where it fails a
    check. Figures that feed rewards should be `ExecutionResult.cpu_time_kernel` and
    `peak_memory_kernel`, measured outside the candidate's process."""

    __test__ = False

    exec_outcome: ExecOutcome
    time_consumed: float | None = None  # seconds, perf_counter around the call only
    cpu_time: float | None = (
        None  # seconds of the calling thread's CPU time around the call (less load-sensitive)
    )
    tracemalloc_current: int | None = None  # bytes still allocated by the call when it returned
    tracemalloc_peak: int | None = None  # peak bytes allocated during the call
    cpu_instruction_count: int | None = None  # user-space instructions; None where counters are absent
    steps: int | None = None  # deterministic cost: Python-level steps executed (see sandbox docs)
    result: str = ""  # short repr of the returned value (or captured stdout)
    error: str = ""  # short error text for anything but PASSED
    skipped: bool = False  # not run (an earlier test timed out, or stop_on_first_fail)

    @property
    def passed(self) -> bool:
        return self.exec_outcome is ExecOutcome.PASSED

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["exec_outcome"] = self.exec_outcome.value
        return d


@dataclass
class ExecutionResult:
    """All tests of one submission, in order, plus whether the executor itself failed."""

    tests: list[TestResult] = field(default_factory=list)
    infra_error: str | None = None  # set when the executor failed; the tests then say nothing
    wall_time: float = 0.0  # seconds for the whole submission, seen from the parent
    #: CPU seconds (user + system) of the timed run, loading and every test, as the kernel accounts
    #: them for the child processes (summed over crash restarts); never the traced runs. None where not measured
    cpu_time_kernel: float | None = None
    #: peak resident bytes of the timed run above the child's footprint when the candidate's code
    #: started (the kernel's high-water mark; the largest over crash restarts). None where not measured
    peak_memory_kernel: int | None = None
    #: user-space instructions of the timed run, counted by the worker from outside the child; None
    #: where the CPU exposes no counters or they were not asked for
    instructions_kernel: int | None = None
    #: traced tests whose memory/steps figures were lost (the traced run crashed, overran, or returned
    #: something other than the timed run did)
    traced_discarded: int = 0

    @property
    def ok(self) -> bool:
        return self.infra_error is None

    @property
    def passed(self) -> int:
        return sum(t.passed for t in self.tests)

    @property
    def total(self) -> int:
        return len(self.tests)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def all_passed(self) -> bool:
        return self.total > 0 and self.passed == self.total

    def to_dict(self) -> dict[str, Any]:
        return {
            "tests": [t.to_dict() for t in self.tests],
            "summary": {
                "passed": self.passed,
                "total": self.total,
                "wall_time": self.wall_time,
                "cpu_time_kernel": self.cpu_time_kernel,
                "peak_memory_kernel": self.peak_memory_kernel,
                "instructions_kernel": self.instructions_kernel,
                "traced_discarded": self.traced_discarded,
            },
            "infra_error": self.infra_error,
        }
