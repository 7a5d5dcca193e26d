"""Registers `grpo4codegen train` and `sft`; all heavy imports (torch, trl) happen only when it runs."""

from __future__ import annotations

import argparse

_EPILOG = """\
Every flag is handed to TRL's TrlParser: our options (--model_name_or_path, --meta_data/--dataset,
--meta_data_test, --reward_dimensions, --lora_enable, --load_from_pretrained, --eval_epochs, ...) plus
every GRPOConfig field (--output_dir, --learning_rate, --num_generations, --bf16, ...).
`--config FILE.yaml` supplies defaults that flags override. `grpo4codegen train --help` lists them all.

CPU demo:      grpo4codegen train --config configs/cpu-smoke.yaml
7B recipe:     grpo4codegen train --config configs/qwen2.5-coder-7b-lora.yaml
Resume:        ... --load_from_pretrained OUTPUT_DIR [--load_from_pretrained_step N]
Greedy eval:   ... --meta_data_test FILE [--eval_sample N] --eval_epochs 0.5
Multi-process: accelerate launch --multi_gpu --num_processes N -m grpo4codegen.cli train ...
               (on CPU add --use_cpu true --ddp_backend gloo; see docs/training.md)
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` subcommand; it forwards its whole argv (help included) to the TRL parser."""
    p = subparsers.add_parser(
        "train",
        help="GRPO-train a code LLM with execution rewards (TRL GRPOTrainer)",
        description="GRPO-train a code LLM with execution-based rewards.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,  # --help goes to TrlParser, which knows every flag
    )
    p.set_defaults(handler=_train, accepts_extra_args=True)
    s = subparsers.add_parser(
        "sft",
        help="supervised fine-tuning on reference solutions or a completions file (TRL SFTTrainer)",
        description="Supervised fine-tuning with TRL's SFTTrainer: GRPO's chat prompts, loss on the answer "
        "only, LoRA optional (merged into the saved model), resume, TensorBoard.",
        epilog="Every flag goes to TRL's TrlParser: --model_name_or_path, --meta_data/--dataset, --completions, "
        "--task_ids, --lora_enable, --load_from_pretrained, plus every SFTConfig field (--output_dir, "
        "--num_train_epochs, --learning_rate, ...). `grpo4codegen sft --help` lists them all.",
        add_help=False,
    )
    s.set_defaults(handler=_sft, accepts_extra_args=True)


def _sft(args: argparse.Namespace, extra: list[str]) -> int:
    from .sft import main

    return main(extra)


def _train(args: argparse.Namespace, extra: list[str]) -> int:
    from .train import main

    return main(extra)
