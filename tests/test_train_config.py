"""Training options: CLI/YAML parsing, shipped configs, epoch->step conversion against the real trainer,
prompt datasets (length filter, curriculum order that survives the trainer's sampler), resume lookup."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("trl")

from grpo4codegen.data import Problem, chat_messages  # noqa: E402
from grpo4codegen.errors import UserError  # noqa: E402
from grpo4codegen.training import train as train_mod  # noqa: E402
from grpo4codegen.training.config import (  # noqa: E402
    epochs_to_steps,
    parse_train_args,
    resolve_resume_checkpoint,
    steps_per_epoch,
)
from grpo4codegen.training.dataset import build_prompt_dataset  # noqa: E402

from .conftest import V020, V031, needs_data  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
CHECK = "def check(candidate):\n    assert candidate(x=1) == 1\n"


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def tiny_path() -> Iterator[str]:
    """The tiny model in a per-user temp cache shared by test runs (the build is atomic)."""
    cache = Path(tempfile.gettempdir()) / f"grpo4codegen-test-cache-{os.getuid()}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRPO4CODEGEN_CACHE", str(cache))
        from grpo4codegen.training.tiny import resolve_model_path

        yield resolve_model_path("tiny")


@pytest.fixture(scope="module")
def tokenizer(tiny_path: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_path)


@pytest.fixture
def stand_in_rewards(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace the reward factory module with a length-based stand-in; records every reward call."""
    calls: list[dict[str, Any]] = []

    def build_reward_funcs(
        problems: list[Problem], reward_args: Any
    ) -> tuple[list[Any], list[float], list[Any]]:
        known = {p.task_id for p in problems}

        def length_reward(
            prompts: list[Any], completions: list[Any], task_id: list[str], **kwargs: Any
        ) -> list[float]:
            assert set(task_id) <= known
            calls.append({"task_id": list(task_id), "n": len(completions)})
            return [len(c[0]["content"]) / 100.0 for c in completions]

        return [length_reward], [1.0], []

    module = types.ModuleType("grpo4codegen.rewards.trl_rewards")
    module.build_reward_funcs = build_reward_funcs  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return calls


def problem_row(i: int, difficulty: str = "Easy", words: int = 5) -> dict[str, Any]:
    return {
        "task_id": f"task-{i:02d}",
        "entry_point": "Solution().f",
        "test": CHECK,
        "completion": "class Solution:\n    def f(self, x):\n        return x\n",
        "difficulty": difficulty,
        "problem_description": f"Problem {i}. " + "word " * words,
    }


