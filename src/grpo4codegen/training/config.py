"""Typed training options: our own dataclasses parsed together with TRL's `GRPOConfig` by `TrlParser`.

Every `GRPOConfig` field is a flag (`--learning_rate`, `--num_generations`, `--output_dir`, ...) and
`--config FILE.yaml` supplies defaults that command-line flags override. Our dataclasses keep the seed
project's flag names (`--meta_data`, `--lora_enable`, `--load_from_pretrained`, ...).

The epoch -> optimizer-step conversion mirrors trl 1.16's sampler and the Trainer's step arithmetic (see
`steps_per_epoch`), because `--eval_epochs`/`--save_epochs` must land on real epoch boundaries.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import UserError
from ..rewards.aggregate import AGGREGATION_MODES as AGGREGATIONS
from ..rewards.aggregate import DIMENSIONS as REWARD_DIMENSIONS
from ..rewards.config import RewardConfig

if TYPE_CHECKING:
    from trl import GRPOConfig, TrlParser

__all__ = ["AGGREGATIONS", "REWARD_DIMENSIONS", "RewardArguments", "RewardConfig"]
#: every linear projection of a Qwen2/Llama-style decoder block
DEFAULT_LORA_TARGETS: tuple[str, ...] = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)
DEFAULT_OUTPUT_DIR = "outputs/grpo4codegen"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


@dataclass
class ModelArguments:
    """Which model to train, how to wrap it, and where to resume from."""

    _argument_group_name = "model"

    model_name_or_path: str = field(
        default="tiny",
        metadata={
            "help": "Hub name or local directory of a causal LM with a chat template; `tiny` builds a small "
            "random Qwen2-style model offline (for CPU demos and tests)."
        },
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] | None = field(
        default=None,
        metadata={
            "aliases": ["--torch_dtype"],
            "help": "dtype the weights are loaded in (model_init_kwargs['dtype']); unset keeps TRL's float32 "
            "master weights. bfloat16 halves memory for a frozen LoRA base. The seed's --torch_dtype.",
        },
    )
    freeze_llm: bool = field(
        default=False,
        metadata={
            "help": "Without LoRA: train only the output head (lm_head), freezing the rest of the model, as the "
            "seed's --freeze_llm did. With --lora_enable it is an error (LoRA already freezes the base)."
        },
    )
    lora_enable: bool = field(default=False, metadata={"help": "Train LoRA adapters instead of all weights."})
    lora_r: int = field(default=64, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=128, metadata={"help": "LoRA scaling alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA branch."})
    lora_target_modules: list[str] = field(
        default_factory=lambda: list(DEFAULT_LORA_TARGETS),
        metadata={"help": "Module names to adapt (space separated, or `all-linear`)."},
    )
    lora_namespan_exclude: str | None = field(
        default=None,
        metadata={
            "help": "The seed's LoRA target selection: adapt every Linear and Embedding module whose name "
            "contains none of these substrings (a Python/JSON list such as \"['score', 'embed_tokens']\", "
            "or a comma list). Given (or --num_lora_modules), it replaces --lora_target_modules."
        },
    )
    num_lora_modules: int | None = field(
        default=None,
        metadata={
            "help": "With the seed's selection, adapt only the last N of those modules (-1: all of them)."
        },
    )
    # flags of the seed's reward-model code: accepted so its train.sh runs, ignored with one warning line
    output_dim: int | None = field(default=None, metadata={"help": "Ignored (seed reward-model head)."})
    reward_token: str | None = field(default=None, metadata={"help": "Ignored (seed reward-model head)."})
    use_special_tokens: bool | None = field(
        default=None, metadata={"help": "Ignored (seed reward-model special token)."}
    )
    special_token_lr: float | None = field(
        default=None, metadata={"help": "Ignored (seed reward-model special token)."}
    )
    save_full_model: bool | None = field(
        default=None,
        metadata={"help": "Ignored: the seed's switch between saving LoRA weights and the whole model."},
    )
    load_from_pretrained: str | None = field(
        default=None,
        metadata={
            "help": "Resume training from this output directory (its checkpoint-N subfolders) or from one "
            "checkpoint folder; restores weights, optimizer, scheduler, RNG and step."
        },
    )
    load_from_pretrained_step: int | None = field(
        default=None,
        metadata={
            "help": "Which checkpoint-N of --load_from_pretrained to resume; unset picks the latest. A step "
            "that does not exist is an error listing the available ones."
        },
    )

    def __post_init__(self) -> None:
        if isinstance(self.lora_target_modules, str):  # a YAML scalar or a comma list
            self.lora_target_modules = [m for m in re.split(r"[,\s]+", self.lora_target_modules) if m]
        if self.lora_r <= 0 or self.lora_alpha <= 0:
            raise UserError("--lora_r and --lora_alpha must be positive")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise UserError("--lora_dropout must be in [0, 1)")
        if self.load_from_pretrained_step is not None and not self.load_from_pretrained:
            raise UserError("--load_from_pretrained_step needs --load_from_pretrained DIR")
        if self.freeze_llm and self.lora_enable:
            raise UserError(
                "--freeze_llm with --lora_enable: LoRA already freezes the base model; drop one of them"
            )
        if self.num_lora_modules is not None and self.num_lora_modules == 0:
            raise UserError("--num_lora_modules must be -1 (all) or a positive count")
        self.lora_namespan_exclude = _exclude_list(self.lora_namespan_exclude)

    @property
    def seed_lora_selection(self) -> bool:
        """Whether the seed's module selection (--lora_namespan_exclude / --num_lora_modules) applies."""
        return self.lora_namespan_exclude is not None or self.num_lora_modules is not None

    def ignored_seed_flags(self) -> list[str]:
        """The seed's reward-model flags that were given (they have no meaning here)."""
        names = ("output_dim", "reward_token", "use_special_tokens", "special_token_lr", "save_full_model")
        return [f"--{n}" for n in names if getattr(self, n) is not None]


