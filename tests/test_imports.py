"""The core (data, sandbox, rewards, server, scoring) must import without torch."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "grpo4codegen.cli",
    "grpo4codegen.data",
    "grpo4codegen.data.commands",
    "grpo4codegen.sandbox.executor",
    "grpo4codegen.sandbox.commands",
    "grpo4codegen.rewards.scorer",
    "grpo4codegen.rewards.trl_rewards",
    "grpo4codegen.rewards.commands",
    "grpo4codegen.rewards.aggregate",
]
OPTIONAL = [
    "grpo4codegen.server.app",
    "grpo4codegen.server.client",
    "grpo4codegen.evaluation.score",
    "grpo4codegen.evaluation.report",
]


def test_core_imports_without_torch():
    code = (
        "import importlib, importlib.util, sys\n"
        f"for name in {CORE!r}:\n    importlib.import_module(name)\n"
        f"for name in {OPTIONAL!r}:\n"
        "    if importlib.util.find_spec(name) is not None:\n        importlib.import_module(name)\n"
        "from grpo4codegen.cli import build_parser\nbuild_parser()\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'trl', 'peft') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