def write_problems(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def problems(n: int) -> list[Problem]:
    return [
        Problem(task_id=f"task-{i:02d}", entry_point="Solution().f", preamble="", tests=[]) for i in range(n)
    ]


def grpo_config(tmp_path: Path, **overrides: Any) -> Any:
    from trl import GRPOConfig

    values: dict[str, Any] = {
        "output_dir": str(tmp_path / "out"),
        "use_cpu": True,
        "bf16": False,
        "report_to": [],
        "gradient_checkpointing": False,
        "max_completion_length": 4,
        "logging_steps": 1,
        "save_strategy": "no",
        "seed": 0,
    }
    values.update(overrides)
    return GRPOConfig(**values)


# ---------------------------------------------------------------- parsing


def test_cli_flags_parse_into_dataclasses_and_grpo_config() -> None:
    args = parse_train_args(
        [
            "--model_name_or_path", "tiny",
            "--dataset", "train.jsonl",  # alias of --meta_data
            "--meta_data_test", "test.jsonl",
            "--difficulty", "Easy", "Medium",
            "--sample", "10", "--sample_seed", "3", "--curriculum",
            "--max_prompt_length", "256",
            "--eval_epochs", "0.5", "--save_epochs", "1",
            "--reward_dimensions", "efficiency, correctness",
            "--use_weight_net", "--aggregation", "normalize_then_sum",
            "--fixed_weights", '{"correctness": 0.8, "efficiency": 0.2}',
            "--execute_code_url", "http://localhost:8000",
            "--judge_base_url", "http://localhost:9000/v1", "--judge_model", "judge",
            "--lora_enable", "--lora_r", "8", "--lora_alpha", "16", "--lora_dropout", "0.1",
            "--lora_target_modules", "q_proj", "v_proj",
            "--output_dir", "/tmp/x", "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "4",
            "--gradient_accumulation_steps", "2", "--num_train_epochs", "3", "--num_generations", "4",
            "--num_iterations", "2", "--learning_rate", "2e-5", "--logging_steps", "5",
            "--max_completion_length", "128", "--bf16", "false", "--gradient_checkpointing", "false",
        ]
    )  # fmt: skip
    m, d, r, g = args.model, args.data, args.reward, args.grpo
    assert (m.model_name_or_path, m.lora_enable, m.lora_r, m.lora_alpha, m.lora_dropout) == (
        "tiny",
        True,
        8,
        16,
        0.1,
    )
    assert m.lora_target_modules == ["q_proj", "v_proj"]
    assert (d.meta_data, d.meta_data_test, d.difficulty) == ("train.jsonl", "test.jsonl", ["Easy", "Medium"])
    assert (d.sample, d.sample_seed, d.curriculum, d.max_prompt_length) == (10, 3, True, 256)
    assert (d.eval_epochs, d.save_epochs) == (0.5, 1.0)
    assert r.dimensions == ["correctness", "efficiency"]  # canonical order
    assert r.use_weight_net and r.aggregation == "normalize_then_sum"
    assert json.loads(r.fixed_weights or "") == {"correctness": 0.8, "efficiency": 0.2}
    assert (r.execute_code_url, r.judge_model) == ("http://localhost:8000", "judge")
    assert (g.output_dir, g.per_device_train_batch_size, g.gradient_accumulation_steps) == ("/tmp/x", 4, 2)
    assert (g.num_train_epochs, g.num_generations, g.num_iterations, g.learning_rate) == (3, 4, 2, 2e-5)
    assert (g.max_completion_length, g.bf16, g.gradient_checkpointing) == (128, False, False)
    assert g.report_to == ["tensorboard"]  # our default


def test_defaults_are_cpu_friendly() -> None:
    args = parse_train_args([])
    assert args.model.model_name_or_path == "tiny" and args.data.meta_data == "builtin"
    assert args.reward.dimensions == ["correctness", "efficiency", "comment", "maintainability"]
    assert args.grpo.report_to == ["tensorboard"]
    import torch

    assert args.grpo.bf16 == bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def test_7b_recipe_parses_without_loading_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import PreTrainedModel

    def no_loading(*a: Any, **k: Any) -> None:
        raise AssertionError("parsing must not load a model")

    monkeypatch.setattr(PreTrainedModel, "from_pretrained", classmethod(no_loading))
    argv = ["--config", str(CONFIGS / "qwen2.5-coder-7b-lora.yaml")]
    import torch

    if not (torch.cuda.is_available() and torch.cuda.is_bf16_supported()):
        argv += ["--use_cpu", "true"]  # transformers rejects bf16 without a bf16 device unless use_cpu
    args = parse_train_args(argv)
    m, d, r, g = args.model, args.data, args.reward, args.grpo
    assert m.model_name_or_path == "Qwen/Qwen2.5-Coder-7B-Instruct" and m.dtype == "bfloat16"
    assert (m.lora_enable, m.lora_r, m.lora_alpha, m.lora_dropout) == (True, 64, 128, 0.05)
    assert "q_proj" in m.lora_target_modules and "down_proj" in m.lora_target_modules
    assert r.dimensions == ["correctness", "efficiency", "comment", "maintainability"]
    assert json.loads(r.fixed_weights or "")["correctness"] == 0.5
    assert d.max_prompt_length == 1024 and d.eval_epochs and d.save_epochs
    assert (g.num_generations, g.num_iterations, g.learning_rate) == (8, 3, 1e-5)
    assert g.lr_scheduler_type.value == "cosine" and g.warmup_steps == 0.05
    assert g.bf16 and g.gradient_checkpointing and g.max_completion_length == 1024
    assert g.report_to == ["tensorboard"]
    assert g.generation_batch_size % g.num_generations == 0
    assert (g.per_device_eval_batch_size * g.world_size) % g.num_generations == 0


@needs_data
@pytest.mark.slow
def test_7b_recipe_prepares_with_the_tiny_model_and_local_data(tmp_path: Path, tiny_path: str) -> None:
    """The 7B recipe end to end up to `trainer.train()`, with the tiny model standing in for the 7B one
    (no GPU, no hub) and the local LeetCodeDataset files: data loading, length filter, epoch schedules,
    LoRA wrapping and the greedy-eval callback all accept the recipe's values."""
    argv = [
        "--config", str(CONFIGS / "qwen2.5-coder-7b-lora.yaml"), "--model_name_or_path", tiny_path,
        "--use_cpu", "true", "--bf16", "false", "--dtype", "float32", "--gradient_checkpointing", "false",
        "--meta_data", str(V020), "--meta_data_test", str(V031),
        "--output_dir", str(tmp_path / "out"), "--report_to", "none",
    ]  # fmt: skip
    run = train_mod.prepare_training(parse_train_args(argv))
    args = run.trainer.args
    assert type(run.trainer.model).__name__.startswith("PeftModel")
    per_epoch = epochs_to_steps(1, run.num_train_prompts, args)
    assert run.steps_per_epoch == per_epoch and run.eval_steps == epochs_to_steps(
        0.5, run.num_train_prompts, args
    )
    assert args.save_steps % args.num_iterations == 0  # whole generation cycles: exact resume
    assert run.greedy_eval is not None and len(run.greedy_eval.problems) == run.num_eval_prompts > 0
    assert run.greedy_eval.max_new_tokens == 1024
    assert args.reward_weights == pytest.approx([0.5, 0.2, 0.2, 0.1])


def test_cpu_smoke_config_parses_and_flags_override_it() -> None:
    args = parse_train_args(["--config", str(CONFIGS / "cpu-smoke.yaml"), "--max_steps", "7"])
    assert args.model.model_name_or_path == "tiny" and args.data.meta_data == "builtin"
    assert args.grpo.use_cpu and not args.grpo.bf16 and args.grpo.max_steps == 7


def test_shipped_deepspeed_and_accelerate_configs_are_valid() -> None:
    assert json.loads((CONFIGS / "deepspeed_zero2.json").read_text())["zero_optimization"]["stage"] == 2
    assert json.loads((CONFIGS / "deepspeed_zero3.json").read_text())["zero_optimization"]["stage"] == 3
    acc = yaml.safe_load((CONFIGS / "accelerate_multi_gpu.yaml").read_text())
    assert acc["distributed_type"] == "MULTI_GPU" and acc["num_processes"] >= 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--reward_dimensions", "correctness,speed"], "reward_dimensions"),
        (["--fixed_weights", "{bad"], "not valid JSON"),
        (["--fixed_weights", '{"speed": 1}'], "unknown reward dimension"),
        (["--fixed_weights", "[1, 2]"], "JSON object"),
        (["--num_generations", "1"], "at least 2 generations"),
        (["--eval_epochs", "0"], "must be positive"),
        (["--load_from_pretrained_step", "3"], "needs --load_from_pretrained"),
        (["--config", "/nonexistent/config.yaml"], "no such file"),
    ],
)
def test_bad_options_are_user_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_train_args(argv)