def _exclude_list(value: Any) -> Any:
    """--lora_namespan_exclude as a JSON text of a list of substrings (kept as text: a flag's type)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                items = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise UserError(f"--lora_namespan_exclude is not a list: {value!r}") from None
        else:
            items = [t for t in re.split(r"[,\s]+", text) if t]
    else:
        items = value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise UserError(f"--lora_namespan_exclude must be a list of strings, got {value!r}")
    return json.dumps(list(items))


def seed_lora_targets(module_names: Sequence[tuple[str, str]], model: ModelArguments) -> list[str]:
    """The seed's LoRA targets from (module name, kind) pairs in model order, kind "linear",
    "embedding" or "output_head": every such module whose name holds none of the excluded substrings,
    the last --num_lora_modules of them when that is positive. The output head is never adapted: TRL
    computes log-probabilities from its weight directly, so an adapter there would not train (and
    TRL refuses it)."""
    exclude = json.loads(model.lora_namespan_exclude) if model.lora_namespan_exclude else []
    names = [
        n for n, kind in module_names if n and kind != "output_head" and not any(x in n for x in exclude)
    ]
    if model.num_lora_modules is not None and model.num_lora_modules > 0:
        names = names[-model.num_lora_modules :]
    if not names:
        raise UserError("--lora_namespan_exclude/--num_lora_modules leave no module to adapt")
    return names


@dataclass
class DataArguments:
    """Training/eval problems, their selection, and epoch-based eval/save schedules."""

    _argument_group_name = "data"

    meta_data: str = field(
        default="builtin",
        metadata={
            "aliases": ["--dataset"],
            "help": "Training problems: `builtin`, a local .jsonl/.json/.parquet/.arrow file (JSON may be "
            "compressed), a glob of shards, a directory of them (or `save_to_disk` output), or a hub dataset name.",
        },
    )
    meta_data_split: str = field(
        default="train",
        metadata={"help": "Split of --meta_data (a hub dataset, or a directory of split shards)."},
    )
    meta_data_test: str | None = field(
        default=None,
        metadata={"help": "Evaluation problems (same formats as --meta_data); needed for --eval_epochs."},
    )
    meta_data_test_split: str = field(default="test", metadata={"help": "Hub split of --meta_data_test."})
    difficulty: list[str] | None = field(
        default=None, metadata={"help": "Keep only these difficulties (Easy Medium Hard), train and eval."}
    )
    sample: int | None = field(
        default=None, metadata={"help": "Deterministic random sample of this many training problems."}
    )
    sample_test: int | None = field(
        default=None,
        metadata={
            "aliases": ["--eval_sample"],
            "help": "Deterministic random sample of this many eval problems (the greedy eval's test set).",
        },
    )
    sample_seed: int = field(default=0, metadata={"help": "Seed of --sample/--sample_test."})
    curriculum: bool = field(
        default=False,
        metadata={
            "help": "Order training problems easy -> hard and turn off TRL's shuffling (shuffle_dataset=False) "
            "so the order holds; every epoch repeats the same order."
        },
    )
    max_samples: int | None = field(
        default=None,
        metadata={"help": "Use only the first N training problems in file order (the seed's --max_samples)."},
    )
    eval_holdout: float = field(
        default=0.1,
        metadata={
            "help": "When evaluation is asked for (--eval_epochs or --eval_strategy) without --meta_data_test, "
            "hold out this fraction of the training problems (at least one) as the eval set, as the seed "
            "did. 0 makes a missing --meta_data_test an error."
        },
    )
    max_length: int | None = field(
        default=None,
        metadata={
            "help": "Token budget of prompt plus completion (the seed's --max_length): completions are capped "
            "at max_length - max_prompt_length; unset --max_prompt_length becomes max_length - "
            "max_completion_length."
        },
    )
    max_prompt_length: int | None = field(
        default=1024,
        metadata={
            "help": "Drop (not truncate) problems whose chat-templated prompt is longer than this many tokens; "
            "the count is logged. A truncated problem statement would be rewarded against tests it no "
            "longer describes. 0 or unset keeps all."
        },
    )
    eval_epochs: float | None = field(
        default=None,
        metadata={
            "help": "Greedy evaluation (pass@1 and mean test pass rate of one do_sample=False completion per "
            "--meta_data_test problem) every this many epochs, converted to optimizer steps, and at the last "
            "step. TRL's own sampled evaluation stays off unless --eval_strategy asks for it."
        },
    )
    save_epochs: float | None = field(
        default=None,
        metadata={
            "help": "Save a checkpoint every this many epochs (converted to optimizer steps, rounded up to a "
            "whole generation cycle so that resuming continues exactly)."
        },
    )

    def __post_init__(self) -> None:
        if isinstance(self.difficulty, str):
            self.difficulty = [d for d in re.split(r"[,\s]+", self.difficulty) if d]
        if not 0.0 <= self.eval_holdout < 1.0:
            raise UserError("--eval_holdout must be in [0, 1)")
        if self.max_length is not None and self.max_length <= 0:
            raise UserError("--max_length must be positive")
        for name in ("sample", "sample_test", "max_prompt_length", "max_samples"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise UserError(f"--{name} must not be negative")
        if self.max_prompt_length == 0:
            self.max_prompt_length = None
        for name in ("eval_epochs", "save_epochs"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UserError(f"--{name} must be positive")


#: the reward options of `train` are the one reward configuration type, parsed by TrlParser like the rest
RewardArguments = RewardConfig


@dataclass
class TrainArguments:
    """Everything one `grpo4codegen train` run needs, as parsed."""

    model: ModelArguments
    data: DataArguments
    reward: RewardConfig
    grpo: GRPOConfig
    #: warnings found while parsing (logged when training starts, once logging is set up)
    notices: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able snapshot written next to the checkpoints."""
        from dataclasses import asdict

        return {
            "model": asdict(self.model),
            "data": asdict(self.data),
            "reward": asdict(self.reward),
            "grpo": self.grpo.to_dict(),
        }


