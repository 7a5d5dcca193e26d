"""`grpo4codegen generate`: resumable rows, the OpenAI backend over real HTTP, the hf backend on the tiny
model, and the LoRA round trip (a trained adapter must change what the model generates)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request  # module level: FastAPI resolves the endpoint's string annotations here
from fastapi.responses import JSONResponse

from grpo4codegen.cli import main
from grpo4codegen.data import load_problems
from grpo4codegen.data.prompts import user_prompt
from grpo4codegen.errors import UserError
from grpo4codegen.evaluation.backends import resolve_model_source

REPO = Path(__file__).resolve().parents[1]
TASKS = ["pair-sum-count", "rotate-list-right", "max-pair-xor"]


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _generate(*flags: str) -> int:
    return main(["generate", "--no-progress", "--task-ids", *TASKS, *flags])


# -- resumability ---------------------------------------------------------------------------------
def test_rerun_resumes_after_an_interrupted_write(tmp_path: Path) -> None:
    out = tmp_path / "gen.jsonl"
    assert _generate("--backend", "dataset", "--n", "2", "-o", str(out)) == 0
    full = _rows(out)
    assert [(r["task_id"], r["sample"]) for r in full] == [(t, s) for t in TASKS for s in (0, 1)]
    assert full[0]["settings"] == {"backend": "dataset", "temperature": 0.0, "top_p": 1.0,
                                   "max_new_tokens": 1024, "seed": 0}  # fmt: skip
    assert full[0]["model"] == "dataset:completion" and full[0]["completion"].startswith("```python\n")
    # an interrupted run: two rows lost, the last one half written
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:3]) + lines[3][:25])
    assert _generate("--backend", "dataset", "--n", "3", "-o", str(out)) == 0
    rows = _rows(out)
    assert sorted((r["task_id"], r["sample"]) for r in rows) == sorted(
        (t, s) for t in TASKS for s in range(3)
    )
    assert rows[:3] == full[:3]  # finished rows are kept as they were

    assert _generate("--backend", "dataset", "--temperature", "0.5", "-o", str(out)) == 2  # other settings
    assert _generate("--backend", "dataset", "--field", "response", "-o", str(out)) == 2  # other model


def test_dataset_backend_skips_problems_without_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "resp.jsonl"
    assert (
        _generate("--backend", "dataset", "--field", "response", "-o", str(out)) == 0
    )  # built-ins have none
    assert not out.exists() or not out.read_text()
    assert "skipping 3 problems without a `response`" in capsys.readouterr().err


def test_lora_checkpoints_resolve_to_their_base(tmp_path: Path) -> None:
    adapter = tmp_path / "checkpoint-3"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/models/base"}))
    assert resolve_model_source(str(adapter)).base == "/models/base"
    assert resolve_model_source(str(adapter)).adapter == str(adapter)
    assert resolve_model_source(str(adapter), base_model="/other").base == "/other"
    assert resolve_model_source("/models/full").adapter is None
    with pytest.raises(UserError, match="adapter_config.json"):
        resolve_model_source("/models/base", adapter=str(tmp_path))


def test_vllm_without_the_package_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # absent even where it is installed
    assert _generate("--backend", "vllm", "--model", "some/model", "-o", str(tmp_path / "g.jsonl")) == 2
    assert "needs the vllm package" in capsys.readouterr().err


# -- OpenAI-compatible endpoint -------------------------------------------------------------------
@contextmanager
def openai_server(answer: Callable[[dict[str, Any]], tuple[int, str]]) -> Iterator[str]:
    """A real HTTP server on a free local port implementing POST /v1/chat/completions; yields its base URL.

    `answer(request_body)` returns (HTTP status, assistant text).
    """
    import uvicorn

    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        if request.headers.get("authorization") != "Bearer test-key":
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        status, text = answer(body)
        if status != 200:
            return JSONResponse({"error": {"message": text}}, status_code=status)
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        usage = {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}
        return JSONResponse({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                             "choices": [choice], "usage": usage})  # fmt: skip

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "test server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(10)


_BY_PROMPT = {user_prompt(p): p for p in load_problems("builtin")}


def task_of(body: dict[str, Any]) -> str:
    """The built-in problem a chat request asks about."""
    return _BY_PROMPT[body["messages"][-1]["content"]].task_id


def reference_answer(body: dict[str, Any]) -> tuple[int, str]:
    """An endpoint that answers each built-in problem with its reference solution."""
    code = _BY_PROMPT[body["messages"][-1]["content"]].reference_solution
    return 200, f"Here is my solution:\n```python\n{code}```\n"


@pytest.fixture
def openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("G4C_TEST_KEY", "test-key")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def test_openai_backend_retries_and_resumes(tmp_path: Path, openai_env: None) -> None:
    bodies: list[dict[str, Any]] = []
    attempts: dict[tuple[str, int], int] = {}
    down = {"max-pair-xor"}

    def flaky(body: dict[str, Any]) -> tuple[int, str]:
        bodies.append(body)
        key = (task_of(body), body["seed"])
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] == 1:
            return 503, "warming up"  # every request fails once: retried with backoff
        if task_of(body) in down:
            return 500, "broken"
        return reference_answer(body)

    out = tmp_path / "api.jsonl"
    flags = ["--backend", "openai", "--model", "served-model", "--api-key-env", "G4C_TEST_KEY", "--n", "2",
             "--temperature", "0.7", "--max-new-tokens", "64", "--concurrency", "3", "--retries", "2",
             "--retry-backoff", "0.01", "-o", str(out)]  # fmt: skip
    with openai_server(flaky) as url:
        assert _generate(*flags, "--base-url", url) == 3  # one problem kept failing: infrastructure error
    rows = _rows(out)
    assert sorted({r["task_id"] for r in rows}) == ["pair-sum-count", "rotate-list-right"]
    assert len(rows) == 4 and all("```python" in r["completion"] for r in rows)
    assert rows[0]["model"] == "served-model" and rows[0]["usage"]["completion_tokens"] == 20
    assert rows[0]["settings"]["temperature"] == 0.7 and rows[0]["source"]["base_url"] == url
    assert bodies[0]["temperature"] == 0.7 and bodies[0]["max_tokens"] == 64
    assert bodies[0]["messages"][0]["role"] == "system"
    assert len({r["sample_seed"] for r in rows}) == 4  # each sample has its own seed, sent along
    assert {r["sample_seed"] for r in rows} <= {b["seed"] for b in bodies}
    assert sum(n for (t, _), n in attempts.items() if t == "max-pair-xor") == 2 * 3  # 1 try + 2 retries each

    # the endpoint recovered: a rerun asks only for the two missing samples
    bodies.clear()
    with openai_server(lambda body: (bodies.append(body), reference_answer(body))[1]) as url:
        assert _generate(*flags, "--base-url", url) == 0
    assert [task_of(b) for b in bodies] == ["max-pair-xor"] * 2 and len(_rows(out)) == 6


def test_openai_backend_stops_on_a_bad_key(
    tmp_path: Path, openai_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("G4C_TEST_KEY", "wrong")
    with openai_server(reference_answer) as url:
        flags = ["--backend", "openai", "--base-url", url, "--model", "m", "--api-key-env", "G4C_TEST_KEY"]
        assert _generate(*flags, "-o", str(tmp_path / "g.jsonl")) == 2
    assert "AuthenticationError" in capsys.readouterr().err


# -- hf backend -----------------------------------------------------------------------------------
@pytest.fixture
def tiny_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny model, shared between test runs in a per-user temp cache (the build is atomic)."""
    pytest.importorskip("transformers")
    cache = Path(tempfile.gettempdir()) / f"grpo4codegen-test-cache-{os.getuid()}"
    monkeypatch.setenv("GRPO4CODEGEN_CACHE", str(cache))


