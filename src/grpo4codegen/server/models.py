"""The wire format of the execution server: pydantic models for every request and response.

Two request shapes: ExecEval's (`/api/execute_code`, one program against stdin/stdout unit tests, kept
so that clients written for the seed keep working) and the native batch (`/api/execute_batch`, many
jobs with structured function-call tests). Expected values travel in the executor's canonical form
(sets and non-string-keyed dicts tagged, see `sandbox.values`), because plain JSON would turn a set into
a list and change the verdict; `encode_expected`/`decode_expected` are the two ends of that.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from ..data.problems import Arg, Problem, TestCase
from ..sandbox.types import ExecutionResult, Limits
from ..sandbox.values import DICT_TAG, SET_TAG, canonical

#: ceilings a request may ask for; above them the request is rejected (422), not silently clamped
MAX_TIME_S = 60.0
MAX_TOTAL_TIME_S = 900.0
MAX_MEMORY_MB = 16384
MAX_OUTPUT_BYTES = 64 << 20
MAX_CODE_CHARS = 1 << 20

Metric = Literal["time", "memory", "steps", "instructions"]


class LimitsModel(BaseModel):
    """Limits of a job; a field left out takes the request's, then the server's default."""

    model_config = ConfigDict(extra="forbid")

    time_s: float | None = Field(None, gt=0, le=MAX_TIME_S, description="seconds per test")
    memory_mb: int | None = Field(None, gt=0, le=MAX_MEMORY_MB, description="MiB per submission")
    total_time_s: float | None = Field(None, gt=0, le=MAX_TOTAL_TIME_S, description="seconds per job")
    output_bytes: int | None = Field(None, gt=0, le=MAX_OUTPUT_BYTES)
    stop_on_first_fail: bool | None = None
    metrics: list[Metric] | None = None
    traced_tests: list[int] | None = None

    def apply(self, base: Limits) -> Limits:
        """`base` with the fields this request set."""
        changes = self.model_dump(exclude_unset=True, exclude_none=True)
        if "metrics" in changes:
            changes["metrics"] = tuple(changes["metrics"])
        if "traced_tests" in changes:
            changes["traced_tests"] = tuple(changes["traced_tests"])
        return dataclasses.replace(base, **changes)

    @classmethod
    def from_limits(cls, limits: Limits) -> LimitsModel:
        return cls.model_validate(dataclasses.asdict(limits))


class ArgModel(BaseModel):
    name: str | None = None
    value: Any = None
    kind: Literal["value", "list_node", "tree_node"] = "value"


class TestCaseModel(BaseModel):
    __test__ = False

    args: list[ArgModel]
    expected: Any = Field(None, description="canonical form: sets/dicts tagged as in sandbox.values")
    compare: Literal["eq", "list_node", "tree_node"] = "eq"
    source: str = ""


class ProblemModel(BaseModel):
    """What execution needs of a Problem; `Problem.to_dict()` is accepted too (other fields ignored)."""

    model_config = ConfigDict(extra="ignore")

    task_id: str
    entry_point: str = Field(description='e.g. "Solution().twoSum"')
    preamble: str = ""
    tests: list[TestCaseModel]

    def to_problem(self) -> Problem:
        tests = [
            TestCase(
                args=tuple(Arg(a.name, a.value, a.kind) for a in t.args),
                expected=decode_expected(t.expected),
                compare=t.compare,
                source=t.source,
            )
            for t in self.tests
        ]
        return Problem(
            task_id=self.task_id, entry_point=self.entry_point, preamble=self.preamble, tests=tests
        )


class JobModel(BaseModel):
    """One job: code against a preloaded task, a problem sent inline, or stdin/stdout cases."""

    task_id: str | None = None
    problem: ProblemModel | None = None
    cases: list[tuple[str, str]] | None = Field(None, description="(stdin, expected stdout) pairs")
    code: str = Field(
        description=f"over {MAX_CODE_CHARS} characters: a COMPILATION_ERROR verdict, as embedded"
    )
    limits: LimitsModel | None = None

    @model_validator(mode="after")
    def _one_target(self) -> JobModel:
        has_task = self.problem is not None or self.task_id is not None
        if has_task == (self.cases is not None):
            raise ValueError("a job needs a task_id, a problem, or cases (exactly one of these kinds)")
        return self


class BatchRequest(BaseModel):
    jobs: list[JobModel] = Field(min_length=1)
    limits: LimitsModel | None = Field(None, description="defaults for every job of this request")


class TestResultModel(BaseModel):
    __test__ = False

    exec_outcome: str
    time_consumed: float | None = None
    cpu_time: float | None = None
    tracemalloc_current: int | None = None
    tracemalloc_peak: int | None = None
    cpu_instruction_count: int | None = None
    steps: int | None = None
    result: str = ""
    error: str = ""
    skipped: bool = False


class SummaryModel(BaseModel):
    passed: int
    total: int
    wall_time: float
    cpu_time_kernel: float | None = Field(None, description="CPU seconds of the timed run, from the kernel")
    peak_memory_kernel: int | None = Field(
        None, description="peak resident bytes of the timed run, from the kernel"
    )
    instructions_kernel: int | None = None
    traced_discarded: int = 0


class ResultModel(BaseModel):
    """`ExecutionResult.to_dict()`: with `infra_error` set the tests say nothing about the code."""

    tests: list[TestResultModel]
    summary: SummaryModel
    infra_error: str | None = None


class BatchResponse(BaseModel):
    results: list[ResultModel] = Field(description="one per job, in request order")


class ErrorResponse(BaseModel):
    error: str
    detail: Any = None
    unknown_task_ids: list[str] | None = None


# -- ExecEval compatibility ------------------------------------------------------------------------
class ExecEvalLimits(BaseModel):
    """ExecEval's resource limits. `cpu` and `_as` are honoured, the native names too; others ignored."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    cpu: float | None = Field(None, description="seconds per test (becomes time_s)")
    as_: int | None = Field(
        None, validation_alias=AliasChoices("_as", "as"), description="address-space bytes (memory_mb)"
    )
    time_s: float | None = None
    memory_mb: int | None = None
    total_time_s: float | None = None
    metrics: list[Metric] | None = None

    def to_model(self, stop_on_first_fail: bool) -> LimitsModel:
        """The native limits (validated against the same ceilings)."""
        native: dict[str, Any] = {"stop_on_first_fail": stop_on_first_fail}
        if self.cpu is not None and not self.cpu <= 0:  # NaN goes on, to be rejected
            native["time_s"] = self.cpu
        if self.as_ is not None and self.as_ > 0:
            native["memory_mb"] = max(1, self.as_ >> 20)
        for key in ("time_s", "memory_mb", "total_time_s", "metrics"):
            if getattr(self, key) is not None:
                native[key] = getattr(self, key)
        return LimitsModel.model_validate(native)


