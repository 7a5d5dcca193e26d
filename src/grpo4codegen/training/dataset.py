"""Problems -> the `datasets.Dataset` GRPOTrainer consumes.

Each row has a conversational `prompt` (the messages of `chat_messages`, so TRL renders them with the
tokenizer's chat template exactly as generation and evaluation do) and a `task_id`, which TRL passes to
every reward function as a keyword argument so rewards can look the problem's tests up.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..data import Problem, chat_messages
from ..errors import UserError

if TYPE_CHECKING:
    from datasets import Dataset

logger = logging.getLogger(__name__)


@dataclass
class PromptDataset:
    """The dataset plus what was left out of it, so callers can report it."""

    dataset: Dataset
    dropped: list[str] = field(default_factory=list)  # task ids over max_prompt_length
    longest_kept: int = 0  # tokens of the longest kept prompt (0 when not measured)


def prompt_length(tokenizer: Any, messages: list[dict[str, str]]) -> int:
    """Tokens of the prompt as TRL will feed it: chat template with the assistant generation prompt."""
    encoded = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True
    )
    return len(encoded["input_ids"])


def build_prompt_dataset(
    problems: Sequence[Problem],
    tokenizer: Any | None = None,
    max_prompt_length: int | None = None,
    system_prompt: str | None = None,
    what: str = "training",
) -> PromptDataset:
    """Rows {prompt, task_id} in the given order; prompts over `max_prompt_length` tokens are dropped.

    Dropping (rather than truncating) keeps every prompt a complete problem statement; the order of
    `problems` is preserved, so a curriculum order survives as long as the trainer does not shuffle.
    """
    from datasets import Dataset

    if max_prompt_length is not None and tokenizer is None:
        raise ValueError("max_prompt_length needs a tokenizer")
    if tokenizer is not None and not getattr(tokenizer, "chat_template", None):
        raise UserError(
            "the model's tokenizer has no chat template; GRPO prompts are chat messages, so use an instruct "
            "model (or one whose tokenizer_config.json sets chat_template)"
        )
    kwargs = {} if system_prompt is None else {"system_prompt": system_prompt}
    prompts: list[list[dict[str, str]]] = []
    task_ids: list[str] = []
    dropped: list[str] = []
    longest = 0
    for problem in problems:
        messages = chat_messages(problem, **kwargs)
        if max_prompt_length is not None:
            length = prompt_length(tokenizer, messages)
            if length > max_prompt_length:
                dropped.append(problem.task_id)
                continue
            longest = max(longest, length)
        prompts.append(messages)
        task_ids.append(problem.task_id)
    if dropped:
        logger.warning(
            "dropped %d of %d %s problems whose prompt exceeds max_prompt_length=%d tokens (first: %s)",
            len(dropped),
            len(problems),
            what,
            max_prompt_length,
            ", ".join(dropped[:5]),
        )
    if not prompts:
        raise UserError(
            f"no {what} problems left"
            + (f" after dropping prompts longer than {max_prompt_length} tokens" if dropped else "")
        )
    dataset = Dataset.from_dict({"prompt": prompts, "task_id": task_ids})
    return PromptDataset(dataset=dataset, dropped=dropped, longest_kept=longest)