def test_hf_backend_samples_reproducibly(tmp_path: Path, tiny_cache: None) -> None:
    flags = ["--backend", "hf", "--model", "tiny", "--n", "2", "--temperature", "0.8", "--max-new-tokens", "12",
             "--batch-size", "4"]  # fmt: skip
    assert _generate(*flags, "-o", str(tmp_path / "a.jsonl")) == 0
    assert _generate(*flags, "-o", str(tmp_path / "b.jsonl")) == 0
    a, b = _rows(tmp_path / "a.jsonl"), _rows(tmp_path / "b.jsonl")
    assert len(a) == 6 and {r["finish_reason"] for r in a} <= {"stop", "length"}
    key = sorted((r["task_id"], r["sample"], r["completion"]) for r in a)
    assert key == sorted((r["task_id"], r["sample"], r["completion"]) for r in b)  # same seed, same samples
    assert a[0]["model"] == "tiny" and a[0]["source"]["adapter"] is None
    assert a[0]["usage"]["prompt_tokens"] > 100  # the chat-templated prompt, not the bare question


@pytest.fixture
def length_reward(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand-in reward for training: completion length varies, so GRPO has a gradient to follow."""

    def build_reward_funcs(problems: Any, reward_args: Any) -> tuple[list[Any], list[float], list[Any]]:
        def length(prompts: Any, completions: list[Any], **kwargs: Any) -> list[float]:
            return [len(c[0]["content"]) / 100.0 for c in completions]

        return [length], [1.0], []

    module = types.ModuleType("grpo4codegen.rewards.trl_rewards")
    module.build_reward_funcs = build_reward_funcs  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)


@pytest.mark.slow
def test_lora_checkpoint_generates_differently_from_its_base(
    tmp_path: Path, tiny_cache: None, length_reward: None, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("peft")
    run = tmp_path / "run"
    train = ["train", "--config", str(REPO / "configs" / "cpu-smoke.yaml"), "--output_dir", str(run),
             "--max_steps", "1", "--save_steps", "1", "--learning_rate", "5e-2", "--max_completion_length", "8",
             "--report_to", "none", "--lora_enable", "--lora_r", "4", "--lora_alpha", "16",
             "--lora_target_modules", "q_proj", "v_proj"]  # fmt: skip
    assert main(train) == 0
    checkpoint = run / "checkpoint-1"
    assert (checkpoint / "adapter_config.json").is_file() and not (checkpoint / "model.safetensors").exists()

    # sampling with one seed: the same random draws, so any difference comes from the weights (the tiny
    # random model's greedy answer is a run of newlines either way)
    sampled = ["--backend", "hf", "--temperature", "1.0", "--max-new-tokens", "12", "--task-ids", *TASKS]
    outputs = {}
    for name, model in (("base", ["--model", "tiny"]), ("lora", ["--model", str(checkpoint)]),
                        ("merged", ["--model", str(checkpoint), "--merge-lora"])):  # fmt: skip
        path = tmp_path / f"{name}.jsonl"
        assert main(["generate", "--no-progress", *sampled, *model, "-o", str(path)]) == 0
        outputs[name] = _rows(path)
    texts = {name: [r["completion"] for r in rows] for name, rows in outputs.items()}
    assert any(a != b for a, b in zip(texts["base"], texts["lora"], strict=True)), (
        "the adapter was not applied"
    )
    assert texts["merged"] == texts["lora"]
    assert outputs["lora"][0]["source"]["adapter"] == str(checkpoint)
    assert outputs["merged"][0]["source"]["merged"] is True

    # an adapter whose tensors do not fit the model is refused, not silently dropped
    broken = tmp_path / "broken"
    shutil.copytree(checkpoint, broken)
    from safetensors.torch import load_file, save_file

    weights = load_file(broken / "adapter_model.safetensors")
    save_file(
        {k.replace("layers.", "blocks."): v for k, v in weights.items()}, broken / "adapter_model.safetensors"
    )
    assert (
        main(["generate", "--no-progress", *sampled, "--model", str(broken), "-o", str(tmp_path / "x.jsonl")])
        == 3
    )
    assert "0 of 8 LoRA tensors reached the model" in capsys.readouterr().err
