"""Local generation with transformers: a model directory, a full checkpoint, or a LoRA checkpoint.

A LoRA checkpoint holds only the adapter; it is applied to its base model with peft (optionally merged),
and loading fails loudly if no LoRA weights arrive, since evaluating the bare base model by accident
is exactly the mistake this backend exists to prevent. Prompts go through the model's own chat
template (the prompt training uses), left-padded for batched generation. torch is imported here only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from ..data.prompts import chat_messages
from ..errors import InfrastructureError, UserError
from .backends import ModelSource
from .generate import Generation, GenerationSettings, Request

log = logging.getLogger(__name__)


class HFBackend:
    """transformers `generate` in batches of `batch_size` prompts."""

    name = "hf"

    def __init__(
        self,
        source: ModelSource,
        model_name: str,
        batch_size: int = 8,
        merge: bool = False,
        dtype: str = "auto",
        device: str = "auto",
    ) -> None:
        if batch_size < 1:
            raise UserError("--batch-size must be at least 1")
        self.source = source
        self.model_name = model_name
        self.batch_size = batch_size
        self.merge = merge
        self.dtype = dtype
        self.device = device
        self.model: Any = None
        self.tokenizer: Any = None

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "base_model": self.source.base,
            "adapter": self.source.adapter,
            "merged": bool(self.source.adapter and self.merge),
        }

    def load(self) -> None:
        """Tokenizer, base model, adapter (checked, optionally merged); idempotent."""
        if self.model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.source.tokenizer or self.source.base)
            model = AutoModelForCausalLM.from_pretrained(self.source.base, dtype=self.dtype)
        except OSError as e:
            raise UserError(f"cannot load {self.source.base!r}: {e}") from None
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"  # generated tokens must follow the prompt directly
        if self.source.adapter:
            model = self._apply_adapter(model)
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer

    def _apply_adapter(self, model: Any) -> Any:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, self.source.adapter)
        loaded = self._check_adapter_loaded(model)
        log.info("applied LoRA adapter %s (%d tensors) to %s", self.source.adapter, loaded, self.source.base)
        return model.merge_and_unload() if self.merge else model

    def _check_adapter_loaded(self, model: Any) -> int:
        """Every LoRA tensor of the adapter file must be in the model with its saved values.

        peft creates LoRA layers from the config alone and only warns about keys it could not place, so
        a mismatch would otherwise evaluate (nearly) the base model without anyone noticing.
        """
        import torch
        from peft.utils import load_peft_weights

        saved = {
            k: v for k, v in load_peft_weights(self.source.adapter, device="cpu").items() if "lora_" in k
        }
        params = {n.replace(".default", ""): p for n, p in model.named_parameters() if "lora_" in n}
        arrived = [
            k
            for k, v in saved.items()
            if k in params
            and torch.allclose(params[k].detach().float().cpu(), v.float(), rtol=1e-2, atol=1e-4)
        ]
        if not saved or len(arrived) < len(saved):
            raise InfrastructureError(
                f"{self.source.adapter}: only {len(arrived)} of {len(saved)} LoRA tensors reached the model; "
                "refusing to evaluate what would be (partly) the base model"
            )
        if all(not v.any() for k, v in saved.items() if "lora_B" in k):
            log.warning(
                "%s: every lora_B is zero: the adapter changes nothing (untrained?)", self.source.adapter
            )
        return len(arrived)

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> Iterator[Generation]:
        import torch
        from transformers import set_seed

        self.load()
        tok = self.tokenizer
        prompts = {r.problem.task_id: self._prompt(r) for r in requests}
        lengths = {t: len(tok(p, add_special_tokens=False).input_ids) for t, p in prompts.items()}
        # similar lengths together: less padding; stable order keeps runs reproducible
        ordered = sorted(requests, key=lambda r: (-lengths[r.problem.task_id], r.problem.task_id, r.sample))
        eos = _eos_ids(self.model, tok)
        for start in range(0, len(ordered), self.batch_size):
            batch = ordered[start : start + self.batch_size]
            set_seed(batch[0].seed)  # one RNG stream per batch: a batch's samples are reproducible together
            enc = tok(
                [prompts[r.problem.task_id] for r in batch],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            ).to(self.model.device)
            with torch.inference_mode():
                out = self.model.generate(**enc, **self._generation_kwargs(settings, eos))
            new = out[:, enc["input_ids"].shape[1] :]
            for req, tokens in zip(batch, new, strict=True):
                ids = tokens.tolist()
                stopped = any(i in eos for i in ids)
                text = tok.decode(ids, skip_special_tokens=True)
                usage = {"prompt_tokens": lengths[req.problem.task_id], "completion_tokens": _count(ids, eos)}
                yield Generation(req, text, "stop" if stopped else "length", usage=usage)

    def _prompt(self, req: Request) -> str:
        try:
            return self.tokenizer.apply_chat_template(
                chat_messages(req.problem), add_generation_prompt=True, tokenize=False
            )
        except ValueError as e:  # no chat template
            raise UserError(
                f"{self.source.tokenizer}: the tokenizer has no usable chat template ({e})"
            ) from None

    def _generation_kwargs(self, settings: GenerationSettings, eos: set[int]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": settings.max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": sorted(eos),
            "do_sample": not settings.greedy,
        }
        if settings.greedy:  # neutralise sampling defaults from generation_config (avoids warnings)
            kwargs.update(temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
        return kwargs


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    """Every id that ends an answer: the generation config's and the tokenizer's."""
    configured = model.generation_config.eos_token_id
    ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def _count(ids: list[int], eos: set[int]) -> int:
    """Generated tokens up to and including the first end-of-answer token (the padding after it excluded)."""
    for i, t in enumerate(ids):
        if t in eos:
            return i + 1
    return len(ids)
