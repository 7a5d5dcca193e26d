"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM serve, TGI, llama.cpp, ...).

A bounded number of requests is in flight at once (`concurrency`), so an interrupted run loses at
most those. Transient failures (connection, timeout, 429, 5xx) are retried with exponential backoff
and jitter; a wrong key, model or URL stops the run at once, since every other request would fail too.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from ..data.prompts import chat_messages
from ..errors import UserError
from .generate import Generation, GenerationSettings, Request

log = logging.getLogger(__name__)


class OpenAIBackend:
    """Chat completions over HTTP with the official `openai` client, one request per sample."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str,
        concurrency: int = 8,
        retries: int = 4,
        timeout_s: float = 300.0,
        backoff_s: float = 1.0,
        model_name: str | None = None,
    ) -> None:
        if concurrency < 1 or retries < 0 or timeout_s <= 0:
            raise UserError("need --concurrency >= 1, --retries >= 0 and --timeout > 0")
        self.base_url = base_url
        self.model = model
        self.model_name = model_name or model
        self.api_key = api_key
        self.concurrency = concurrency
        self.retries = retries
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s

    def describe(self) -> dict[str, Any]:
        return {"model": self.model_name, "base_url": self.base_url, "endpoint_model": self.model}

    def generate(self, requests: Sequence[Request], settings: GenerationSettings) -> Iterator[Generation]:
        import openai

        # retries are ours (below), so they are counted and logged per sample
        client = openai.OpenAI(
            base_url=self.base_url, api_key=self.api_key, max_retries=0, timeout=self.timeout_s
        )
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="g4c-openai")
        pending: set[Future[Generation]] = set()
        queue = iter(requests)
        try:
            while True:
                for req in queue:
                    pending.add(pool.submit(self._one, client, req, settings))
                    if len(pending) >= self.concurrency:
                        break
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            client.close()

    def _one(self, client: Any, req: Request, settings: GenerationSettings) -> Generation:
        import openai

        transient = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)
        fatal = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)
        last = ""
        for attempt in range(self.retries + 1):
            try:
                response = client.chat.completions.create(
                    model=self.model,
                    messages=chat_messages(req.problem),
                    temperature=settings.temperature,
                    top_p=settings.top_p,
                    max_tokens=settings.max_new_tokens,
                    seed=req.seed,
                    n=1,
                )
            except fatal as e:
                raise UserError(f"{self.base_url}: {type(e).__name__}: {_message(e)}") from None
            except transient as e:  # APITimeoutError is an APIConnectionError
                last = f"{type(e).__name__}: {_message(e)}"
            except openai.APIStatusError as e:  # other 4xx (e.g. prompt too long): retrying cannot help
                return Generation(req, None, error=f"HTTP {e.status_code}: {_message(e)}")
            else:
                return _generation(req, response)
            if attempt < self.retries:
                delay = self.backoff_s * 2**attempt * (0.5 + random.random())
                log.warning(
                    "%s#%d: %s; retry %d in %.2fs", req.problem.task_id, req.sample, last, attempt + 1, delay
                )
                time.sleep(delay)
        return Generation(req, None, error=f"gave up after {self.retries + 1} attempts: {last}")


def _generation(req: Request, response: Any) -> Generation:
    if not response.choices:
        return Generation(req, None, error="the endpoint returned no choices")
    choice = response.choices[0]
    usage = {}
    if response.usage is not None:
        usage = {
            "prompt_tokens": response.usage.prompt_tokens,
            "completion_tokens": response.usage.completion_tokens,
        }
    return Generation(req, choice.message.content or "", choice.finish_reason, usage=usage)


def _message(error: Exception) -> str:
    return str(getattr(error, "message", None) or error)[:300]
