"""`grpo4codegen sft`: options, the prompt-completion rows (GRPO's chat prompts, loss on the answer
only), LoRA merged into a model that `train` and `generate` load, resume, TensorBoard."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("tensorboard")

from grpo4codegen.cli import main  # noqa: E402
from grpo4codegen.data import chat_messages, load_problems  # noqa: E402
from grpo4codegen.errors import UserError  # noqa: E402
from grpo4codegen.training import sft  # noqa: E402

TASKS = "pair-sum-count,count-smaller-per-query"


@pytest.fixture(autouse=True)
def tiny_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "GRPO4CODEGEN_CACHE", str(Path(tempfile.gettempdir()) / f"grpo4codegen-test-cache-{os.getuid()}")
    )


def _flags(out: Path, *extra: str) -> list[str]:
    return [
        "sft", "--model_name_or_path", "tiny", "--task_ids", TASKS, "--output_dir", str(out),
        "--use_cpu", "true", "--bf16", "false", "--per_device_train_batch_size", "2", "--max_steps", "2",
        "--learning_rate", "1e-3", "--logging_steps", "1", "--report_to", "tensorboard", "--seed", "0",
        "--disable_tqdm", "true", *extra,
    ]  # fmt: skip


def test_config_yaml_and_flags(tmp_path: Path) -> None:
    config = tmp_path / "sft.yaml"
    config.write_text(
        "model_name_or_path: tiny\ntask_ids: pair-sum-count\nlearning_rate: 1.0e-3\nlora_enable: true\n"
    )
    args = sft.parse_sft_args(
        ["--config", str(config), "--learning_rate", "2e-4", "--output_dir", str(tmp_path)]
    )
    assert args.sft.learning_rate == 2e-4  # flag overrides YAML
    assert args.model.lora_enable and args.data.task_ids == ["pair-sum-count"]
    assert args.sft.completion_only_loss is True and args.sft.max_length == 2048
    with pytest.raises(UserError, match="no such file"):
        sft.parse_sft_args(["--completions", str(tmp_path / "missing.jsonl")])


def test_rows_are_grpo_prompts_and_fenced_answers(tmp_path: Path) -> None:
    problems = [p for p in load_problems("builtin") if p.task_id in TASKS.split(",")]
    examples = sft.sft_examples(problems, None)
    dataset = sft.build_sft_dataset(problems, examples)
    assert len(dataset) == 2
    assert dataset[0]["prompt"] == chat_messages(problems[0])  # exactly what GRPO and generate send
    answer = dataset[0]["completion"][0]
    assert answer["role"] == "assistant" and answer["content"].startswith("```python\nclass Solution")

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"task_id": "no-such-task", "completion": "x = 1"}) + "\n")
    with pytest.raises(UserError, match="not among the selected problems"):
        sft.sft_examples(problems, sft.read_completions(bad))
    bad.write_text(json.dumps({"task_id": "pair-sum-count"}) + "\n")
    with pytest.raises(UserError, match="needs `task_id` and `completion`"):
        sft.read_completions(bad)
    bad.write_text("{not json\n")
    with pytest.raises(UserError, match="line 1 is not JSON"):
        sft.read_completions(bad)


@pytest.mark.timeout(900)
def test_lora_sft_output_loads_in_generate_and_train(tmp_path: Path) -> None:
    """LoRA SFT with a completions file: loss on the answer only, merged output, resume, TensorBoard."""
    from safetensors.torch import load_file

    from grpo4codegen.evaluation.backends import resolve_model_source
    from grpo4codegen.evaluation.generate import GenerationSettings, run_generation
    from grpo4codegen.evaluation.hf_backend import HFBackend
    from grpo4codegen.training.config import parse_train_args
    from grpo4codegen.training.tiny import tiny_model_dir
    from grpo4codegen.training.train import prepare_training

    answers = tmp_path / "answers.jsonl"
    answers.write_text(
        "".join(
            json.dumps({"task_id": t, "completion": f"```python\nclass Solution:\n    pass  # {t}\n```"})
            + "\n"
            for t in TASKS.split(",")
        )
    )
    out = tmp_path / "sft"
    lora = ["--lora_enable", "--lora_r", "4", "--lora_alpha", "8", "--lora_dropout", "0"]
    assert main(_flags(out, "--completions", str(answers), "--save_steps", "1", *lora)) == 0

    # a plain model: LoRA merged, no adapter files, weights changed, tokenizer with the chat template
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()
    before, after = load_file(tiny_model_dir() / "model.safetensors"), load_file(out / "model.safetensors")
    assert before.keys() == after.keys()
    assert any(not (before[k] == after[k]).all() for k in before if "proj" in k), "LoRA was not merged"
    assert (
        json.loads((out / "tokenizer_config.json").read_text()).get("chat_template")
        or (out / "chat_template.jinja").is_file()
    )
    # checkpoints hold the adapter; TensorBoard has the loss
    assert (out / "checkpoint-1" / "adapter_model.safetensors").is_file()
    assert list(out.glob("runs/*/events.out.tfevents.*"))

    # generate loads it as a model
    problems = [p for p in load_problems("builtin") if p.task_id == "pair-sum-count"]
    backend = HFBackend(resolve_model_source(str(out)), "sft", batch_size=1, device="cpu")
    gens = tmp_path / "gens.jsonl"
    run_generation(backend, problems, 1, GenerationSettings(max_new_tokens=8), gens, progress=False)
    assert json.loads(gens.read_text().splitlines()[0])["task_id"] == "pair-sum-count"

    # train accepts it as --model_name_or_path
    run = prepare_training(
        parse_train_args(
            ["--model_name_or_path", str(out), "--output_dir", str(tmp_path / "grpo"), "--use_cpu", "true",
             "--bf16", "false", "--per_device_train_batch_size", "2", "--num_generations", "2",
             "--max_steps", "1", "--report_to", "none"]
        )
    )  # fmt: skip
    assert run.trainer.model.config.hidden_size == before["model.embed_tokens.weight"].shape[1]

    # resume from checkpoint-1: only step 2 runs again
    resumed = tmp_path / "resumed"
    flags = _flags(resumed, "--completions", str(answers), "--save_steps", "1", *lora)
    assert main([*flags, "--load_from_pretrained", str(out), "--load_from_pretrained_step", "1"]) == 0
    state = json.loads((resumed / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["global_step"] == 2 and not (resumed / "checkpoint-1").exists()
    # step 1's log comes with the restored state; step 2 is trained once more
    assert [e["step"] for e in state["log_history"] if "loss" in e] == [1, 2]


def test_loss_is_on_the_answer_only(tmp_path: Path) -> None:
    """TRL's completion mask covers the answer tokens and none of the prompt's."""
    from trl import SFTTrainer

    from grpo4codegen.training.tiny import resolve_model_path
    from grpo4codegen.training.train import load_tokenizer

    args = sft.parse_sft_args(
        ["--task_ids", "pair-sum-count", "--output_dir", str(tmp_path), "--use_cpu", "true", "--bf16", "false",
         "--report_to", "none", "--max_steps", "1"]
    )  # fmt: skip
    problems = sft.load_sft_problems(args.data)
    dataset = sft.build_sft_dataset(problems, sft.sft_examples(problems, None))
    path = resolve_model_path("tiny")
    tokenizer = load_tokenizer(path)
    trainer = SFTTrainer(model=path, args=args.sft, train_dataset=dataset, processing_class=tokenizer)
    row = trainer.train_dataset[0]
    prompt = tokenizer.apply_chat_template(
        chat_messages(problems[0]), add_generation_prompt=True, tokenize=True
    )
    prompt_ids = prompt["input_ids"] if isinstance(prompt, dict) or hasattr(prompt, "keys") else prompt
    # trl 1.16 turns the completion mask into labels (-100 on every prompt token); older ones keep the mask
    mask = row["completion_mask"] if "completion_mask" in row else [label != -100 for label in row["labels"]]
    assert row["input_ids"][: len(prompt_ids)] == list(prompt_ids)
    assert not any(mask[: len(prompt_ids)]) and all(mask[len(prompt_ids) :])
    answer = tokenizer.decode([t for t, m in zip(row["input_ids"], mask, strict=True) if m])
    assert answer.startswith("```python\nclass Solution") and problems[0].reference_solution.strip() in answer
