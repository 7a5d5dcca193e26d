"""vLLM offline generation, used when vllm is installed; LoRA checkpoints go through vLLM's LoRARequest."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..data.prompts import chat_messages
from ..errors import UserError
from .backends import ModelSource
from .generate import Generation, GenerationSettings, Request


class VLLMBackend:
    """`LLM.chat` over chunks of `batch_size` requests, each with its own sampling seed."""

    name = "vllm"

    def __init__(
        self, source: ModelSource, model_name: str, dtype: str = "auto", batch_size: int = 256
    ) -> None:
        try:
            import vllm  # noqa: F401
        except ImportError:
            raise UserError(
                "--backend vllm needs the vllm package (pip install vllm, on a CUDA machine); "
                "use --backend hf for local generation without it"
            ) from None
        self.source = source
        self.model_name = model_name
        self.dtype = dtype
        self.batch_size = max(1, batch_size)
        self.llm: Any = None

    def describe(self) -> dict[str, Any]:
        return {"model": self.model_name, "base_model": self.source.base, "adapter": self.source.adapter}

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> Iterator[Generation]:
        from vllm import LLM, SamplingParams
        from vllm.lora.request import LoRARequest

        if self.llm is None:
            self.llm = LLM(
                model=self.source.base,
                tokenizer=self.source.tokenizer,
                dtype=self.dtype,
                seed=settings.seed,
                enable_lora=self.source.adapter is not None,
                **({"max_lora_rank": _lora_rank(self.source.adapter)} if self.source.adapter else {}),
            )
        lora = LoRARequest("adapter", 1, self.source.adapter) if self.source.adapter else None
        for start in range(0, len(requests), self.batch_size):
            batch = requests[start : start + self.batch_size]
            params = [
                SamplingParams(
                    n=1,
                    temperature=settings.temperature,
                    top_p=settings.top_p,
                    max_tokens=settings.max_new_tokens,
                    seed=r.seed,
                )
                for r in batch
            ]
            outputs = self.llm.chat(
                [chat_messages(r.problem) for r in batch], params, lora_request=lora, use_tqdm=False
            )
            for req, out in zip(batch, outputs, strict=True):
                first = out.outputs[0]
                usage = {
                    "prompt_tokens": len(out.prompt_token_ids or []),
                    "completion_tokens": len(first.token_ids),
                }
                yield Generation(req, first.text, first.finish_reason, usage=usage)


def _lora_rank(adapter: str) -> int:
    """The smallest rank vLLM accepts that fits the adapter's `r` (vLLM's default, 16, rejects larger ones)."""
    r = int(json.loads((Path(adapter) / "adapter_config.json").read_text("utf-8")).get("r", 16))
    return next(size for size in (8, 16, 32, 64, 128, 256, 320, 512, r) if size >= r)
