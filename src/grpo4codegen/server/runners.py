"""Where completions run: the one factory that turns a reward configuration into a runner.

A runner is anything with `run_many(submissions) -> results in order`: the embedded executor pool,
the HTTP client for `grpo4codegen serve` instances, or another backend. Every caller (training,
`rewards`, `score`, `serve`) gets its runner here, so a backend is added in one place.
"""

from __future__ import annotations

from typing import Any


def make_runner(config: Any) -> tuple[Any, bool]:
    """(runner, owned): `owned` is True when the caller must close() the runner when done.

    `config` is the reward configuration; the fields read here are `execute_code_url` (a comma list of
    server URLs; unset runs completions in the embedded sandbox) and `require_isolation`.
    """
    url = getattr(config, "execute_code_url", None)
    if url:
        from .client import RemoteExecutor

        return RemoteExecutor(url), True
    from ..sandbox.executor import default_executor

    return default_executor(require_isolation=bool(getattr(config, "require_isolation", False))), False
