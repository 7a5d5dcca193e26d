"""Trainer callbacks of our own, plugged into TRL's GRPOTrainer through the public callback hooks.

`GreedyEvalCallback` is the periodic evaluation of `--eval_epochs`. TRL's own evaluation loop samples
completions at the training temperature and reports the training reward; what we want to track is
the model's deterministic quality: one greedy completion per test problem, rendered with exactly the
training chat template, scored by execution. It logs

* ``eval_greedy/pass@1``: the fraction of problems whose greedy completion passes every test
  (mean ``correctness_strict``), and
* ``eval_greedy/test_pass_rate``: the mean fraction of tests passed (mean ``correctness``),

through the trainer's log, so TensorBoard shows them as ``eval/greedy/pass@1`` and
``eval/greedy/test_pass_rate`` (transformers rewrites the ``eval_`` prefix to ``eval/``).
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from ..data import Problem, chat_messages

if TYPE_CHECKING:
    from collections.abc import Iterator

    from transformers import TrainerControl, TrainerState, TrainingArguments

logger = logging.getLogger(__name__)

#: prefix of the metrics in the trainer's log (TensorBoard: eval/greedy/...)
EVAL_PREFIX = "eval_greedy/"
#: folder under output_dir with one JSONL of greedy completions per evaluation
EVAL_DIR = "eval_greedy"


class GreedyEvalCallback(TrainerCallback):
    """Every `eval_steps` optimizer steps (and at the last step): greedy pass@1 on the test problems.

    Work is split over the processes (each generates and scores its share, results are gathered), so a
    multi-process run spends no more time in evaluation than a single process would per problem, and
    no rank waits idle inside a collective while another generates. Generation runs under a forked RNG:
    evaluating never changes the random stream training continues with.
    """

    def __init__(
        self,
        problems: Sequence[Problem],
        tokenizer: Any,
        scorer: Any,
        eval_steps: int,
        max_new_tokens: int,
        batch_size: int = 8,
        chat_template_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if eval_steps <= 0:
            raise ValueError("eval_steps must be positive")
        self.problems = list(problems)
        self.tokenizer = tokenizer
        self.scorer = scorer  # anything with RewardScorer.dimension_scores(task_ids, completions)
        self.eval_steps = eval_steps
        self.max_new_tokens = max_new_tokens
        self.batch_size = max(1, batch_size)
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.trainer: Any = None
        self.last_metrics: dict[str, float] = {}
        self.last_rows: list[dict[str, Any]] = []
        self._evaluated_step: int | None = None

    def attach(self, trainer: Any) -> None:
        """The trainer whose model is evaluated and whose log receives the metrics."""
        self.trainer = trainer

    def should_evaluate(self, state: TrainerState) -> bool:
        """At every multiple of eval_steps and at the final step (once per step)."""
        step = state.global_step
        if step <= 0 or step == self._evaluated_step:
            return False
        return step % self.eval_steps == 0 or step >= state.max_steps

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        if self.trainer is not None and self.should_evaluate(state):
            # logging resets control.should_log; keep the flag so this step's training metrics are still
            # logged on their own rather than folded into the next logging step
            should_log = control.should_log
            self.evaluate()
            control.should_log = should_log
        return control

    # -- evaluation -------------------------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """Generate, score, gather over processes, log; returns the metrics (same on every process)."""
        trainer = self.trainer
        if trainer is None:
            raise RuntimeError("GreedyEvalCallback.attach(trainer) was not called")
        started = time.perf_counter()
        accelerator = trainer.accelerator
        rank, world = accelerator.process_index, accelerator.num_processes
        indices = list(range(rank, len(self.problems), world))  # round robin: sizes differ by at most 1
        share = [self.problems[i] for i in indices]
        with _isolated_rng():
            texts = self._generate(share)
        local_rows = self._score(indices, share, texts)
        rows = _gather_rows(local_rows, world)
        rows.sort(key=lambda r: r["index"])
        metrics = summarise_rows(rows)
        metrics[EVAL_PREFIX + "seconds"] = time.perf_counter() - started
        self.last_metrics, self.last_rows = metrics, rows
        self._evaluated_step = trainer.state.global_step
        self._write_rows(rows)
        # Trainer.log, not GRPOTrainer.log: the latter would fold (and clear) the GRPO metrics
        # accumulated for the current logging window into this entry
        from transformers import Trainer

        Trainer.log(trainer, dict(metrics))
        logger.info(
            "greedy eval at step %d: pass@1 %.4f, test pass rate %.4f over %d problems (%.1fs)",
            trainer.state.global_step,
            metrics[EVAL_PREFIX + "pass@1"],
            metrics[EVAL_PREFIX + "test_pass_rate"],
            len(rows),
            metrics[EVAL_PREFIX + "seconds"],
        )
        return metrics

    def _generate(self, problems: Sequence[Problem]) -> list[str]:
        from trl.models import unwrap_model_for_generation

        trainer = self.trainer
        with unwrap_model_for_generation(
            trainer.model_wrapped,
            trainer.accelerator,
            gather_deepspeed3_params=trainer.args.ds3_gather_for_generation,
            gradient_checkpointing_kwargs=trainer.args.gradient_checkpointing_kwargs,
        ) as model:
            return greedy_completions(
                model,
                self.tokenizer,
                [chat_messages(p) for p in problems],
                max_new_tokens=self.max_new_tokens,
                batch_size=self.batch_size,
                chat_template_kwargs=self.chat_template_kwargs,
            )

    def _score(
        self, indices: Sequence[int], problems: Sequence[Problem], texts: Sequence[str]
    ) -> list[dict[str, Any]]:
        if not problems:
            return []
        task_ids = [p.task_id for p in problems]
        # the conversational completion format TRL hands the training rewards
        completions = [[{"role": "assistant", "content": t}] for t in texts]
        scores = self.scorer.dimension_scores(task_ids, completions)
        return [
            {
                "index": i,
                "task_id": s.task_id,
                "correctness": s.dimensions.get("correctness"),
                "correctness_strict": s.dimensions.get("correctness_strict"),
                "infra_failure": bool(s.infra_failure),
                "completion": text,
            }
            for i, s, text in zip(indices, scores, texts, strict=True)
        ]

    def _write_rows(self, rows: list[dict[str, Any]]) -> None:
        """The greedy completions of this evaluation, for reading what the metrics summarise."""
        trainer = self.trainer
        if not trainer.args.should_save:
            return
        out = Path(trainer.args.output_dir) / EVAL_DIR
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"step_{trainer.state.global_step:06d}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")


def summarise_rows(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """pass@1 and mean test pass rate over the rows that could be scored; infra failures are counted.

    A completion whose execution failed for infrastructure reasons has no score (None); it is left
    out of both means rather than counted as wrong. With nothing scorable the means are NaN.
    """
    strict = [r["correctness_strict"] for r in rows if r["correctness_strict"] is not None]
    rate = [r["correctness"] for r in rows if r["correctness"] is not None]
    return {
        EVAL_PREFIX + "pass@1": math.fsum(strict) / len(strict) if strict else math.nan,
        EVAL_PREFIX + "test_pass_rate": math.fsum(rate) / len(rate) if rate else math.nan,
        EVAL_PREFIX + "num_problems": float(len(rows)),
        EVAL_PREFIX + "infra_failures": float(sum(bool(r["infra_failure"]) for r in rows)),
    }


def greedy_completions(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[list[dict[str, str]]],
    max_new_tokens: int,
    batch_size: int = 8,
    chat_template_kwargs: dict[str, Any] | None = None,
) -> list[str]:
    """Greedy (do_sample=False) completions, batched with left padding, prompts chat-templated as in training."""
    import torch

    if not conversations:
        return []
    kwargs = dict(chat_template_kwargs or {})
    texts = [
        tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False, **kwargs)
        for c in conversations
    ]
    config = _greedy_config(model, tokenizer, max_new_tokens)
    was_training = model.training
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues at the right end of every row
    model.eval()
    try:
        results: list[str] = []
        for start in range(0, len(texts), batch_size):
            # the template already holds the special tokens; adding more would change the prompt
            batch = tokenizer(
                texts[start : start + batch_size],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            ).to(model.device)
            with torch.no_grad():
                out = model.generate(**batch, generation_config=config)
            new_tokens = out[:, batch["input_ids"].shape[1] :]
            results.extend(tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
        return results
    finally:
        tokenizer.padding_side = padding_side
        model.train(was_training)


def _greedy_config(model: Any, tokenizer: Any, max_new_tokens: int) -> Any:
    """The model's generation config (its EOS tokens) with sampling switched off."""
    import copy

    from transformers import GenerationConfig

    base = getattr(model, "generation_config", None)
    config = copy.deepcopy(base) if base is not None else GenerationConfig()
    config.do_sample = False
    config.num_beams = 1
    config.temperature = None
    config.top_p = None
    config.top_k = None
    config.min_p = None
    config.max_new_tokens = max_new_tokens
    config.max_length = None
    if config.pad_token_id is None:
        config.pad_token_id = tokenizer.pad_token_id
    return config


def _gather_rows(rows: list[dict[str, Any]], world: int) -> list[dict[str, Any]]:
    if world <= 1:
        return list(rows)
    from accelerate.utils import gather_object

    return list(gather_object(rows))


@contextmanager
def _isolated_rng() -> Iterator[None]:
    """Run a block without touching the python/numpy/torch RNG streams training continues with."""
    import numpy as np
    import torch

    py_state, np_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