def make_parser() -> TrlParser:
    """TrlParser over our dataclasses + GRPOConfig, with defaults that suit this project."""
    from trl import GRPOConfig, TrlParser

    parser = TrlParser(
        (ModelArguments, DataArguments, RewardConfig, GRPOConfig),
        prog="grpo4codegen train",
        description="GRPO training of a code LLM with execution-based rewards. Any GRPOConfig field is a "
        "flag; --config FILE.yaml gives defaults that flags override.",
    )
    parser.set_defaults(
        output_dir=DEFAULT_OUTPUT_DIR,
        report_to=["tensorboard"],
        # TRL turns an unset bf16 into True, which fails on machines without bf16 support
        bf16=_bf16_available(),
    )
    return parser


def parse_train_args(argv: Sequence[str]) -> TrainArguments:
    """Parse flags (and `--config FILE.yaml`) into TrainArguments; bad values are UserErrors."""
    argv = list(argv)
    if "--config" in argv:
        index = argv.index("--config")
        if index + 1 >= len(argv):
            raise UserError("--config needs a YAML file")
        path = Path(argv[index + 1])
        if not path.is_file():
            raise UserError(f"--config {path}: no such file")
    argv, notices = resolve_deepspeed_flag(argv)
    argv = _warmup_ratio_flag(argv)
    parser = make_parser()
    try:
        model, data, reward, grpo = parser.parse_args_and_config(argv)
    except UserError:
        raise
    except (ValueError, TypeError) as e:
        hint = ""
        if "bf16" in str(e):
            hint = " (on a machine without a bf16 GPU pass --bf16 false, or --use_cpu true)"
        raise UserError(f"invalid training options: {e}{hint}") from None
    ignored = model.ignored_seed_flags()
    if ignored:
        notices.append(
            f"ignoring {', '.join(ignored)}: they configured the seed's reward-model head (output size, "
            "reward token, special tokens and their learning rate, full-model saving), which GRPO here does "
            "not have; checkpoints hold the LoRA adapters or the whole model per --lora_enable"
        )
    return TrainArguments(model=model, data=data, reward=reward, grpo=grpo, notices=notices)


