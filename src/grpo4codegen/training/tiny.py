"""Small, randomly initialised Qwen2-style models + tokenizer, built offline, for CPU demos and tests.

Two presets share one tokenizer and one build recipe:

* `tiny` (64 hidden, 2 layers): the smallest thing that runs the loop (smoke tests, checks);
* `tiny-learner` (128 hidden, 4 layers, about 1M parameters): big enough to memorise a few short
  solutions per problem in a minute of SFT, so that after a warm start (`grpo4codegen sft`) it samples
  a mixture of them and GRPO has something to learn (`grpo4codegen demo`, tests/test_learning.py).

`--model_name_or_path tiny` (or `tiny-learner`) resolves to a cache directory holding a real `save_pretrained` checkpoint, so
training, generation and evaluation load it with `AutoModelForCausalLM`/`AutoTokenizer.from_pretrained`
exactly as they load a hub model: no code path is special-cased for the tiny model except its build.

The tokenizer is a byte-level BPE trained in about a second on local text (the built-in problems plus a
fixed list of pure-Python stdlib modules), with Qwen's ChatML special tokens and chat template, so
prompts are rendered the way a Qwen2.5 instruct model renders them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

#: the model name that selects the tiny model
TINY_NAME = "tiny"
#: the model name that selects the learner preset
LEARNER_NAME = "tiny-learner"
#: bump when the recipe changes, so stale caches are rebuilt rather than silently reused
TINY_VERSION = 1
_MARKER = "grpo4codegen_tiny.json"

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END)

#: Qwen2.5-style ChatML, without Qwen's default system prompt and tool blocks (the tiny model has no tools)
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

#: Qwen2's pre-tokenisation regex (transformers.models.qwen2.tokenization_qwen2.PRETOKENIZE_REGEX)
QWEN2_PRETOKENIZE_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

VOCAB_SIZE = 1536
HIDDEN_SIZE = 64
INTERMEDIATE_SIZE = 128
NUM_LAYERS = 2
NUM_HEADS = 4
NUM_KV_HEADS = 2
#: long enough for real LeetCodeDataset prompts, which a 1.5k vocab splits into many tokens
MAX_POSITIONS = 8192
SEED = 1234


@dataclass(frozen=True)
class Preset:
    """Architecture of one local preset (the tokenizer is the same for all)."""

    directory: str
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int


PRESETS: dict[str, Preset] = {
    TINY_NAME: Preset("tiny-qwen2", HIDDEN_SIZE, INTERMEDIATE_SIZE, NUM_LAYERS, NUM_HEADS, NUM_KV_HEADS),
    LEARNER_NAME: Preset("tiny-learner-qwen2", 128, 384, 4, 4, 2),
}

#: pure-Python stdlib modules used as tokenizer training text (fixed list: same corpus on every machine
#: with the same Python); missing ones are skipped
_STDLIB_FILES = (
    "bisect.py",
    "heapq.py",
    "textwrap.py",
    "functools.py",
    "collections/__init__.py",
    "string.py",
    "fractions.py",
    "statistics.py",
    "queue.py",
    "dataclasses.py",
    "enum.py",
    "graphlib.py",
    "difflib.py",
    "random.py",
    "typing.py",
)
_MAX_CORPUS_CHARS = 1_500_000


def cache_root() -> Path:
    """`$GRPO4CODEGEN_CACHE`, else `~/.cache/grpo4codegen`."""
    env = os.environ.get("GRPO4CODEGEN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "grpo4codegen"


def tiny_model_dir(preset: str = TINY_NAME) -> Path:
    """Where a preset lives (built on first use)."""
    return cache_root() / PRESETS[preset].directory


def resolve_model_path(name: str) -> str:
    """The cache dir (built if needed) for a preset name (`tiny`, `tiny-learner`); other names unchanged."""
    if name in PRESETS:
        return str(ensure_tiny_model(preset=name))
    return name


def is_built(path: Path, preset: str = TINY_NAME) -> bool:
    """True when `path` holds a complete model of `preset` and the current recipe version."""
    marker = path / _MARKER
    try:
        info = json.loads(marker.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return info.get("version") == TINY_VERSION and info.get("preset", TINY_NAME) == preset


def ensure_tiny_model(path: Path | None = None, preset: str = TINY_NAME) -> Path:
    """Build the tiny model into `path` unless it is already there; safe against concurrent builders.

    The build happens in a sibling temp dir that is renamed into place in one step, so a reader never
    sees a half-written model; a process that loses the race discards its own copy.
    """
    target = Path(path) if path is not None else tiny_model_dir(preset)
    if is_built(target, preset):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        build_tiny_model(tmp, preset)
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary shared directory
        if target.exists() and not is_built(target, preset):
            # stale recipe or an interrupted foreign build: move it aside first (rename is atomic)
            stale = Path(tempfile.mkdtemp(prefix=f".{target.name}.stale-", dir=target.parent))
            try:
                os.replace(target, stale / "old")
            except OSError:
                pass  # someone else replaced it meanwhile
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if not is_built(target, preset):  # lost the race to a complete build: fine; anything else is not
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("built %s model in %s (%.1fs)", preset, target, time.monotonic() - started)
    return target


def build_tiny_model(out_dir: Path, preset: str = TINY_NAME) -> None:
    """Train the tokenizer, initialise the model with a fixed seed, and `save_pretrained` both."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    arch = PRESETS[preset]
    tokenizer = build_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=arch.hidden_size,
        intermediate_size=arch.intermediate_size,
        num_hidden_layers=arch.num_layers,
        num_attention_heads=arch.num_heads,
        num_key_value_heads=arch.num_kv_heads,
        max_position_embeddings=MAX_POSITIONS,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.convert_tokens_to_ids(ENDOFTEXT),
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END),
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.convert_tokens_to_ids(IM_END), tokenizer.convert_tokens_to_ids(ENDOFTEXT)],
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.convert_tokens_to_ids(ENDOFTEXT),
        do_sample=True,
        temperature=1.0,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / _MARKER).write_text(
        json.dumps({"version": TINY_VERSION, "preset": preset, "vocab_size": len(tokenizer), "seed": SEED}),
        "utf-8",
    )


def build_tokenizer():  # -> transformers.PreTrainedTokenizerFast (kept untyped: import is lazy)
    """Byte-level BPE over the local corpus, wrapped as a fast tokenizer with ChatML tokens."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    # Qwen2's own pipeline: AutoTokenizer picks Qwen2Tokenizer from config.json's model_type and rebuilds
    # exactly this normaliser/pre-tokeniser around the saved vocab, so training must use it too
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        unk_token=None,
        bos_token=None,
        model_max_length=MAX_POSITIONS,
        padding_side="left",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _corpus() -> Iterator[str]:
    """Problem texts, prompt boilerplate and stdlib source: the kind of text the tiny model will see."""
    from ..data import load_problems
    from ..data.prompts import SYSTEM_PROMPT

    yield SYSTEM_PROMPT
    yield "```python\nclass Solution:\n    def solve(self, nums: List[int]) -> int:\n        pass\n```\n"
    for problem in load_problems("builtin"):
        for text in (problem.description, problem.starter_code, problem.reference_solution, problem.query):
            if text:
                yield text
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    total = 0
    for rel in _STDLIB_FILES:
        try:
            text = (stdlib / rel).read_text("utf-8")
        except OSError:
            continue
        text = text[: _MAX_CORPUS_CHARS - total]
        total += len(text)
        yield text
        if total >= _MAX_CORPUS_CHARS:
            break
