"""Backend selection, the `dataset` pseudo-backend, and LoRA adapter resolution (all torch-free).

The `dataset` backend writes a dataset's own answers (reference solutions or the `response` field)
as a generations file, so the scoring pipeline can be checked against known-good code and against a
published model's answers with exactly the same code path as a real model.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.problems import Problem
from ..errors import UserError
from .generate import Backend, Generation, GenerationSettings, Request

BACKENDS = ("hf", "vllm", "openai", "dataset")
DATASET_FIELDS = ("completion", "response")
ADAPTER_CONFIG = "adapter_config.json"


class DatasetBackend:
    """Answers with the dataset's own text: `completion` (the reference, fenced) or `response`."""

    def __init__(self, field: str = "completion", model: str | None = None) -> None:
        if field not in DATASET_FIELDS:
            raise UserError(f"--field must be one of {', '.join(DATASET_FIELDS)}")
        self.field = field
        self.name = "dataset"
        self.model = model or f"dataset:{field}"

    def describe(self) -> dict[str, Any]:
        return {"model": self.model, "field": self.field}

    def answered(self, problems: Sequence[Problem]) -> list[Problem]:
        """The problems that have this field: an empty `response` means that model gave no answer, and
        scoring it as a failure would understate the model (v0.3.1 leaves 109 of 228 empty)."""
        return [
            p
            for p in problems
            if (p.reference_solution if self.field == "completion" else p.response).strip()
        ]

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> Iterator[Generation]:
        for req in requests:
            if self.field == "completion":
                code = req.problem.reference_solution
                text = f"```python\n{code.rstrip()}\n```\n" if code.strip() else ""
            else:
                text = req.problem.response
            yield Generation(req, text, "stop")


@dataclass(frozen=True)
class ModelSource:
    """Where the weights come from: a base model and, for a LoRA checkpoint, its adapter directory."""

    base: str
    adapter: str | None = None
    tokenizer: str | None = None  # directory holding the tokenizer (the adapter's when it saved one)


def resolve_model_source(
    model: str, adapter: str | None = None, base_model: str | None = None
) -> ModelSource:
    """Find the base model of a LoRA checkpoint, so the adapter is applied instead of silently dropped.

    `model` may be a full model, or an adapter directory (it has adapter_config.json, e.g. a
    `checkpoint-N` of a LoRA run): then the base is `base_model` or the adapter's recorded base.
    `adapter` applies an adapter on top of `model` explicitly.
    """
    from ..training.tiny import resolve_model_path

    if adapter is None and (Path(model) / ADAPTER_CONFIG).is_file():
        adapter, model = model, base_model or ""
    if adapter is not None:
        config_path = Path(adapter) / ADAPTER_CONFIG
        if not config_path.is_file():
            raise UserError(f"--adapter {adapter}: no {ADAPTER_CONFIG} there (not a peft adapter directory)")
        if not model:
            try:
                model = json.loads(config_path.read_text("utf-8")).get("base_model_name_or_path") or ""
            except (OSError, ValueError) as e:
                raise UserError(f"{config_path}: unreadable ({e})") from None
            if not model:
                raise UserError(f"{config_path} names no base model: pass --base-model")
        has_tokenizer = (Path(adapter) / "tokenizer_config.json").is_file()
        base = resolve_model_path(model)
        return ModelSource(base, adapter, adapter if has_tokenizer else base)
    base = resolve_model_path(model)
    return ModelSource(base, None, base)


def api_key_from_env(variable: str | None) -> str:
    """The key from the named variable; local servers without auth get a placeholder."""
    name = variable or "OPENAI_API_KEY"
    key = os.environ.get(name)
    if key:
        return key
    if variable:
        raise UserError(f"--api-key-env {variable}: that environment variable is not set")
    return "EMPTY"  # vLLM/TGI-style local servers accept any key


def make_backend(args: argparse.Namespace) -> Backend:
    """The backend named by --backend, configured from the command line (loading happens later)."""
    if args.backend == "dataset":
        return DatasetBackend(args.field, args.model_name)
    if not args.model:
        raise UserError(f"--backend {args.backend} needs --model")
    if args.backend == "openai":
        from .openai_backend import OpenAIBackend

        if not args.base_url:
            raise UserError("--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1)")
        return OpenAIBackend(
            base_url=args.base_url,
            model=args.model,
            api_key=api_key_from_env(args.api_key_env),
            concurrency=args.concurrency,
            retries=args.retries,
            timeout_s=args.timeout,
            backoff_s=args.retry_backoff,
            model_name=args.model_name,
        )
    source = resolve_model_source(args.model, args.adapter, args.base_model)
    name = args.model_name or args.model
    if args.backend == "hf":
        from .hf_backend import HFBackend

        return HFBackend(
            source,
            name,
            batch_size=args.batch_size,
            merge=args.merge_lora,
            dtype=args.dtype,
            device=args.device,
        )
    if args.backend == "vllm":
        from .vllm_backend import VLLMBackend

        return VLLMBackend(source, name, dtype=args.dtype, batch_size=args.batch_size)
    raise UserError(f"unknown backend {args.backend!r}; choose from {', '.join(BACKENDS)}")
