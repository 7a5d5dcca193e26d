"""`grpo4codegen sft`: supervised fine-tuning with TRL's SFTTrainer on chat prompts and code answers.

The training rows are TRL's conversational prompt-completion format: the prompt is exactly the chat
GRPO and `generate` use (`data.prompts.chat_messages`), the completion one assistant message holding
a solution. TRL masks the prompt tokens (`completion_only_loss`), so only the answer is learned.

Where the answers come from:

* the dataset's reference solutions (default), fenced as a model would answer, as the seed project
  does with the train split of LeetCodeDataset; or
* `--completions FILE.jsonl`: any rows with `task_id` and `completion` (a `generate` output, a
  hand-made mix of variants, a distillation set). A task id that is not in `--meta_data` is an error.
  Repeat a row to weight it.

Options follow `train`: our dataclasses (`ModelArguments` with the LoRA flags and resume flags, and
`SFTDataArguments`) plus every `SFTConfig` field, through TrlParser, with `--config FILE.yaml` giving
defaults. The output directory is a complete model (LoRA adapters merged into the base unless
`--merge_lora false`), so it is a valid `--model_name_or_path` for `train` and `--model` for
`generate`; checkpoints hold what the Trainer saves (adapters only with LoRA) and resume exactly with
`--load_from_pretrained DIR [--load_from_pretrained_step N]`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data import Problem, chat_messages, load_problems
from ..data.selection import select_problems
from ..errors import UserError
from .config import ModelArguments, _bf16_available, resolve_resume_checkpoint
from .tiny import resolve_model_path

if TYPE_CHECKING:
    from datasets import Dataset
    from trl import SFTConfig, TrlParser

logger = logging.getLogger(__name__)

DEFAULT_SFT_OUTPUT_DIR = "outputs/sft"
ARGS_FILE = "grpo4codegen_sft_args.json"


@dataclass
class SFTDataArguments:
    """Which problems (their prompts) and which answers to learn."""

    _argument_group_name = "sft data"

    meta_data: str = field(
        default="builtin",
        metadata={
            "aliases": ["--dataset"],
            "help": "Problems whose chat prompts are trained on: `builtin`, a local .jsonl/.json/.parquet/.arrow "
            "file, a glob of shards, a directory of them, or a hub dataset name.",
        },
    )
    meta_data_split: str = field(default="train", metadata={"help": "Hub split of --meta_data."})
    completions: str | None = field(
        default=None,
        metadata={
            "help": "JSONL file of answers to learn, one row per example with `task_id` and `completion` (text "
            "or a list of chat messages). Unset: the dataset's reference solutions, fenced as ```python."
        },
    )
    difficulty: list[str] | None = field(
        default=None, metadata={"help": "Keep only problems of these difficulties (Easy Medium Hard)."}
    )
    task_ids: list[str] | None = field(
        default=None, metadata={"help": "Keep only these task ids (space or comma separated)."}
    )
    sample: int | None = field(default=None, metadata={"help": "Deterministic sample of this many problems."})
    sample_seed: int = field(default=0, metadata={"help": "Seed of --sample."})
    merge_lora: bool = field(
        default=True,
        metadata={
            "help": "With --lora_enable, merge the adapters into the base weights when saving the final model, "
            "so the output directory is a plain model (`train --model_name_or_path`, `generate --model`). "
            "False saves the adapter only (`generate` applies it to its recorded base)."
        },
    )

    def __post_init__(self) -> None:
        for name in ("difficulty", "task_ids"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, [v for v in re.split(r"[,\s]+", value) if v])
            elif value:  # a list whose items may themselves be comma lists
                setattr(self, name, [v for item in value for v in re.split(r"[,\s]+", str(item)) if v])
        if self.sample is not None and self.sample < 0:
            raise UserError("--sample must not be negative")
        if self.completions is not None and not Path(self.completions).is_file():
            raise UserError(f"--completions {self.completions}: no such file")


@dataclass
class SFTArguments:
    """Everything one `grpo4codegen sft` run needs, as parsed."""

    model: ModelArguments
    data: SFTDataArguments
    sft: SFTConfig

    def to_dict(self) -> dict[str, Any]:
        return {"model": asdict(self.model), "data": asdict(self.data), "sft": self.sft.to_dict()}


def make_sft_parser() -> TrlParser:
    """TrlParser over ModelArguments, SFTDataArguments and SFTConfig."""
    from trl import SFTConfig, TrlParser

    parser = TrlParser(
        (ModelArguments, SFTDataArguments, SFTConfig),
        prog="grpo4codegen sft",
        description="Supervised fine-tuning (TRL SFTTrainer) on chat prompts and code answers, loss on the "
        "answer only. Any SFTConfig field is a flag; --config FILE.yaml gives defaults that flags override.",
    )
    parser.set_defaults(
        output_dir=DEFAULT_SFT_OUTPUT_DIR,
        report_to=["tensorboard"],
        bf16=_bf16_available(),
        max_length=2048,  # TRL's 1024 would cut the answer of a long LeetCode prompt
        completion_only_loss=True,
    )
    return parser


def parse_sft_args(argv: Sequence[str]) -> SFTArguments:
    """Parse flags (and `--config FILE.yaml`) into SFTArguments; bad values are UserErrors."""
    argv = list(argv)
    if "--config" in argv:
        index = argv.index("--config")
        if index + 1 >= len(argv) or not Path(argv[index + 1]).is_file():
            raise UserError("--config needs an existing YAML file")
    try:
        model, data, sft = make_sft_parser().parse_args_and_config(argv)
    except UserError:
        raise
    except (ValueError, TypeError) as e:
        raise UserError(f"invalid sft options: {e}") from None
    if sft.completion_only_loss is False:
        logger.warning("--completion_only_loss false: the prompt tokens are trained on as well")
    return SFTArguments(model=model, data=data, sft=sft)


def fence(code: str) -> str:
    """A solution as a model answers it: one ```python block."""
    return f"```python\n{code.rstrip()}\n```"


def read_completions(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a completions file (the one reader `rewards` uses); each needs a non-empty `completion`."""
    from ..rewards.commands import read_completions as read_rows
    from ..rewards.extract import completion_text

    rows: list[dict[str, Any]] = []
    for number, row in enumerate(read_rows(str(path)), start=1):
        text = completion_text(row["completion"])
        if not text or not text.strip():
            raise UserError(f"{path}: row {number} has an empty completion")
        rows.append({"task_id": str(row["task_id"]), "completion": text})
    return rows


def sft_examples(problems: Sequence[Problem], completions: Sequence[dict[str, Any]] | None) -> list[dict]:
    """(task_id, answer text) pairs: the given completions, else every problem's reference solution."""
    by_task = {p.task_id: p for p in problems}
    if completions is None:
        examples = [
            {"task_id": p.task_id, "completion": fence(p.reference_solution)}
            for p in problems
            if p.reference_solution.strip()
        ]
        if not examples:
            raise UserError("none of the selected problems has a reference solution: pass --completions")
        return examples
    unknown = sorted({r["task_id"] for r in completions} - set(by_task))
    if unknown:
        raise UserError(
            f"{len(unknown)} task id(s) of the completions are not among the selected problems "
            f"(e.g. {unknown[:3]}): pass the --meta_data they come from"
        )
    return list(completions)


def build_sft_dataset(problems: Sequence[Problem], examples: Sequence[dict[str, Any]]) -> Dataset:
    """TRL's conversational prompt-completion rows: the GRPO chat prompt and one assistant answer."""
    from datasets import Dataset

    by_task = {p.task_id: p for p in problems}
    return Dataset.from_list(
        [
            {
                "prompt": chat_messages(by_task[e["task_id"]]),
                "completion": [{"role": "assistant", "content": e["completion"]}],
            }
            for e in examples
        ]
    )


def load_sft_problems(data: SFTDataArguments) -> list[Problem]:
    problems = load_problems(data.meta_data, split=data.meta_data_split)
    if data.task_ids:
        wanted = set(data.task_ids)
        missing = sorted(wanted - {p.task_id for p in problems})
        if missing:
            raise UserError(f"--task_ids not in {data.meta_data}: {', '.join(missing[:5])}")
        problems = [p for p in problems if p.task_id in wanted]
    problems = select_problems(
        problems, difficulties=data.difficulty, sample=data.sample, seed=data.sample_seed
    )
    if not problems:
        raise UserError(f"no problems left in {data.meta_data} after filtering")
    return problems


def run_sft(args: SFTArguments) -> Any:
    """Train, then save a loadable model (LoRA merged unless --merge_lora false) and its tokenizer."""
    from trl import SFTTrainer

    from .train import configure_model_init, load_tokenizer, lora_config

    resume_from = (
        resolve_resume_checkpoint(args.model.load_from_pretrained, args.model.load_from_pretrained_step)
        if args.model.load_from_pretrained
        else None
    )
    model_path = resolve_model_path(args.model.model_name_or_path)
    tokenizer = load_tokenizer(model_path)
    if not getattr(tokenizer, "chat_template", None):
        raise UserError(f"{model_path}: the tokenizer has no chat template (SFT trains on chat prompts)")
    problems = load_sft_problems(args.data)
    completions = read_completions(args.data.completions) if args.data.completions else None
    examples = sft_examples(problems, completions)
    dataset = build_sft_dataset(problems, examples)
    configure_model_init(args.sft, args.model)
    _write_args(args)
    logger.info(
        "SFT on %d examples over %d problems%s",
        len(dataset),
        len({e["task_id"] for e in examples}),
        f", resuming from {resume_from}" if resume_from else "",
    )
    trainer = SFTTrainer(
        model=model_path,
        args=args.sft,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora_config(args.model) if args.model.lora_enable else None,
    )
    result = trainer.train(resume_from_checkpoint=resume_from)
    save_final_model(trainer, tokenizer, args.sft.output_dir, merge=args.data.merge_lora)
    return result


def save_final_model(trainer: Any, tokenizer: Any, output_dir: str, merge: bool = True) -> None:
    """The trained model where `from_pretrained` finds it: merged weights, or the adapter alone."""
    if not trainer.args.should_save:
        return
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload") and merge:
        import copy

        merged = copy.deepcopy(model).merge_and_unload()  # the trainer's model stays a PeftModel
        merged.save_pretrained(output_dir)
        for stale in ("adapter_config.json", "adapter_model.safetensors"):
            (Path(output_dir) / stale).unlink(missing_ok=True)
    else:
        model.save_pretrained(output_dir)
    if getattr(model, "generation_config", None) is not None and not merge:
        model.generation_config.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    logger.info("saved the final model (%s) to %s", "merged" if merge else "as trained", output_dir)


def _write_args(args: SFTArguments) -> None:
    if not args.sft.should_save:
        return
    out = Path(args.sft.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / ARGS_FILE).write_text(json.dumps(args.to_dict(), indent=2, default=str) + "\n", "utf-8")


def main(argv: Sequence[str]) -> int:
    """Entry point of the `sft` subcommand."""
    from .train import _setup_logging

    args = parse_sft_args(argv)
    _setup_logging(args.sft)
    run_sft(args)
    return 0