def test_unknown_yaml_key_is_user_error(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("model_name_or_path: tiny\nnot_an_option: 3\n")
    with pytest.raises(UserError, match="not_an_option"):
        parse_train_args(["--config", str(config)])


def test_yaml_lists_and_mappings_are_accepted(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "reward_dimensions: [maintainability, correctness]\n"
        "fixed_weights: {correctness: 0.9, maintainability: 0.1}\n"
        "difficulty: Easy,Hard\nuse_cpu: true\n"
    )
    args = parse_train_args(["--config", str(config)])
    assert args.reward.dimensions == ["correctness", "maintainability"]
    assert json.loads(args.reward.fixed_weights or "") == {"correctness": 0.9, "maintainability": 0.1}
    assert args.data.difficulty == ["Easy", "Hard"]


# ---------------------------------------------------------------- resume lookup


def test_resume_checkpoint_lookup(tmp_path: Path) -> None:
    for step in (2, 10):
        (tmp_path / f"checkpoint-{step}").mkdir()
    (tmp_path / "checkpoint-x").mkdir()
    assert resolve_resume_checkpoint(str(tmp_path), 10) == str(tmp_path / "checkpoint-10")
    assert resolve_resume_checkpoint(str(tmp_path), None) == str(tmp_path / "checkpoint-10")  # latest
    with pytest.raises(UserError, match=r"no checkpoint-5 \(available steps: 2, 10\)"):
        resolve_resume_checkpoint(str(tmp_path), 5)
    with pytest.raises(UserError, match="no such directory"):
        resolve_resume_checkpoint(str(tmp_path / "missing"), 2)
    single = tmp_path / "checkpoint-2"
    (single / "trainer_state.json").write_text("{}")
    assert resolve_resume_checkpoint(str(single), None) == str(single)  # DIR is one checkpoint
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="available steps: none"):
        resolve_resume_checkpoint(str(empty), 1)