def _warmup_ratio_flag(argv: list[str]) -> list[str]:
    """The seed's `--warmup_ratio R` (transformers 5 folded it into `--warmup_steps`, where a float
    below 1 is the same ratio of the total steps)."""
    out = list(argv)
    for i, arg in enumerate(out):
        name, _, inline = arg.partition("=")
        if name != "--warmup_ratio":
            continue
        value = inline or (out[i + 1] if i + 1 < len(out) else "")
        try:
            ratio = float(value)
        except ValueError:
            raise UserError(f"--warmup_ratio {value!r} is not a number") from None
        if not 0 <= ratio < 1:
            raise UserError(f"--warmup_ratio {value} must be in [0, 1)")
        if inline:
            out[i] = f"--warmup_steps={ratio}"
        else:
            out[i] = "--warmup_steps"
        break
    return out


#: where the shipped DeepSpeed configs live in a source checkout (the seed kept its own in ds_config/)
CONFIG_DIR = Path(__file__).resolve().parents[3] / "configs"
_SEED_DS_CONFIG = re.compile(r"(?:^|/)(?:deepspeed_)?zero([0-3])\.json$")


def resolve_deepspeed_flag(argv: list[str]) -> tuple[list[str], list[str]]:
    """`--deepspeed FILE` made to work as the seed's train.sh passes it (`ds_config/zero0.json`).

    A path that does not exist from the working directory but names a ZeRO stage (`zeroN.json`) is
    replaced by this project's configs/deepspeed_zeroN.json. Without the deepspeed package, a ZeRO
    stage 0 config (which shards nothing: plain data parallelism) is dropped with a warning, and any
    other stage is an error saying what to install.
    """
    for i, arg in enumerate(argv):
        if arg == "--deepspeed" and i + 1 < len(argv):
            index, value = i + 1, argv[i + 1]
            break
        if arg.startswith("--deepspeed="):
            index, value = i, arg.split("=", 1)[1]
            break
    else:
        return argv, []
    notices: list[str] = []
    path = Path(value).expanduser()
    if not value.lstrip().startswith("{") and not path.is_file():
        match = _SEED_DS_CONFIG.search(value)
        shipped = CONFIG_DIR / f"deepspeed_zero{match.group(1)}.json" if match else None
        if shipped is None or not shipped.is_file():
            raise UserError(
                f"--deepspeed {value}: no such file (this project ships configs/deepspeed_zero0.json, "
                "deepspeed_zero2.json and deepspeed_zero3.json)"
            )
        notices.append(f"--deepspeed {value}: not found here; using {shipped}")
        path = shipped
    try:
        config = json.loads(value) if value.lstrip().startswith("{") else json.loads(path.read_text("utf-8"))
        stage = int(config.get("zero_optimization", {}).get("stage", 0))
    except (OSError, ValueError, TypeError, AttributeError) as e:
        raise UserError(f"--deepspeed {value}: not a readable DeepSpeed JSON config ({e})") from None
    from importlib.util import find_spec

    argv = list(argv)
    if find_spec("deepspeed") is None:
        if stage != 0:
            raise UserError(
                f"--deepspeed {value} (ZeRO stage {stage}) needs the deepspeed package: pip install deepspeed"
            )
        if argv[index].startswith("--deepspeed="):
            del argv[index]
        else:
            del argv[index - 1 : index + 1]
        notices.append(
            f"--deepspeed {value}: ZeRO stage 0 shards nothing and the deepspeed package is not installed, so "
            "training runs without DeepSpeed (plain data parallelism under accelerate/torchrun: the same "
            "optimizer and gradients)"
        )
        return argv, notices
    if argv[index].startswith("--deepspeed="):
        argv[index] = f"--deepspeed={path}"
    else:
        argv[index] = str(path)
    return argv, notices


def _bf16_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def prompts_per_generation_batch(args: GRPOConfig) -> int:
    """Distinct prompts in one (global) generation batch: generation_batch_size / num_generations."""
    return args.generation_batch_size // args.num_generations