class ExecEvalUnittest(BaseModel):
    """One unit test. ExecEval sends text; the seed's extended client sends `input` as a JSON object of
    keyword arguments (it reaches stdin as one line of JSON) and `output` as typed values
    `{"type": "general" | "list_node" | "tree_node", "value": ...}` compared by type."""

    model_config = ConfigDict(extra="ignore")

    input: str | dict[str, Any] | list[Any] | bool | int | float | None = Field(
        description="stdin text, or a JSON value sent to stdin as one line of JSON"
    )
    output: list[str | dict[str, Any]] = Field(
        default_factory=list,
        description='accepted outputs: stdout texts, or {"type", "value"} objects; the first is primary',
    )

    @field_validator("output", mode="before")
    @classmethod
    def _one_output(cls, v: Any) -> Any:
        return [v] if isinstance(v, (str, dict)) else v


class ExecEvalRequest(BaseModel):
    """ExecEval's request. Compiler/interpreter options and `use_sanitizer` are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    language: str = Field(description="a Python language name, e.g. 'Python 3'")
    source_code: str = Field(description=f"over {MAX_CODE_CHARS} characters: a COMPILATION_ERROR verdict")
    unittests: list[ExecEvalUnittest]
    limits: ExecEvalLimits | None = None
    block_network: bool = Field(True, description="always blocked, whatever is sent")
    stop_on_first_fail: bool = True
    use_sanitizer: bool = Field(False, description="accepted and ignored (a C/C++ option)")


class ExecEvalTestResult(BaseModel):
    """One test's answer. For the seed's extended form, metrics that were not measured are left out
    (its client reads them with `.get(name, 0)`, and a null would break its averages)."""

    input: str = Field(description="the stdin the program got")
    output: list[Any]
    result: str | None = Field(description="the program's stdout (cut to about 200 characters)")
    exec_outcome: str
    time_consumed: float | None = None
    tracemalloc_current: int | None = None
    tracemalloc_peak: int | None = None
    cpu_instruction_count: int | None = None
    cpu_time: float | None = None
    steps: int | None = None
    error: str = ""
    skipped: bool = False


class ExecEvalResponse(BaseModel):
    data: list[ExecEvalTestResult]


class HealthResponse(BaseModel):
    status: Literal["ok", "draining"]


class ReadyResponse(BaseModel):
    ready: bool
    warm: bool
    draining: bool
    queue_depth: int
    queue_capacity: int
    sandbox_workers: int
    problems: int


# -- the two ends of the expected-value encoding ---------------------------------------------------
def encode_expected(test: TestCase) -> Any:
    """A test's expected value as JSON that `decode_expected` turns back into an equal verdict."""
    if test.compare == "eq":
        return canonical(test.expected)
    return [canonical(v) for v in test.expected]


def decode_expected(value: Any) -> Any:
    """Inverse of `canonical` up to what comparison sees (tuples and lists compare alike)."""
    if isinstance(value, list):
        return [decode_expected(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and SET_TAG in value and isinstance(value[SET_TAG], list):
            return {_hashable(decode_expected(v)) for v in value[SET_TAG]}
        if len(value) == 1 and DICT_TAG in value and isinstance(value[DICT_TAG], list):
            return {_hashable(decode_expected(k)): decode_expected(v) for k, v in value[DICT_TAG]}
        return {k: decode_expected(v) for k, v in value.items()}
    return value


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, set):
        return frozenset(value)
    return value


def result_dict(result: ExecutionResult) -> dict[str, Any]:
    """`ExecutionResult.to_dict()` without `dataclasses.asdict`, which costs ~20x more per job."""
    return {
        "tests": [{**t.__dict__, "exec_outcome": t.exec_outcome.value} for t in result.tests],
        "summary": {
            "passed": result.passed,
            "total": result.total,
            "wall_time": result.wall_time,
            "cpu_time_kernel": result.cpu_time_kernel,
            "peak_memory_kernel": result.peak_memory_kernel,
            "instructions_kernel": result.instructions_kernel,
            "traced_discarded": result.traced_discarded,
        },
        "infra_error": result.infra_error,
    }


def problem_payload(problem: Problem) -> dict[str, Any]:
    """The slim problem a client sends: only what execution needs, expected values encoded."""
    return {
        "task_id": problem.task_id,
        "entry_point": problem.entry_point,
        "preamble": problem.preamble,
        "tests": [
            {
                "args": [{"name": a.name, "value": a.value, "kind": a.kind} for a in t.args],
                "expected": encode_expected(t),
                "compare": t.compare,
            }
            for t in problem.tests
        ],
    }
