"""The one reward configuration type, `RewardConfig`, shared by `train`, `rewards`, `score` and `serve`.

`RewardConfig` is a plain dataclass with typed fields and help text, TRL style: `grpo4codegen train`
parses it with `TrlParser` next to `GRPOConfig` (flags and `--config FILE.yaml`); the argparse commands
(`rewards`, `score`, `serve`) add the same fields with `add_reward_arguments` and read them back with
`reward_config_from_args`, which also takes `--config FILE.yaml`. Every option is settable from each
command. Dimension names, aggregation names and weight validation come from `aggregate` (one owner each).

This module imports neither torch nor transformers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from .aggregate import AGGREGATION_MODES, DIMENSIONS, parse_fixed_weights

#: where completions run (see `grpo4codegen.server.runners.make_runner`)
EXECUTE_BACKENDS: tuple[str, ...] = ("auto", "embedded", "node", "http", "ray")


def parse_dimensions(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Dimension names from the seed's space-separated form, a comma list, a YAML list, or a mix.

    `["correctness", "efficiency"]`, `"correctness,efficiency"`, `"correctness efficiency"` and
    `["correctness,efficiency"]` all give ("correctness", "efficiency"), in canonical order. An empty
    value (`""`, `[]`, `none`) enables nothing (a constant reward that trains nothing, with a warning).
    """
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    names: list[str] = []
    for item in items:
        names += [n.lower() for n in re.split(r"[,\s]+", str(item)) if n]
    names = [n for n in names if n != "none"]
    unknown = [n for n in names if n not in DIMENSIONS]
    if unknown:
        raise UserError(
            f"--reward_dimensions: unknown dimension(s) {unknown}; choose from {' '.join(DIMENSIONS)}"
        )
    return tuple(d for d in DIMENSIONS if d in names)


