"""`grpo4codegen` console script: one subcommand per stage of the data flow.

Each subcommand lives in its stage's package (`<stage>/commands.py` exposing `register(subparsers)`);
modules are imported lazily so that core commands never import torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import InfrastructureError, UserError

#: subcommand-registering modules, in the order of the data flow
_COMMAND_MODULES = (
    "grpo4codegen.data.commands",
    "grpo4codegen.sandbox.commands",
    "grpo4codegen.rewards.commands",
    "grpo4codegen.server.commands",
    "grpo4codegen.training.commands",
    "grpo4codegen.evaluation.commands",
    "grpo4codegen.demo",
)


def subcommand_group(sub: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
    """The sub-subcommands of `name` (e.g. `bench`), created on first use so several stages can add to it."""
    if name not in sub.choices:
        parser = sub.add_parser(name, help=help)
        parser.set_defaults(
            _group=parser.add_subparsers(dest=f"{name}_command", metavar="WHAT", required=True)
        )
    return sub.choices[name].get_default("_group")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grpo4codegen",
        description="GRPO for code generation with execution-based rewards.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name and e.name.startswith("grpo4codegen"):
                continue  # stage not built yet
            raise
        module.register(sub)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_extra_args", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        result = (
            args.handler(args, extra) if getattr(args, "accepts_extra_args", False) else args.handler(args)
        )
    except UserError as e:
        print(f"grpo4codegen: error: {e}", file=sys.stderr)
        return 2
    except InfrastructureError as e:
        print(f"grpo4codegen: infrastructure failure: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("grpo4codegen: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
