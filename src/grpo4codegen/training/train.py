"""`grpo4codegen train`: load problems and model, build rewards, and run TRL's GRPOTrainer.

The reward functions come from `grpo4codegen.rewards.trl_rewards.build_reward_funcs`, imported only
when training starts, so this module does not care how rewards are computed (local sandbox, server,
judge, learned weights): it passes their weights to `GRPOConfig.reward_weights` and their callbacks to
the trainer.

What this module adds to TRL, all through public hooks: `--eval_epochs` greedy evaluation
(`callbacks.GreedyEvalCallback`), the weight net state in every checkpoint (the reward factory's
callback) and restored on resume, epoch-based save/eval schedules, and a warning when a checkpoint
cannot resume exactly (see `config.generation_cycle_steps`).
"""

from __future__ import annotations

import importlib
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data import Problem, load_problems
from ..data.selection import select_problems
from ..errors import UserError
from .config import (
    DataArguments,
    ModelArguments,
    RewardArguments,
    TrainArguments,
    at_generation_boundary,
    epochs_to_steps,
    generation_cycle_steps,
    parse_train_args,
    prompts_per_generation_batch,
    resolve_resume_checkpoint,
    seed_lora_targets,
    steps_per_epoch,
)
from .dataset import build_prompt_dataset
from .tiny import resolve_model_path

if TYPE_CHECKING:
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from .callbacks import GreedyEvalCallback

logger = logging.getLogger(__name__)

#: where the reward factory lives; resolved at call time so it can be built (or replaced) independently
REWARD_FACTORY = "grpo4codegen.rewards.trl_rewards:build_reward_funcs"
ARGS_FILE = "grpo4codegen_args.json"

#: build_reward_funcs(problems, reward_args) -> (reward funcs, their weights or None, trainer callbacks)
RewardFactory = Callable[[list[Problem], RewardArguments], tuple[list[Callable[..., Any]], Any, Any]]


@dataclass
class PreparedRun:
    """A trainer ready to `train()`, with the numbers worth reporting about it."""

    trainer: GRPOTrainer
    resume_from: str | None
    num_train_prompts: int
    num_eval_prompts: int
    steps_per_epoch: int
    #: greedy evaluation interval in optimizer steps (None: no --eval_epochs)
    eval_steps: int | None = None
    greedy_eval: GreedyEvalCallback | None = None
    #: callbacks from the reward factory (the weight-net state lives in their `.adapter`)
    reward_callbacks: list[Any] = field(default_factory=list)


@dataclass
class Schedule:
    """Step arithmetic derived from the epoch-based options."""

    steps_per_epoch: int
    eval_steps: int | None  # greedy evaluation interval


def main(argv: Sequence[str]) -> int:
    """Entry point of the `train` subcommand: parse everything, train, save the final model."""
    args = parse_train_args(argv)
    _setup_logging(args.grpo)
    run_training(args)
    return 0


def run_training(args: TrainArguments) -> Any:
    """Prepare the trainer, train (resuming if asked), save the final model; returns TrainOutput."""
    run = prepare_training(args)
    logger.info(
        "training on %d prompts (%d eval), %d optimizer steps per epoch%s",
        run.num_train_prompts,
        run.num_eval_prompts,
        run.steps_per_epoch,
        f", resuming from {run.resume_from}" if run.resume_from else "",
    )
    result = run.trainer.train(resume_from_checkpoint=run.resume_from)
    run.trainer.save_model(args.grpo.output_dir)
    if args.grpo.should_save:
        for callback in run.reward_callbacks:
            if hasattr(callback, "adapter"):  # the final learned reward weights next to the final model
                callback.adapter.save(args.grpo.output_dir)
    logger.info("saved final model to %s", args.grpo.output_dir)
    return result


