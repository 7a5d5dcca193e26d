"""`grpo4codegen generate | score | report`: the evaluation pipeline (torch only for `generate --backend hf`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..data.commands import add_dataset_args, problems_from_args
from ..errors import UserError


def _seed_inference_args(args: argparse.Namespace) -> None:
    """The seed's inference.py flags onto ours: --model_name_or_path with --checkpoint_path/--checkpoint_step
    (resolved like --load_from_pretrained: DIR/checkpoint-N, the latest one, or DIR itself)."""
    from ..training.config import resolve_resume_checkpoint

    if args.model_name_or_path and args.model and args.model_name_or_path != args.model:
        raise UserError("--model and --model_name_or_path name different models: give one")
    if args.checkpoint_step is not None and not args.checkpoint_path:
        raise UserError("--checkpoint_step needs --checkpoint_path DIR")
    base = args.model_name_or_path or args.model
    if args.checkpoint_path:
        directory = Path(args.checkpoint_path).expanduser()
        try:
            checkpoint = resolve_resume_checkpoint(str(directory), args.checkpoint_step)
        except UserError as e:
            saved = any((directory / f).is_file() for f in ("adapter_config.json", "config.json"))
            if args.checkpoint_step is not None or not saved:
                raise UserError(
                    str(e)
                    .replace("--load_from_pretrained_step", "--checkpoint_step")
                    .replace("--load_from_pretrained", "--checkpoint_path")
                ) from None
            checkpoint = str(directory)  # a final model saved at the top of the output directory
        args.model = checkpoint
        if base and not args.base_model:
            args.base_model = base  # the base of a LoRA checkpoint, as the seed loaded it
        if not args.model_name:
            args.model_name = checkpoint
    elif base:
        args.model = base
    if args.device_ids:
        first = args.device_ids.split(",")[0].strip()
        args.device = f"cuda:{first}" if first else args.device


def _generate(args: argparse.Namespace) -> int:
    from .backends import DatasetBackend, make_backend
    from .generate import GenerationSettings, run_generation

    _seed_inference_args(args)
    settings = GenerationSettings(
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed if args.generation_seed is None else args.generation_seed,
    )
    problems = problems_from_args(args)
    backend = make_backend(args)
    if isinstance(backend, DatasetBackend):
        answered = backend.answered(problems)
        if len(answered) < len(problems):
            print(
                f"skipping {len(problems) - len(answered)} problems without a `{args.field}`", file=sys.stderr
            )
        problems = answered
    stats = run_generation(
        backend,
        problems,
        args.n,
        settings,
        args.output,
        dataset=args.dataset,
        progress=not args.no_progress,
        extra_fields=seed_fields_of(args.dataset),
    )
    total = stats.existing + stats.written
    print(
        f"{args.output}: {total} rows ({stats.existing} already there, {stats.written} new)", file=sys.stderr
    )
    return 0


def _score(args: argparse.Namespace) -> int:
    from ..rewards.commands import reward_config_from_args
    from .records import write_text_atomic
    from .score import read_generations, score_file
    from .summary import summarise
    from .tables import print_summaries

    config = reward_config_from_args(args)
    if config.use_weight_net:
        raise UserError("score uses fixed weights; --use_weight_net is for training")
    generations = read_generations(args.generations)
    problems = _problems_for(args, generations)
    known = {p.task_id for p in problems}
    unknown = sorted({g["task_id"] for g in generations} - known)
    if unknown and not _selection_given(args):
        raise UserError(
            f"{len(unknown)} task ids are not in {args.dataset} (e.g. {unknown[:3]}): pass the --dataset they came from"
        )
    incomplete = {p.task_id for p in problems if p.incomplete}
    if incomplete:  # a score from part of a problem's tests can pass a wrong answer: none is given
        skipped = sum(g["task_id"] in incomplete for g in generations)
        print(
            f"NOT SCORED: {skipped} generations of {len(incomplete)} problems whose tests could not all be "
            f"parsed (e.g. {sorted(incomplete)[:3]}); `grpo4codegen data stats` lists why",
            file=sys.stderr,
        )
        problems = [p for p in problems if p.task_id not in incomplete]
    generations = [g for g in generations if g["task_id"] in known - incomplete]
    output = Path(args.output or _derived(args.generations, ".scored.jsonl"))
    rows = score_file(
        generations,
        problems,
        config,
        output,
        rescore=args.rescore,
        chunk_size=args.chunk_size,
        progress=not args.no_progress,
    )
    summary = summarise(rows)
    summary_path = Path(args.summary or _derived(str(output), ".summary.json"))
    write_text_atomic(summary_path, json.dumps(summary, indent=2) + "\n")
    if args.json:
        print(json.dumps(summary))
    else:
        print_summaries(
            summary["models"],
            f"{output} ({summary['common_solved_problems']} problems solved by every model)",
        )
        print(f"scored rows: {output}\nsummary: {summary_path}")
    return 0


def _problems_for(args: argparse.Namespace, generations: list[dict]) -> list:
    """The --dataset given, else the one the generations were made from."""
    if args.dataset is None:
        recorded = {g.get("dataset") for g in generations} - {None}
        if len(recorded) != 1:
            raise UserError("the generations do not name one dataset: pass --dataset")
        args.dataset = recorded.pop()
    return problems_from_args(args, keep_incomplete=True)  # (the caller leaves them unscored, saying so)


def _selection_given(args: argparse.Namespace) -> bool:
    return any(
        getattr(args, k, None) for k in ("difficulty", "tags", "date_from", "date_to", "task_ids", "sample")
    )


def _derived(path: str, suffix: str) -> str:
    """`run.jsonl` -> `run<suffix>`; `run.scored.jsonl` -> `run<suffix>`."""
    name = Path(path).name
    for ending in (".scored.jsonl", ".jsonl"):
        if name.endswith(ending):
            return str(Path(path).with_name(name[: -len(ending)] + suffix))
    return path + suffix


def _report(args: argparse.Namespace) -> int:
    from .report import write_report

    paths = write_report(args.scored, args.output_dir, title=args.title, progress=not args.no_progress)
    for p in paths:
        print(p)
    return 0


def seed_fields_of(dataset: str | None) -> Any:
    """For a file written by the seed's notebooks: a function giving each problem's own row fields
    (prompt, preCodeSegment, postCodeSegment, unittests, question_id, ...), so that the output rows
    are what the seed's score.py reads. None for any other dataset."""
    from ..data.loader import BUILTIN, read_rows
    from ..data.seed import is_seed_row

    if not dataset or dataset == BUILTIN or not Path(dataset).expanduser().is_file():
        return None
    rows = read_rows(dataset)
    if not rows or not all(isinstance(r, dict) and is_seed_row(r) for r in rows):
        return None
    by_id = {str(r.get("task_id")): r for r in rows}

    def fields(problem: Any) -> dict[str, Any]:
        row = by_id.get(problem.task_id, {})
        return {k: v for k, v in row.items() if k not in ("completion", "response")}

    return fields


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        aliases=["inference"],
        help="sample completions per problem (hf, vllm, openai, dataset); `inference` takes the seed's flags",
        description="Sample completions per problem. The seed's inference.py flags work as they are: "
        "--model_name_or_path M --checkpoint_path DIR --checkpoint_step N --input_file F --output_file O "
        "--max_length N --torch_dtype bfloat16 (see docs/migrating.md).",
    )
    add_dataset_args(p)
    p.add_argument("--backend", choices=["hf", "vllm", "openai", "dataset"], default="hf")
    p.add_argument(
        "--model", help="model dir, checkpoint (LoRA adapters applied), `tiny`, or endpoint model name"
    )
    p.add_argument("--model-name", help="name recorded in the rows (default: --model)")
    p.add_argument(
        "--output",
        "-o",
        "--output_file",
        required=True,
        help="generations .jsonl (appended to; reruns resume)",
    )
    p.add_argument("--n", type=int, default=1, help="samples per problem")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument(
        "--max-new-tokens",
        "--max_length",
        type=int,
        default=1024,
        help="tokens per completion (the seed's --max_length, which also counted the prompt)",
    )
    seed = p.add_argument_group("the seed's inference.py flags")
    seed.add_argument("--model_name_or_path", help="base model (with --checkpoint_path: the LoRA base)")
    seed.add_argument(
        "--checkpoint_path", help="training output directory (its checkpoint-N) or a checkpoint"
    )
    seed.add_argument("--checkpoint_step", type=int, help="which checkpoint-N (default: the latest)")
    seed.add_argument("--input_file", dest="dataset", default=argparse.SUPPRESS, help="same as --dataset")
    seed.add_argument("--device_ids", help="GPU ids; the first one is used (cuda:ID)")
    seed.add_argument("--lora_enable", help="ignored: a checkpoint with adapter_config.json is LoRA")
    seed.add_argument("--use_special_tokens", help="ignored (the seed's reward-model token)")
    p.add_argument("--generation-seed", type=int, help="sampling seed (default: --seed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    local = p.add_argument_group("hf / vllm")
    local.add_argument("--adapter", help="LoRA adapter dir to apply on --model")
    local.add_argument("--base-model", help="base model of a LoRA checkpoint (default: the one it records)")
    local.add_argument("--merge-lora", action="store_true", help="merge the adapter into the weights (hf)")
    local.add_argument("--batch-size", type=int, default=8, help="prompts per generate call")
    local.add_argument("--dtype", "--torch_dtype", default="auto", help="auto, float32, bfloat16, float16")
    local.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 (hf)")
    remote = p.add_argument_group("openai")
    remote.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    remote.add_argument("--api-key-env", help="environment variable holding the key (default OPENAI_API_KEY)")
    remote.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    remote.add_argument("--retries", type=int, default=4, help="retries of a transient failure")
    remote.add_argument(
        "--retry-backoff", type=float, default=1.0, help="first retry delay, doubled each time"
    )
    remote.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    ds = p.add_argument_group("dataset")
    ds.add_argument(
        "--field",
        choices=["completion", "response"],
        default="completion",
        help="the reference solutions or the dataset's recorded model answers",
    )
    p.set_defaults(handler=_generate)


def _add_score(sub: argparse._SubParsersAction) -> None:
    from ..rewards.commands import add_reward_args

    p = sub.add_parser("score", help="execute and score a generations file; pass@k and summary")
    p.add_argument("generations", help="generations .jsonl (task_id, completion; model and sample optional)")
    add_dataset_args(p, default=None)
    p.add_argument("--output", "-o", help="scored rows (default: <generations>.scored.jsonl)")
    p.add_argument("--summary", help="summary JSON (default: <output>.summary.json)")
    p.add_argument("--rescore", action="store_true", help="score every row again, even unchanged ones")
    p.add_argument("--chunk-size", type=int, default=64, help="samples per scoring batch")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line (last line)")
    p.add_argument("--no-progress", action="store_true")
    add_reward_args(p)
    p.set_defaults(handler=_score)


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="HTML + Markdown report comparing scored runs")
    p.add_argument("scored", nargs="+", help="scored .jsonl files (from `score`)")
    p.add_argument("--output-dir", "-o", required=True, help="where report.html, report.md and plots go")
    p.add_argument("--title", default="GRPO4CodeGen evaluation")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=_report)


def register(sub: argparse._SubParsersAction) -> None:
    _add_generate(sub)
    _add_score(sub)
    _add_report(sub)