@dataclass
class RewardConfig:
    """What the rewards are, how they are combined, and where the code runs."""

    _argument_group_name = "reward"

    reward_dimensions: list[str] = field(
        default_factory=lambda: list(DIMENSIONS),
        metadata={
            "help": "Reward dimensions to compute, space separated (the seed's form) or a comma list: "
            f"{' '.join(DIMENSIONS)}. Empty: a constant reward (trains nothing)."
        },
    )
    fixed_weights: str | None = field(
        default=None,
        metadata={
            "help": 'Per-dimension weights as a JSON object, e.g. \'{"correctness": 0.7, "efficiency": 0.3}\' '
            "(a YAML mapping in --config); renormalised over the enabled dimensions. Default "
            '{"correctness": 0.5, "efficiency": 0.2, "comment": 0.2, "maintainability": 0.1}.'
        },
    )
    aggregation: str = field(
        default="weighted_sum",
        metadata={
            "help": "How dimensions are combined: weighted_sum, or normalize_then_sum (per-group z-scores "
            "first; TRL's multi_objective_aggregation).",
            "choices": list(AGGREGATION_MODES),
        },
    )
    use_weight_net: bool = field(
        default=False,
        metadata={
            "help": "Discount each quality dimension's weight by its measured reliability (see "
            "rewards/weight_net.py); correctness keeps its weight."
        },
    )
    weight_net_decay: float = field(
        default=0.9,
        metadata={
            "help": "Weight net: exponential decay of its variance estimates per step (0 = this batch only)."
        },
    )
    weight_net_prior_pairs: float = field(
        default=8.0,
        metadata={
            "help": "Weight net: pseudo-count of noise-free repeat pairs a dimension starts with, so a few "
            "repeats cannot swing its weight."
        },
    )
    execute_code_url: str | None = field(
        default=None,
        metadata={"help": "URL(s) of `grpo4codegen serve` instances, comma separated (backend http)."},
    )
    execute_backend: str = field(
        default="auto",
        metadata={
            "help": "Where completions run: auto (http when --execute_code_url is set, else embedded), "
            "embedded, node (one pool per node), http, ray.",
            "choices": list(EXECUTE_BACKENDS),
        },
    )
    ray_address: str | None = field(
        default=None, metadata={"help": "Ray cluster address for --execute_backend ray (unset: local)."}
    )
    sandbox_workers: int | None = field(
        default=None,
        metadata={"help": "Sandbox worker processes of the embedded pool (unset: sized to the cores)."},
    )
    require_isolation: bool = field(
        default=False,
        metadata={"help": "Refuse to run code when a sandbox isolation layer is not active."},
    )
    profiles_path: str | None = field(
        default=None,
        metadata={
            "help": "Precomputed reference profiles (`grpo4codegen profile-references`); profiles missing "
            "from it are computed and added."
        },
    )
    time_limit_s: float = field(
        default=1.0,
        metadata={
            "help": "Seconds per test, raised to 5x the reference's slowest test where needed.",
            "aliases": ["--time-limit"],
        },
    )
    total_time_limit_s: float = field(
        default=20.0,
        metadata={"help": "Seconds per completion (all tests).", "aliases": ["--total-time-limit"]},
    )
    memory_limit_mb: int = field(
        default=1024, metadata={"help": "Memory limit per completion in MiB.", "aliases": ["--memory-limit"]}
    )
    trace_claims: bool = field(
        default=False,
        metadata={
            "help": "Also give each completion a traced run (tracemalloc peak, step count per test): detail "
            "for inspection (`claimed_*`), never scored, at the cost of a second run of the heaviest tests."
        },
    )
    reference_repeats: int = field(
        default=3, metadata={"help": "Timed runs of each reference solution; its figures are their median."}
    )
    efficiency_retimes: int = field(
        default=2,
        metadata={
            "help": "Extra timed runs (run together, after the batch) for a completion that passes every "
            "test but looks slower than the reference beyond the noise band; it keeps its lowest "
            "figures (0: one run only)."
        },
    )
    execution_cache_size: int = field(
        default=20_000, metadata={"help": "Distinct (problem, code) execution results kept (LRU)."}
    )
    judge_base_url: str | None = field(
        default=None, metadata={"help": "OpenAI-compatible base URL of the comment judge (unset: no judge)."}
    )
    judge_model: str = field(default="judge", metadata={"help": "Model name served at --judge_base_url."})
    judge_weight: float = field(
        default=0.5,
        metadata={"help": "How far the judge may lower the static comment score (it never raises it), 0..1."},
    )
    judge_timeout_s: float = field(default=30.0, metadata={"help": "Seconds per judge request."})

    def __post_init__(self) -> None:
        self.reward_dimensions = list(parse_dimensions(self.reward_dimensions))
        if isinstance(self.fixed_weights, Mapping):  # a YAML mapping, or a dict from Python
            self.fixed_weights = json.dumps(dict(self.fixed_weights))
        if self.aggregation not in AGGREGATION_MODES:
            raise UserError(f"--aggregation {self.aggregation!r}: choose from {' '.join(AGGREGATION_MODES)}")
        if self.execute_backend not in EXECUTE_BACKENDS:
            raise UserError(
                f"--execute_backend {self.execute_backend!r}: choose from {' '.join(EXECUTE_BACKENDS)}"
            )
        if self.execute_backend == "http" and not self.execute_code_url:
            raise UserError("--execute_backend http needs --execute_code_url")
        positive = (
            "time_limit_s",
            "total_time_limit_s",
            "memory_limit_mb",
            "reference_repeats",
            "judge_timeout_s",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise UserError(f"--{name} must be positive, got {getattr(self, name)!r}")
        if self.efficiency_retimes < 0:
            raise UserError(f"--efficiency_retimes must be 0 or more, got {self.efficiency_retimes!r}")
        if self.execution_cache_size < 1 or (self.sandbox_workers is not None and self.sandbox_workers < 1):
            raise UserError("--execution_cache_size and --sandbox_workers must be at least 1")
        if not 0.0 <= self.judge_weight <= 1.0:
            raise UserError(f"--judge_weight must be in [0, 1], got {self.judge_weight}")
        if not 0.0 <= self.weight_net_decay < 1.0 or self.weight_net_prior_pairs < 0:
            raise UserError("--weight_net_decay must be in [0, 1) and --weight_net_prior_pairs >= 0")
        self.weights()  # validate the weights now, not at the first batch

    @property
    def dimensions(self) -> list[str]:
        """The enabled dimensions, canonical order."""
        return list(self.reward_dimensions)

    def weights(self) -> dict[str, float]:
        """The fixed weights over the enabled dimensions, summing to 1 ({} when none is enabled)."""
        try:
            return parse_fixed_weights(self.fixed_weights, self.reward_dimensions)
        except ValueError as e:
            raise UserError(f"--fixed_weights: {e}") from None

    @property
    def judge(self) -> Any:
        """The judge's JudgeConfig, or None without --judge_base_url."""
        if not self.judge_base_url:
            return None
        from .judge import JudgeConfig

        return JudgeConfig(
            base_url=self.judge_base_url, model=self.judge_model, timeout_s=self.judge_timeout_s
        )

    def weight_net_options(self) -> dict[str, float]:
        return {"decay": self.weight_net_decay, "prior_pairs": self.weight_net_prior_pairs}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# -- argparse commands ------------------------------------------------------------------------------


def _argparse_type(annotation: Any) -> tuple[Any, bool]:
    """(element type, is_list) of a field annotation such as `int | None` or `list[str]`."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _argparse_type(args[0])
    if origin is list:
        return typing.get_args(annotation)[0], True
    return annotation, False


def _bool(text: str) -> bool:
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_reward_arguments(parser: argparse.ArgumentParser, config_flag: bool = True) -> None:
    """Every RewardConfig field as `--name` (and `--name-with-dashes`), plus `--config FILE.yaml`.

    Flags not given stay out of the namespace, so `reward_config_from_args` can tell a given flag
    (which wins) from a default (which a YAML file may override).
    """
    group = parser.add_argument_group("reward options (RewardConfig)")
    hints = typing.get_type_hints(RewardConfig)
    for f in dataclasses.fields(RewardConfig):
        kind, is_list = _argparse_type(hints[f.name])
        names = [f"--{f.name}"]
        if "_" in f.name:
            names.append(f"--{f.name.replace('_', '-')}")
        names += [a for a in f.metadata.get("aliases", []) if a not in names]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        kwargs: dict[str, Any] = {
            "dest": f.name,
            "default": argparse.SUPPRESS,
            "help": f"{f.metadata.get('help', '')} (default: {default})",
        }
        if "choices" in f.metadata:
            kwargs["choices"] = f.metadata["choices"]
        if kind is bool:
            kwargs.update(type=_bool, nargs="?", const=True)
        elif is_list:
            kwargs.update(type=str, nargs="*")
        else:
            kwargs["type"] = kind
        group.add_argument(*names, **kwargs)
    if config_flag:
        group.add_argument(
            "--config", default=None, help="YAML file of RewardConfig options; flags override it"
        )


def _yaml_options(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    import yaml

    try:
        loaded = yaml.safe_load(Path(path).read_text("utf-8"))
    except OSError as e:
        raise UserError(f"--config {path}: cannot read ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise UserError(f"--config {path}: not valid YAML ({e})") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise UserError(f"--config {path}: expected a mapping of option: value")
    return loaded


def reward_config_from_args(args: argparse.Namespace, **overrides: Any) -> RewardConfig:
    """RewardConfig from `--config` YAML, then the flags given on the command line, then `overrides`."""
    names = {f.name for f in dataclasses.fields(RewardConfig)}
    yaml_options = _yaml_options(getattr(args, "config", None))
    unknown = sorted(k for k in yaml_options if k not in names)
    if unknown:
        raise UserError(f"--config {args.config}: unknown reward option(s) {unknown}; known: {sorted(names)}")
    given = {k: v for k, v in vars(args).items() if k in names}
    try:
        return RewardConfig(**{**yaml_options, **given, **overrides})
    except TypeError as e:
        raise UserError(f"reward options: {e}") from None


def given_reward_options(args: argparse.Namespace) -> dict[str, Any]:
    """Only the RewardConfig options set by a flag or `--config` (a command's own defaults stay its own)."""
    names = {f.name for f in dataclasses.fields(RewardConfig)}
    options = {k: v for k, v in _yaml_options(getattr(args, "config", None)).items() if k in names}
    options.update({k: v for k, v in vars(args).items() if k in names})
    return options