def steps_per_epoch(num_prompts: int, args: GRPOConfig) -> int:
    """Optimizer steps the trainer runs for one pass over `num_prompts` prompts.

    trl 1.16's RepeatSampler cuts the (shuffled) prompts into chunks of
    P = generation_batch_size / num_generations distinct prompts and drops a partial last chunk; each
    chunk is yielded num_iterations * steps_per_generation times (every prompt num_generations times
    per yield), and the dataloader hands each process per_device_train_batch_size * steps_per_generation
    rows per micro-step. So each process runs floor(N / P) * num_iterations * steps_per_generation
    micro-steps per epoch, and the Trainer makes ceil(micro_steps / gradient_accumulation_steps)
    optimizer steps of them. generation_batch_size = per_device_train_batch_size * world_size *
    steps_per_generation (steps_per_generation defaults to gradient_accumulation_steps), which is
    where the world size enters.
    """
    per_batch = prompts_per_generation_batch(args)
    chunks = num_prompts // per_batch
    if chunks == 0:
        raise UserError(
            f"{num_prompts} training prompt(s) cannot fill one generation batch of {per_batch} distinct prompts "
            f"(generation_batch_size {args.generation_batch_size} / num_generations {args.num_generations}); "
            "use more problems, or lower per_device_train_batch_size / gradient_accumulation_steps, or raise "
            "num_generations"
        )
    micro_steps = chunks * args.num_iterations * args.steps_per_generation
    return max(1, math.ceil(micro_steps / args.gradient_accumulation_steps))


def generation_cycle_steps(args: GRPOConfig) -> int:
    """Optimizer steps between two generation rounds (the unit a checkpoint should be a multiple of).

    TRL generates one batch every steps_per_generation * num_iterations micro-steps and reuses it
    in between; that buffered batch is not part of a checkpoint. A checkpoint taken mid-cycle resumes
    by generating a fresh batch, which continues training correctly but not identically to an
    uninterrupted run. With the default steps_per_generation = gradient_accumulation_steps this is
    num_iterations.
    """
    micro = args.steps_per_generation * args.num_iterations
    return math.lcm(micro, args.gradient_accumulation_steps) // args.gradient_accumulation_steps


def micro_steps_at(step: int, num_prompts: int, args: GRPOConfig) -> int:
    """Micro-steps (dataloader batches) one process has run after `step` optimizer steps."""
    per_epoch = steps_per_epoch(num_prompts, args)
    chunks = num_prompts // prompts_per_generation_batch(args)
    micro_per_epoch = chunks * args.num_iterations * args.steps_per_generation
    epochs, rest = divmod(step, per_epoch)
    return epochs * micro_per_epoch + min(rest * args.gradient_accumulation_steps, micro_per_epoch)


def at_generation_boundary(step: int, num_prompts: int, args: GRPOConfig) -> bool:
    """True when optimizer step `step` ends a generation cycle, so a checkpoint there resumes exactly."""
    cycle = args.steps_per_generation * args.num_iterations
    return micro_steps_at(step, num_prompts, args) % cycle == 0


def epochs_to_steps(epochs: float, num_prompts: int, args: GRPOConfig) -> int:
    """Optimizer steps in `epochs` epochs, rounded up as the Trainer rounds num_train_epochs (at least 1)."""
    # round() first so 0.1 * 30 = 3.0000000000000004 is 3 steps, not 4
    return max(1, math.ceil(round(epochs * steps_per_epoch(num_prompts, args), 6)))


def available_checkpoints(directory: Path) -> dict[int, Path]:
    """checkpoint-N subfolders of `directory`, by step."""
    found: dict[int, Path] = {}
    if directory.is_dir():
        for child in directory.iterdir():
            match = _CHECKPOINT_RE.match(child.name)
            if match and child.is_dir():
                found[int(match.group(1))] = child
    return dict(sorted(found.items()))


def resolve_resume_checkpoint(directory: str, step: int | None) -> str:
    """The checkpoint folder to resume from: DIR/checkpoint-STEP, the latest one, or DIR itself.

    Never falls back silently: a missing step is an error naming the steps that exist.
    """
    path = Path(directory).expanduser()
    if not path.is_dir():
        raise UserError(f"--load_from_pretrained {path}: no such directory")
    checkpoints = available_checkpoints(path)
    if step is not None:
        if step in checkpoints:
            return str(checkpoints[step])
        steps = ", ".join(str(s) for s in checkpoints) or "none"
        raise UserError(
            f"--load_from_pretrained_step {step}: {path} has no checkpoint-{step} (available steps: {steps})"
        )
    if checkpoints:
        return str(checkpoints[max(checkpoints)])
    if (path / "trainer_state.json").is_file():  # DIR is itself one checkpoint folder
        return str(path)
    raise UserError(f"--load_from_pretrained {path}: no checkpoint-N folders and no trainer_state.json in it")
