"""The tiny model builds offline, reloads through from_pretrained, chats, generates, and builds atomically."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from grpo4codegen.data import Problem, chat_messages  # noqa: E402
from grpo4codegen.training import tiny  # noqa: E402


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.ensure_tiny_model(tmp_path_factory.mktemp("cache") / "tiny-qwen2")


def _problem() -> Problem:
    return Problem(
        task_id="add-two",
        entry_point="Solution().add",
        preamble="",
        tests=[],
        description="Return the sum of a and b.",
        starter_code="class Solution:\n    def add(self, a: int, b: int) -> int:\n        ",
    )


def test_resolve_model_path_uses_cache_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built: Path
) -> None:
    monkeypatch.setenv("GRPO4CODEGEN_CACHE", str(built.parent))
    assert tiny.resolve_model_path("tiny") == str(built)
    assert tiny.resolve_model_path("Qwen/Qwen2.5-Coder-7B-Instruct") == "Qwen/Qwen2.5-Coder-7B-Instruct"
    assert tiny.resolve_model_path(str(tmp_path)) == str(tmp_path)


def test_saved_like_a_hub_model(built: Path) -> None:
    names = {p.name for p in built.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= names
    assert not [p for p in built.parent.iterdir() if ".tmp-" in p.name]  # temp dir renamed away
    config = json.loads((built / "config.json").read_text())
    assert config["model_type"] == "qwen2"
    assert config["hidden_size"] == tiny.HIDDEN_SIZE and config["num_hidden_layers"] == tiny.NUM_LAYERS
    assert (
        config["num_attention_heads"] == tiny.NUM_HEADS and config["num_key_value_heads"] == tiny.NUM_KV_HEADS
    )


def test_reload_chat_template_and_generate(built: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(built)
    model = AutoModelForCausalLM.from_pretrained(built)
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert model.config.vocab_size == len(tokenizer) <= 2048
    assert tokenizer.eos_token == tiny.IM_END and tokenizer.pad_token == tiny.ENDOFTEXT
    assert tokenizer.eos_token_id in model.generation_config.eos_token_id

    messages = chat_messages(_problem())
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text.startswith("<|im_start|>system\n")
    assert "<|im_start|>user\nReturn the sum of a and b." in text
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n")
    # special tokens are single ids, and text round-trips through the byte-level BPE
    assert len(tokenizer("<|im_start|>", add_special_tokens=False)["input_ids"]) == 1
    sample = "class Solution:\n    def f(self, xs: list[int]) -> int:\n        return sum(xs)  # héllo\n"
    assert tokenizer.decode(tokenizer(sample)["input_ids"]) == sample

    inputs = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    torch.manual_seed(0)
    out = model.generate(**inputs, max_new_tokens=8, do_sample=True)
    new = out[0, inputs["input_ids"].shape[1] :]
    assert 1 <= len(new) <= 8
    assert isinstance(tokenizer.decode(new, skip_special_tokens=True), str)


def test_same_weights_every_build(built: Path, tmp_path: Path) -> None:
    """Fixed seed and corpus: a rebuild elsewhere gives the same tokenizer and weights."""
    from safetensors.torch import load_file

    other = tiny.ensure_tiny_model(tmp_path / "tiny-qwen2")
    assert (other / "tokenizer.json").read_text() == (built / "tokenizer.json").read_text()
    a, b = load_file(built / "model.safetensors"), load_file(other / "model.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def test_reuse_and_stale_rebuild(tmp_path: Path) -> None:
    target = tmp_path / "tiny-qwen2"
    target.mkdir()
    (target / "config.json").write_text("{}")  # an interrupted foreign build: no marker
    assert not tiny.is_built(target)
    tiny.ensure_tiny_model(target)
    assert tiny.is_built(target)
    stamp = (target / "model.safetensors").stat().st_mtime_ns
    tiny.ensure_tiny_model(target)  # already there: not rebuilt
    assert (target / "model.safetensors").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny-qwen2"]


def test_concurrent_builders_do_not_corrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Builders that overlap all finish; exactly one build is renamed into place and no temp dir is left."""
    barrier = threading.Barrier(3)
    real_build = tiny.build_tiny_model

    def slow_build(out_dir: Path, *args: object) -> None:
        barrier.wait(timeout=30)  # every builder is past the "already built?" check before any renames
        real_build(out_dir, *args)

    monkeypatch.setattr(tiny, "build_tiny_model", slow_build)
    monkeypatch.setenv("GRPO4CODEGEN_CACHE", str(tmp_path))
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(tiny.resolve_model_path("tiny"))
        except BaseException as e:  # noqa: BLE001 - re-raised below in the test thread
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    target = tmp_path / "tiny-qwen2"
    assert results == [str(target)] * 3
    assert tiny.is_built(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny-qwen2"]

    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoModelForCausalLM.from_pretrained(target)  # the survivor is a complete model
    AutoTokenizer.from_pretrained(target)