def prepare_training(args: TrainArguments) -> PreparedRun:
    """Everything up to (not including) `trainer.train()`: split out so tests can inspect the trainer."""
    from trl import GRPOTrainer

    grpo = args.grpo
    for notice in args.notices:
        logger.warning(notice)
    apply_max_length(args.data, grpo)
    resume_from = (
        resolve_resume_checkpoint(args.model.load_from_pretrained, args.model.load_from_pretrained_step)
        if args.model.load_from_pretrained
        else None
    )
    model_path = resolve_model_path(args.model.model_name_or_path)
    tokenizer = load_tokenizer(model_path)

    train_problems, eval_problems = load_train_eval_problems(args.data, wants_eval(args))
    train_set = build_prompt_dataset(
        train_problems, tokenizer, args.data.max_prompt_length, what="training"
    ).dataset
    eval_set = (
        build_prompt_dataset(eval_problems, tokenizer, args.data.max_prompt_length, what="eval").dataset
        if eval_problems
        else None
    )
    schedule = configure_schedule(grpo, args.data, len(train_set), eval_set is not None)
    if resume_from:
        warn_if_resume_is_not_exact(resume_from, len(train_set), grpo)

    funcs, weights, callbacks = build_rewards(train_problems + eval_problems, args.reward)
    apply_reward_weights(grpo, funcs, weights)
    if args.reward.aggregation == "normalize_then_sum":
        grpo.multi_objective_aggregation = "normalize_then_sum"
    configure_model_init(grpo, args.model)

    greedy_eval = None
    if schedule.eval_steps is not None and eval_set is not None:
        kept = set(eval_set["task_id"])  # the prompt-length filter applies to evaluation too
        greedy_eval = greedy_eval_callback(
            [p for p in eval_problems if p.task_id in kept], tokenizer, args, schedule.eval_steps
        )

    _write_args(args)
    trainer = GRPOTrainer(
        model=model_path,
        reward_funcs=funcs,
        args=grpo,
        train_dataset=train_set,
        eval_dataset=eval_set,
        processing_class=tokenizer,
        callbacks=[*callbacks, *([greedy_eval] if greedy_eval else [])] or None,
        peft_config=lora_config(args.model, model_path) if args.model.lora_enable else None,
    )
    if args.model.freeze_llm:
        freeze_all_but_output_head(trainer.model)
    for callback in [*callbacks, greedy_eval]:
        if hasattr(callback, "attach"):  # callbacks that need the trainer (reward weights, eval model)
            callback.attach(trainer)
        if resume_from and hasattr(callback, "adapter"):
            callback.adapter.load(resume_from)  # the weight net state saved with that checkpoint
    return PreparedRun(
        trainer=trainer,
        resume_from=resume_from,
        num_train_prompts=len(train_set),
        num_eval_prompts=len(eval_set) if eval_set is not None else 0,
        steps_per_epoch=schedule.steps_per_epoch,
        eval_steps=schedule.eval_steps,
        greedy_eval=greedy_eval,
        reward_callbacks=list(callbacks),
    )


def greedy_eval_callback(
    problems: list[Problem], tokenizer: Any, args: TrainArguments, eval_steps: int
) -> GreedyEvalCallback:
    """The --eval_epochs evaluation: greedy completions scored for correctness by the same executor."""
    import dataclasses

    from ..rewards.scorer import RewardScorer
    from .callbacks import GreedyEvalCallback

    # the same execution settings as the rewards (backend, limits, isolation), correctness only
    config = dataclasses.replace(args.reward, reward_dimensions=["correctness"], use_weight_net=False)
    scorer = RewardScorer(problems, config)
    return GreedyEvalCallback(
        problems,
        tokenizer,
        scorer,
        eval_steps=eval_steps,
        max_new_tokens=args.grpo.max_completion_length,
        batch_size=args.grpo.per_device_eval_batch_size,
        chat_template_kwargs=args.grpo.chat_template_kwargs,
    )


