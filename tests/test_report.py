"""`grpo4codegen report`, and the whole pipeline end to end on CPU: generate with the tiny model (hf) and
with an OpenAI-compatible server over real HTTP, score both, report, and render the page in Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from grpo4codegen.cli import main

from .test_generate import TASKS, openai_env, openai_server, reference_answer, tiny_cache  # noqa: F401 (fixtures used by name)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _scored(model: str, task: str, sample: int, strict: float, eff: float, difficulty: str = "Easy") -> dict:
    return {"model": model, "task_id": task, "sample": sample, "difficulty": difficulty, "tags": ["Array"],
            "correctness": strict, "correctness_strict": strict, "efficiency": eff * strict,
            "efficiency_ratios": {"time": eff} if strict else {}, "comment": 0.4, "maintainability": 0.6,
            "reward": 0.5, "infra_failure": False}  # fmt: skip


def _pngs(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_report_compares_models_on_common_problems(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.scored.jsonl", [
        _scored("base", "p1", 0, 1.0, 0.5), _scored("base", "p1", 1, 0.0, 0.0),
        _scored("base", "p2", 0, 0.0, 0.0, "Hard"), _scored("base", "p2", 1, 0.0, 0.0, "Hard"),
    ])  # fmt: skip
    b = _write(tmp_path / "b.scored.jsonl", [
        _scored("tuned", "p1", 0, 1.0, 0.9), _scored("tuned", "p1", 1, 1.0, 0.7),
        _scored("tuned", "p2", 0, 1.0, 1.0, "Hard"), _scored("tuned", "p2", 1, 0.0, 0.0, "Hard"),
    ])  # fmt: skip
    out = tmp_path / "report"
    assert main(["report", str(a), str(b), "-o", str(out), "--title", "Base vs tuned", "--no-progress"]) == 0
    page = (out / "report.html").read_text()
    pngs = _pngs(page)
    assert len(pngs) == 4 and all(p.startswith(PNG_MAGIC) and len(p) > 2000 for p in pngs)
    assert "Base vs tuned" in page and "http" not in page.split("<body>")[0]  # nothing fetched from outside
    assert 'class="warn"' not in page  # both runs cover the same problems
    assert '<td class="none">0/2</td>' in page and '<td class="some">1/2</td>' in page
    summary = json.loads((out / "summary.json").read_text())
    assert summary["common_solved_problems"] == 1  # efficiency only where both models solved
    assert summary["models"]["base"]["efficiency_ratio"] == pytest.approx(0.5)
    assert summary["models"]["tuned"]["efficiency_ratio"] == pytest.approx(0.8)
    assert summary["models"]["tuned"]["pass@1"] == pytest.approx(0.75)
    md = (out / "report.md").read_text()
    assert "| pass@2 |" in md and "only tuned: p2" in md and "![pass_at_k](pass_at_k.png)" in md
    assert (out / "pass_at_k.png").read_bytes().startswith(PNG_MAGIC)
    # the same model name in two files stays two columns
    assert main(["report", str(a), str(a), "-o", str(tmp_path / "twice"), "--no-progress"]) == 0
    assert "base (a.scored.jsonl)" in (tmp_path / "twice" / "report.html").read_text()


def test_report_rejects_unscored_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gen = _write(tmp_path / "gen.jsonl", [{"model": "m", "task_id": "t", "sample": 0, "completion": "x"}])
    assert main(["report", str(gen), "-o", str(tmp_path / "r")]) == 2
    assert "not a scored file" in capsys.readouterr().err


def render_in_chromium(page: Path, tmp_path: Path) -> tuple[bytes, str, str]:
    """Screenshot and DOM of `page` in headless Chromium, plus its log; skips when Chromium is absent."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not on PATH (apt-get install chromium): the HTML render check needs it")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--enable-logging=stderr", "--v=0", "--window-size=1280,2000"]  # fmt: skip
    shot = tmp_path / "screenshot.png"
    runs = {}
    for name, extra in (("shot", [f"--screenshot={shot}"]), ("dom", ["--dump-dom"])):
        profile = tmp_path / f"profile-{name}"
        profile.mkdir()
        runs[name] = subprocess.run(
            [chromium, *flags, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert runs[name].returncode == 0, runs[name].stderr[-2000:]
    return (
        shot.read_bytes() if shot.exists() else b"",
        runs["dom"].stdout,
        runs["shot"].stderr + runs["dom"].stderr,
    )


@pytest.mark.slow
@pytest.mark.usefixtures("tiny_cache", "openai_env")
def test_generate_score_report_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = ["--task-ids", *TASKS, "--no-progress"]
    tiny = tmp_path / "tiny.jsonl"
    flags = [
        "--backend",
        "hf",
        "--model",
        "tiny",
        "--n",
        "2",
        "--temperature",
        "0.8",
        "--max-new-tokens",
        "16",
    ]
    assert main(["generate", *flags, *ids, "-o", str(tiny)]) == 0
    api = tmp_path / "api.jsonl"
    with openai_server(reference_answer) as url:
        flags = ["--backend", "openai", "--base-url", url, "--model", "reference-bot", "--api-key-env",
                 "G4C_TEST_KEY", "--n", "2", "--temperature", "0.8"]  # fmt: skip
        assert main(["generate", *flags, *ids, "-o", str(api)]) == 0

    summaries = {}
    for gen in (tiny, api):
        capsys.readouterr()
        assert main(["score", str(gen), "--json", "--no-progress"]) == 0
        summaries[gen.stem] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summaries["api"]["pass@1"] == 1.0 and summaries["api"]["pass@2"] == 1.0
    assert summaries["tiny"]["pass@1"] == 0.0  # a random model writes no working code
    assert summaries["tiny"]["samples"] == summaries["api"]["samples"] == 6
    assert summaries["api"]["infra_failures"] == summaries["tiny"]["infra_failures"] == 0

    out = tmp_path / "report"
    scored = [str(tmp_path / "tiny.scored.jsonl"), str(tmp_path / "api.scored.jsonl")]
    assert main(["report", *scored, "-o", str(out), "--no-progress"]) == 0
    page = out / "report.html"
    text = page.read_text()
    assert "reference-bot" in text and "tiny" in text and len(_pngs(text)) == 4

    screenshot, dom, log = render_in_chromium(page, tmp_path)
    assert screenshot.startswith(PNG_MAGIC) and len(screenshot) > 10_000
    assert "GRPO4CodeGen evaluation" in dom and dom.count("data:image/png;base64,") == 4
    console_errors = [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console_errors, console_errors
    assert "ERR_FILE_NOT_FOUND" not in log and "net::ERR" not in log
