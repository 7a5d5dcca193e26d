"""Precomputed reference profiles: one JSON file, keyed by problem content, executor version and machine.

A reference profile (the reference solution's trusted figures, per-test costs and the limits derived
from them) takes `reference_repeats + 1` sandboxed runs per problem. `grpo4codegen profile-references
--dataset PATH -o FILE` computes them once; `train`, `rewards`, `score` and `serve` read the file
(`--profiles_path FILE`), and profiles missing from it are computed on demand and added to it.

Keys: `problem_key` hashes what the figures depend on (entry point, tests, reference solution), so an
edited problem never reuses a stale profile. The file records `executor_version` (a hash of the
sandbox's measuring code) and `machine` (CPU model, core count, Python build): times measured by
another executor or on another machine are not comparable, so such a file is not used (said once in
the log) and the profiles are measured afresh (and written over it when it is ours to update).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import platform
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..data.problems import Problem
from ..errors import UserError
from ..sandbox.types import Limits

log = logging.getLogger(__name__)

FORMAT = 1
#: sandbox modules whose code decides what the figures mean
_warned: set[str] = set()  # files already reported as unusable (said once per process)
_MEASURING_MODULES = ("executor", "worker", "harness", "protocol", "steps", "perfcount", "types", "values")


def problem_key(problem: Problem) -> str:
    """A hash of everything a reference profile depends on."""
    tests = [dataclasses.asdict(t) if dataclasses.is_dataclass(t) else repr(t) for t in problem.tests]
    payload = json.dumps(
        {
            "entry_point": problem.entry_point,
            "preamble": problem.preamble,
            "tests": tests,
            "reference": problem.reference_solution,
        },
        sort_keys=True,
        default=repr,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@functools.cache
def executor_version() -> str:
    """A hash of the sandbox's measuring code: a changed harness or worker invalidates old profiles."""
    from .. import sandbox

    root = Path(sandbox.__file__).parent
    h = hashlib.sha256()
    for name in _MEASURING_MODULES:
        path = root / f"{name}.py"
        if path.exists():
            h.update(name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


@functools.cache
def machine_fingerprint() -> str:
    """CPU model, core count and Python build: what decides how long the same code takes."""
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    parts = [
        platform.machine(),
        model,
        str(os.cpu_count()),
        platform.python_implementation(),
        platform.python_version(),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def limits_to_dict(limits: Limits) -> dict[str, Any]:
    d = dataclasses.asdict(limits)
    d["metrics"] = list(limits.metrics)
    d["traced_tests"] = None if limits.traced_tests is None else list(limits.traced_tests)
    return d


def limits_from_dict(d: dict[str, Any]) -> Limits:
    d = dict(d)
    d["metrics"] = tuple(d.get("metrics", ("time",)))
    if d.get("traced_tests") is not None:
        d["traced_tests"] = tuple(int(i) for i in d["traced_tests"])
    return Limits(**d)


class ProfileStore:
    """Profiles from a file (if any), in memory, written back atomically when new ones are added."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path else None
        self._entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.loaded = 0
        if self.path is not None:
            self._entries = self._read()
            self.loaded = len(self._entries)

    def _read(self) -> dict[str, dict[str, Any]]:
        assert self.path is not None
        if not self.path.exists():
            log.info("reference profiles file %s does not exist yet; it will be created", self.path)
            return {}
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise UserError(f"--profiles_path {self.path}: not a readable profiles file ({e})") from None
        if (
            not isinstance(data, dict)
            or data.get("format") != FORMAT
            or not isinstance(data.get("profiles"), dict)
        ):
            raise UserError(f"--profiles_path {self.path}: not a profiles file of format {FORMAT}")
        if data.get("executor_version") != executor_version() or data.get("machine") != machine_fingerprint():
            if str(self.path) in _warned:
                return {}
            _warned.add(str(self.path))
            log.warning(
                "reference profiles in %s were measured by executor %s on machine %s, this is executor %s on "
                "machine %s: not used (their times are not comparable); profiles are measured afresh",
                self.path,
                data.get("executor_version"),
                data.get("machine"),
                executor_version(),
                machine_fingerprint(),
            )
            return {}
        return dict(data["profiles"])

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._entries.get(key)

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entries: dict[str, dict[str, Any]]) -> None:
        """Keep new profiles and, with a file, merge them into it (other processes may add too)."""
        if not entries:
            return
        with self._lock:
            self._entries.update(entries)
            if self.path is None:
                return
            on_disk: dict[str, dict[str, Any]] = {}
            if self.path.exists():
                try:
                    data = json.loads(self.path.read_text("utf-8"))
                    if (
                        data.get("executor_version") == executor_version()
                        and data.get("machine") == machine_fingerprint()
                    ):
                        on_disk = dict(data.get("profiles", {}))
                except (OSError, json.JSONDecodeError, AttributeError):
                    on_disk = {}
            merged = {**on_disk, **self._entries}
            self._entries = merged
            self._write(merged)

    def _write(self, profiles: dict[str, dict[str, Any]]) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "format": FORMAT,
            "executor_version": executor_version(),
            "machine": machine_fingerprint(),
            "profiles": profiles,
        }
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, self.path)