# ---------------------------------------------------------------- epochs -> steps


@pytest.mark.parametrize(
    "num_prompts, batch, generations, accum, iterations, steps_per_generation, epochs",
    [
        (8, 2, 2, 1, 1, None, 1),  # 1 prompt x 2 generations per step: 8 steps
        (7, 2, 2, 2, 1, None, 1),  # 2 prompts per generation batch, the 7th prompt is skipped
        (7, 2, 2, 2, 3, None, 1),  # each generation batch reused 3 times
        (10, 4, 4, 3, 2, None, 2),  # two epochs
        (9, 2, 2, 2, 1, 4, 1),  # steps_per_generation != gradient_accumulation_steps
        (9, 2, 2, 4, 2, 2, 1),  # steps_per_generation < gradient_accumulation_steps
        (7, 2, 2, 4, 1, 2, 1),  # 6 micro-steps, accumulation 4: the last optimizer step is partial
        (12, 3, 3, 1, 1, None, 0.5),  # fractional epochs round up like the Trainer
    ],
)
def test_epochs_to_steps_matches_trainer_max_steps(
    tmp_path: Path,
    tiny_path: str,
    tokenizer: Any,
    num_prompts: int,
    batch: int,
    generations: int,
    accum: int,
    iterations: int,
    steps_per_generation: int | None,
    epochs: float,
) -> None:
    """The Trainer's own step arithmetic over GRPOTrainer's real dataloader gives the same number."""
    from trl import GRPOTrainer

    args = grpo_config(
        tmp_path,
        per_device_train_batch_size=batch,
        num_generations=generations,
        gradient_accumulation_steps=accum,
        num_iterations=iterations,
        steps_per_generation=steps_per_generation,
        num_train_epochs=epochs,
    )
    dataset = build_prompt_dataset(problems(num_prompts)).dataset
    trainer = GRPOTrainer(
        model=tiny_path,
        reward_funcs=[lambda completions, **kw: [0.0] * len(completions)],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    values = trainer.set_initial_training_values(args, trainer.get_train_dataloader())
    trainer_per_epoch, trainer_max_steps = values[1], values[-1]
    assert steps_per_epoch(num_prompts, args) == trainer_per_epoch
    assert epochs_to_steps(epochs, num_prompts, args) == trainer_max_steps


def test_epochs_to_steps_matches_a_real_epoch(
    tmp_path: Path, tiny_path: str, tokenizer: Any, stand_in_rewards: list[dict[str, Any]]
) -> None:
    """Train one real epoch: global_step and the generation rounds are what the formula says.

    7 prompts, 2 prompts per generation batch (2 x 2 generations, accumulation 2) -> 3 generation rounds
    (the 7th prompt is skipped); each round is reused num_iterations=2 times -> 3 * 2 = 6 optimizer steps.
    """
    from trl import GRPOTrainer

    args = grpo_config(
        tmp_path,
        per_device_train_batch_size=2,
        num_generations=2,
        gradient_accumulation_steps=2,
        num_iterations=2,
        num_train_epochs=1,
    )
    funcs, _, _ = train_mod.build_rewards(problems(7), train_mod.parse_train_args([]).reward)
    trainer = GRPOTrainer(
        model=tiny_path,
        reward_funcs=funcs,
        args=args,
        train_dataset=build_prompt_dataset(problems(7)).dataset,
        processing_class=tokenizer,
    )
    trainer.train()
    assert trainer.state.global_step == epochs_to_steps(1, 7, args) == 6
    assert [c["n"] for c in stand_in_rewards] == [4, 4, 4]  # 3 generation rounds of 2 prompts x 2
    seen = [t for c in stand_in_rewards for t in c["task_id"]]
    assert len(set(seen)) == 6 and all(seen.count(t) == 2 for t in set(seen))


@pytest.mark.parametrize(
    "overrides, cycle, boundaries",
    [
        ({}, 1, [1, 2, 3, 4, 5, 6]),  # a fresh generation every step
        ({"num_iterations": 3}, 3, [3, 6]),
        ({"gradient_accumulation_steps": 2, "num_iterations": 2}, 2, [2, 4, 6]),
        ({"gradient_accumulation_steps": 2, "steps_per_generation": 4}, 2, [2, 4, 6]),
        ({"gradient_accumulation_steps": 2, "steps_per_generation": 3}, 3, [3, 6]),
    ],
)
def test_generation_cycle_and_exact_resume_boundaries(
    tmp_path: Path, overrides: dict[str, Any], cycle: int, boundaries: list[int]
) -> None:
    from grpo4codegen.training.config import at_generation_boundary, generation_cycle_steps

    values = {"per_device_train_batch_size": 2, "num_generations": 2, **overrides}
    args = grpo_config(tmp_path, **values)
    assert generation_cycle_steps(args) == cycle
    num_prompts = 60  # long epochs: no epoch boundary within the steps checked
    assert [s for s in range(1, 7) if at_generation_boundary(s, num_prompts, args)] == boundaries


def test_too_few_prompts_for_a_generation_batch(tmp_path: Path) -> None:
    args = grpo_config(
        tmp_path, per_device_train_batch_size=4, num_generations=2, gradient_accumulation_steps=2
    )
    with pytest.raises(UserError, match="cannot fill one generation batch of 4"):
        steps_per_epoch(3, args)


# ---------------------------------------------------------------- datasets


def test_prompt_dataset_rows_and_length_filter(tokenizer: Any, caplog: pytest.LogCaptureFixture) -> None:
    from grpo4codegen.data.loader import problem_from_row

    probs = [problem_from_row(problem_row(i, words=400 if i == 1 else 5)) for i in range(3)]
    built = build_prompt_dataset(probs, tokenizer, max_prompt_length=200)
    ds = built.dataset
    assert ds.column_names == ["prompt", "task_id"]
    assert ds["task_id"] == ["task-00", "task-02"] and built.dropped == ["task-01"]
    assert ds[0]["prompt"] == chat_messages(probs[0])
    assert 0 < built.longest_kept <= 200
    assert "dropped 1 of 3 training problems" in caplog.text
    with pytest.raises(UserError, match="no training problems left"):
        build_prompt_dataset(probs[1:2], tokenizer, max_prompt_length=200)
    assert len(build_prompt_dataset(probs).dataset) == 3  # no limit, no tokenizer needed


def test_tokenizer_without_chat_template_is_user_error(tokenizer: Any) -> None:
    import copy

    plain = copy.deepcopy(tokenizer)
    plain.chat_template = None
    with pytest.raises(UserError, match="no chat template"):
        build_prompt_dataset(problems(1), plain, max_prompt_length=100)


def _first_seen(trainer: Any) -> list[str]:
    """Task ids in the order the trainer's dataloader first yields them."""
    order: list[str] = []
    for batch in trainer.get_train_dataloader():
        for row in batch:
            if row["task_id"] not in order:
                order.append(row["task_id"])
    return order


def test_curriculum_order_survives_the_trainer_sampler(
    tmp_path: Path, tiny_path: str, stand_in_rewards: list[dict[str, Any]]
) -> None:
    difficulties = ["Hard", "Easy", "Medium", "Easy", "Hard", "Medium", "Easy", "Hard", "Medium", "Easy"]
    data = write_problems(tmp_path / "p.jsonl", [problem_row(i, d) for i, d in enumerate(difficulties)])
    common = [
        "--model_name_or_path", tiny_path, "--meta_data", data, "--use_cpu", "true", "--report_to", "none",
        "--per_device_train_batch_size", "2", "--num_generations", "2", "--max_completion_length", "4",
    ]  # fmt: skip
    rank = {"Easy": 0, "Medium": 1, "Hard": 2}
    expected = [f"task-{i:02d}" for i in sorted(range(10), key=lambda i: rank[difficulties[i]])]

    curriculum = train_mod.prepare_training(
        parse_train_args([*common, "--curriculum", "--output_dir", str(tmp_path / "a")])
    )
    assert curriculum.trainer.args.shuffle_dataset is False
    assert _first_seen(curriculum.trainer) == expected

    shuffled = train_mod.prepare_training(parse_train_args([*common, "--output_dir", str(tmp_path / "b")]))
    assert shuffled.trainer.args.shuffle_dataset is True
    order = _first_seen(shuffled.trainer)
    assert sorted(order) == sorted(expected) and order != [f"task-{i:02d}" for i in range(10)]


def test_epoch_schedules_become_steps(
    tmp_path: Path, tiny_path: str, stand_in_rewards: list[dict[str, Any]]
) -> None:
    data = write_problems(tmp_path / "p.jsonl", [problem_row(i) for i in range(8)])
    common = [
        "--model_name_or_path", tiny_path, "--meta_data", data, "--use_cpu", "true", "--report_to", "none",
        "--per_device_train_batch_size", "2", "--per_device_eval_batch_size", "2", "--num_generations", "2",
        "--num_iterations", "2", "--max_completion_length", "4", "--output_dir", str(tmp_path / "out"),
    ]  # fmt: skip
    with pytest.raises(UserError, match="--eval_epochs needs"):
        train_mod.prepare_training(parse_train_args([*common, "--eval_epochs", "1", "--eval_holdout", "0"]))
    run = train_mod.prepare_training(
        parse_train_args([*common, "--meta_data_test", data, "--eval_epochs", "0.5", "--save_epochs", "1"])
    )
    args = run.trainer.args
    # 8 prompts, 1 prompt per generation batch, reused twice -> 16 steps per epoch
    assert run.steps_per_epoch == 16 and run.num_eval_prompts == 8
    # --eval_epochs drives the greedy evaluation callback; TRL's sampled eval loop stays off
    assert run.eval_steps == 8 and run.greedy_eval is not None and run.greedy_eval.eval_steps == 8
    assert run.greedy_eval in run.trainer.callback_handler.callbacks
    assert args.eval_strategy.value == "no"
    assert (args.save_strategy.value, args.save_steps) == ("steps", 16)
    # 1/16 epoch is 1 step, inside a 2-step generation cycle (num_iterations=2): rounded up to 2
    rounded = train_mod.prepare_training(
        parse_train_args([*common, "--save_epochs", "0.0625", "--output_dir", str(tmp_path / "rounded")])
    )
    assert rounded.trainer.args.save_steps == 2
    assert args.reward_weights == [1.0]  # from the factory
    saved = json.loads((tmp_path / "out" / train_mod.ARGS_FILE).read_text())
    assert saved["data"]["eval_epochs"] == 0.5 and saved["model"]["model_name_or_path"] == tiny_path


def test_lora_config_from_flags() -> None:
    args = parse_train_args(
        ["--lora_enable", "--lora_r", "4", "--lora_alpha", "8", "--lora_target_modules", "all-linear"]
    )
    config = train_mod.lora_config(args.model)
    assert (config.r, config.lora_alpha, config.target_modules, config.task_type) == (
        4,
        8,
        "all-linear",
        "CAUSAL_LM",
    )