def warn_if_resume_is_not_exact(checkpoint: str, num_prompts: int, grpo: GRPOConfig) -> None:
    """A checkpoint inside a generation cycle resumes correctly but not identically: say so."""
    try:
        state = json.loads((Path(checkpoint) / "trainer_state.json").read_text("utf-8"))
        step = int(state["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    if not at_generation_boundary(step, num_prompts, grpo):
        logger.warning(
            "%s (step %d) lies inside a generation cycle (a batch is generated every %d optimizer steps and "
            "reused in between; the buffered batch is not checkpointed): resuming generates a fresh batch, "
            "so the run continues correctly but not identically to an uninterrupted one",
            checkpoint,
            step,
            generation_cycle_steps(grpo),
        )


def load_tokenizer(model_path: str) -> Any:
    """The model's own tokenizer (chat template included); a missing pad token falls back to eos."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
    except OSError as e:
        raise UserError(f"cannot load the tokenizer of {model_path!r}: {e}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def wants_eval(args: TrainArguments) -> bool:
    """Whether evaluation was asked for (our greedy --eval_epochs, or TRL's --eval_strategy)."""
    from transformers.trainer_utils import IntervalStrategy

    return args.data.eval_epochs is not None or args.grpo.eval_strategy != IntervalStrategy.NO


def apply_max_length(data: DataArguments, grpo: GRPOConfig) -> None:
    """The seed's --max_length: one token budget for prompt plus completion."""
    total = data.max_length
    if total is None:
        return
    if data.max_prompt_length is None:
        data.max_prompt_length = total - grpo.max_completion_length
        if data.max_prompt_length <= 0:
            raise UserError(
                f"--max_length {total} leaves no room for prompts next to --max_completion_length "
                f"{grpo.max_completion_length}"
            )
    elif data.max_prompt_length + grpo.max_completion_length > total:
        completion = total - data.max_prompt_length
        if completion <= 0:
            raise UserError(f"--max_length {total} is not above --max_prompt_length {data.max_prompt_length}")
        logger.info(
            "--max_length %d: completions capped at %d tokens (was %d) next to prompts of up to %d",
            total,
            completion,
            grpo.max_completion_length,
            data.max_prompt_length,
        )
        grpo.max_completion_length = completion


def load_train_eval_problems(
    data: DataArguments, want_eval: bool = False
) -> tuple[list[Problem], list[Problem]]:
    """Training problems (filtered, sampled, optionally curriculum-ordered) and eval problems.

    Asked for evaluation without --meta_data_test, --eval_holdout of the training problems (a
    deterministic sample) become the eval set, as in the seed."""
    loaded = load_problems(data.meta_data, split=data.meta_data_split)
    if data.max_samples:
        loaded = loaded[: data.max_samples]
    held_out: list[Problem] = []
    if want_eval and not data.meta_data_test and data.eval_holdout > 0 and len(loaded) > 1:
        count = min(len(loaded) - 1, max(1, round(len(loaded) * data.eval_holdout)))
        held_ids = {p.task_id for p in select_problems(loaded, sample=count, seed=data.sample_seed)}
        held_out = [p for p in loaded if p.task_id in held_ids]
        loaded = [p for p in loaded if p.task_id not in held_ids]
        logger.info(
            "evaluation without --meta_data_test: holding out %d of %d training problems (--eval_holdout %s)",
            len(held_out),
            len(held_out) + len(loaded),
            data.eval_holdout,
        )
    train = select_problems(
        loaded,
        difficulties=data.difficulty,
        sample=data.sample,
        seed=data.sample_seed,
        curriculum=data.curriculum,
    )
    if not train:
        raise UserError(f"no training problems left in {data.meta_data} after filtering")
    evals: list[Problem] = select_problems(held_out, difficulties=data.difficulty, sample=data.sample_test)
    if data.meta_data_test:
        evals = select_problems(
            load_problems(data.meta_data_test, split=data.meta_data_test_split),
            difficulties=data.difficulty,
            sample=data.sample_test,
            seed=data.sample_seed,
        )
        if not evals:
            raise UserError(f"no eval problems left in {data.meta_data_test} after filtering")
    return train, evals


def configure_schedule(grpo: GRPOConfig, data: DataArguments, num_prompts: int, has_eval: bool) -> Schedule:
    """Apply curriculum ordering and the epoch-based eval/save schedules.

    `--eval_epochs` drives our greedy evaluation (GreedyEvalCallback), not TRL's sampled evaluation
    loop, which stays under the plain `--eval_strategy/--eval_steps` flags. Runs after GRPOConfig
    validated itself, so the checks it makes for an eval setup are repeated here.
    """
    from transformers.trainer_utils import IntervalStrategy, SaveStrategy

    per_epoch = steps_per_epoch(num_prompts, grpo)
    leftover = num_prompts % prompts_per_generation_batch(grpo)
    if leftover:
        logger.warning(
            "%d of %d prompts do not fill a whole generation batch of %d prompts and are skipped each epoch",
            leftover,
            num_prompts,
            prompts_per_generation_batch(grpo),
        )
    if data.curriculum and grpo.shuffle_dataset:
        logger.info("curriculum: turning off shuffle_dataset so prompts stay ordered easy -> hard")
        grpo.shuffle_dataset = False

    eval_steps = None
    if data.eval_epochs is not None:
        if not has_eval:
            raise UserError(
                "--eval_epochs needs evaluation problems: pass --meta_data_test (or --eval_holdout > 0)"
            )
        eval_steps = epochs_to_steps(data.eval_epochs, num_prompts, grpo)
        logger.info("greedy evaluation every %d steps (%s epochs)", eval_steps, data.eval_epochs)
    if grpo.eval_strategy != IntervalStrategy.NO:
        if not has_eval:
            raise UserError(
                f"eval_strategy={grpo.eval_strategy.value} needs --meta_data_test (or --eval_holdout > 0)"
            )
        generations = grpo.num_generations_eval or grpo.num_generations
        if (grpo.per_device_eval_batch_size * grpo.world_size) % generations:
            raise UserError(
                f"the global eval batch size ({grpo.per_device_eval_batch_size} * {grpo.world_size}) must be "
                f"divisible by the number of eval generations ({generations}); set --per_device_eval_batch_size"
            )
    cycle = generation_cycle_steps(grpo)
    if data.save_epochs is not None:
        grpo.save_strategy = SaveStrategy.STEPS
        steps = epochs_to_steps(data.save_epochs, num_prompts, grpo)
        grpo.save_steps = math.ceil(steps / cycle) * cycle  # whole generation cycles: exact resume
        logger.info(
            "saving every %d steps (%s epochs%s)",
            grpo.save_steps,
            data.save_epochs,
            f", rounded up from {steps} to whole generation cycles of {cycle} steps"
            if grpo.save_steps != steps
            else "",
        )
    elif (
        grpo.save_strategy == SaveStrategy.STEPS
        and grpo.save_steps >= 1
        and float(grpo.save_steps).is_integer()
        and int(grpo.save_steps) % cycle
    ):
        logger.warning(
            "save_steps=%d is not a multiple of the generation cycle (%d optimizer steps): checkpoints inside a "
            "cycle resume correctly but not identically to an uninterrupted run",
            grpo.save_steps,
            cycle,
        )
    return Schedule(steps_per_epoch=per_epoch, eval_steps=eval_steps)


def reward_factory() -> RewardFactory:
    """Import the reward factory named by REWARD_FACTORY."""
    module_name, _, attr = REWARD_FACTORY.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise UserError(
                f"the reward factory {module_name} is not available in this installation"
            ) from None
        raise
    return getattr(module, attr)


def build_rewards(
    problems: list[Problem], reward: RewardArguments
) -> tuple[list[Callable[..., Any]], list[float] | None, list[TrainerCallback]]:
    """Reward functions, their weights and their callbacks from the factory."""
    funcs, weights, callbacks = reward_factory()(problems, reward)
    if not funcs:
        raise UserError("the reward factory returned no reward functions")
    return list(funcs), (list(weights) if weights is not None else None), list(callbacks or [])


def apply_reward_weights(
    grpo: GRPOConfig, funcs: list[Callable[..., Any]], weights: list[float] | None
) -> None:
    """Factory weights fill GRPOConfig.reward_weights unless the user set them; lengths must match."""
    if grpo.reward_weights is None and weights is not None:
        grpo.reward_weights = weights
    if grpo.reward_weights is not None and len(grpo.reward_weights) != len(funcs):
        raise UserError(
            f"reward_weights has {len(grpo.reward_weights)} entries but there are {len(funcs)} reward functions"
        )


def configure_model_init(grpo: GRPOConfig, model: ModelArguments) -> None:
    """Pass --dtype to TRL's model loading (model_init_kwargs)."""
    kwargs = grpo.model_init_kwargs or {}
    if isinstance(kwargs, str):
        try:
            kwargs = json.loads(kwargs)
        except json.JSONDecodeError as e:
            raise UserError(f"--model_init_kwargs is not valid JSON: {e.msg}") from None
    kwargs = dict(kwargs)
    if model.dtype is not None:
        kwargs["dtype"] = model.dtype
    grpo.model_init_kwargs = kwargs or None


def lora_config(model: ModelArguments, model_path: str | None = None) -> LoraConfig:
    """peft LoraConfig for a causal LM from the --lora_* flags (the seed's selection needs the model)."""
    from peft import LoraConfig

    targets: str | list[str] = model.lora_target_modules
    if targets == ["all-linear"]:
        targets = "all-linear"
    if model.seed_lora_selection:
        if model_path is None:
            raise UserError("--lora_namespan_exclude/--num_lora_modules need the model to list its modules")
        targets = seed_lora_targets(adaptable_modules(model_path), model)
        logger.info(
            "LoRA on %d modules chosen the seed's way (%s ... %s)", len(targets), targets[0], targets[-1]
        )
    return LoraConfig(
        r=model.lora_r,
        lora_alpha=model.lora_alpha,
        lora_dropout=model.lora_dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )


def adaptable_modules(model_path: str) -> list[tuple[str, str]]:
    """(name, kind) of every Linear and Embedding module of the model, in order, from a weightless copy
    built on the meta device (nothing is loaded); kind is "linear", "embedding" or "output_head"."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(model_path)
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config)
    head = skeleton.get_output_embeddings()
    out = []
    for name, module in skeleton.named_modules():
        if module is head:
            out.append((name, "output_head"))
        elif isinstance(module, torch.nn.Linear):
            out.append((name, "linear"))
        elif isinstance(module, torch.nn.Embedding):
            out.append((name, "embedding"))
    return out


def freeze_all_but_output_head(model: Any) -> None:
    """--freeze_llm without LoRA: only the output head (lm_head) keeps training, as in the seed."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    head = model.get_output_embeddings()
    if head is None:
        raise UserError("--freeze_llm: the model has no output head to train")
    for parameter in head.parameters():
        parameter.requires_grad_(True)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    logger.info("--freeze_llm: training only the output head (%d parameters)", trainable)


def _write_args(args: TrainArguments) -> None:
    """Save the parsed options with the run, so a checkpoint says how it was made."""
    if not args.grpo.should_save:
        return
    out = Path(args.grpo.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / ARGS_FILE).write_text(json.dumps(args.to_dict(), indent=2, default=str) + "\n", "utf-8")


def _setup_logging(grpo: GRPOConfig) -> None:
    """INFO logs on the main process, warnings elsewhere; transformers follows the same level."""
    import transformers

    level = grpo.get_process_log_level()
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    logging.getLogger("grpo4codegen").setLevel(logging.INFO if grpo.should_log else logging.WARNING)
    transformers.utils.logging.set_verbosity(level)
