#!/usr/bin/env bash
# Multi-process GRPO training on CPU: `accelerate launch` starts 2 processes (torch.distributed, gloo
# backend) that run `grpo4codegen train` for 2 steps on the tiny model with all four reward dimensions,
# the learned reward weights and the greedy evaluation. Then it checks that
#   * both processes trained and scored their own completions (a probe records each process's
#     reward calls; it wraps RewardScorer.dimension_scores and otherwise runs grpo4codegen.cli.main),
#   * the world size was 2 (17 optimizer steps per epoch instead of 34, one RNG file per process),
#   * the checkpoint is complete (weights, optimizer, scheduler, RNG, trainer state, weight net),
#   * only the main process wrote logs (one TensorBoard event file) and the scalars are there,
#   * the greedy evaluation gathered the problems of both processes.
# Exits non-zero on any failure.
#
#   scripts/check_multiprocess.sh [WORK_DIR]      (default: a fresh temp dir, removed on success)
#
# Why `--multi_gpu` on a CPU machine: it selects accelerate's torch.distributed launcher; `--cpu`
# would select the single-process launcher (multi-CPU there means mpirun). The training flags
# `--use_cpu true --ddp_backend gloo` keep every process on the CPU with the gloo backend.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
ACCELERATE="${ACCELERATE:-accelerate}"
KEEP=1
if [[ $# -ge 1 ]]; then
    WORK="$1"
    mkdir -p "$WORK"
else
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/grpo4codegen-mp.XXXXXX")"
    KEEP=0
fi
OUT="$WORK/run"
PROBE_DIR="$WORK/probe"
rm -rf "$OUT" "$PROBE_DIR"
mkdir -p "$PROBE_DIR"
export PROBE_DIR
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"  # 2 processes share the cores
export GRPO4CODEGEN_CACHE="${GRPO4CODEGEN_CACHE:-${TMPDIR:-/tmp}/grpo4codegen-test-cache-$(id -u)}"

cat >"$PROBE_DIR/probe.py" <<'EOF'
"""grpo4codegen.cli.main, recording which process scored which completions."""
import json
import os
import sys

from grpo4codegen.cli import main
from grpo4codegen.rewards.scorer import RewardScorer

_original = RewardScorer.dimension_scores


def _recording(self, task_ids, completions):
    import torch.distributed as dist

    backend = dist.get_backend() if dist.is_available() and dist.is_initialized() else None
    record = {"dims": list(self.config.reward_dimensions), "task_ids": list(task_ids), "backend": backend}
    path = os.path.join(os.environ["PROBE_DIR"], f"rank{os.environ.get('RANK', '0')}.jsonl")
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    return _original(self, task_ids, completions)


RewardScorer.dimension_scores = _recording
sys.exit(main(sys.argv[1:]))
EOF

# build the tiny model once, before two processes race for it (the build is atomic either way)
"$PYTHON" -c "from grpo4codegen.training.tiny import ensure_tiny_model; ensure_tiny_model()"

echo "== accelerate launch: 2 CPU processes, 2 GRPO steps -> $OUT"
started=$(date +%s)
set +e
timeout 600 "$ACCELERATE" launch --multi_gpu --num_processes 2 --num_machines 1 \
    --mixed_precision no --dynamo_backend no \
    "$PROBE_DIR/probe.py" train \
    --config "$REPO/configs/cpu-smoke.yaml" --output_dir "$OUT" \
    --use_cpu true --ddp_backend gloo --ddp_find_unused_parameters false \
    --max_steps 2 --save_steps 2 --max_completion_length 32 \
    --use_weight_net \
    --meta_data_test builtin --eval_sample 3 --eval_epochs 1 --per_device_eval_batch_size 2 \
    >"$WORK/train.log" 2>&1
rc=$?
set -e
echo "   exit code $rc after $(($(date +%s) - started)) s (log: $WORK/train.log)"
if [[ $rc -ne 0 ]]; then
    tail -n 40 "$WORK/train.log"
    echo "FAIL: multi-process training exited with $rc"
    exit 1
fi

status=0
"$PYTHON" - "$OUT" "$PROBE_DIR" "$WORK/train.log" <<'EOF' || status=$?
import json
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

out, probe, log = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
failures = []


def check(ok, what):
    print(("   ok   " if ok else "   FAIL ") + what)
    if not ok:
        failures.append(what)


# rewards computed per process: each rank scored its own share of every generation batch
ranks = {}
for rank in (0, 1):
    path = probe / f"rank{rank}.jsonl"
    calls = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    ranks[rank] = calls
    train = [c for c in calls if len(c["dims"]) == 4]
    evals = [c for c in calls if c["dims"] == ["correctness"]]
    check(len(train) == 2 and all(len(c["task_ids"]) == 4 for c in train),
          f"rank {rank} scored its own 4 completions in each of the 2 steps ({[len(c['task_ids']) for c in train]})")
    check(len(evals) == 1, f"rank {rank} scored its share of the greedy evaluation ({len(evals)} call)")
backends = {c["backend"] for r in (0, 1) for c in ranks[r]}
check(backends == {"gloo"}, f"torch.distributed backend: {sorted(map(str, backends))}")
train_ids = [{t for c in ranks[r] if len(c["dims"]) == 4 for t in c["task_ids"]} for r in (0, 1)]
check(not (train_ids[0] & train_ids[1]), f"the ranks scored different prompts: {train_ids[0]} vs {train_ids[1]}")

# world size 2 and a complete checkpoint written once
text = log.read_text()
check("17 optimizer steps per epoch" in text, "world size 2: 34 prompts -> 17 optimizer steps per epoch")
ckpt = out / "checkpoint-2"
for name in ("model.safetensors", "optimizer.pt", "scheduler.pt", "trainer_state.json",
             "rng_state_0.pth", "rng_state_1.pth", "reward_weight_net.pt"):
    check((ckpt / name).is_file(), f"checkpoint-2/{name}")
state = json.loads((ckpt / "trainer_state.json").read_text()) if (ckpt / "trainer_state.json").exists() else {}
check(state.get("global_step") == 2, f"global_step {state.get('global_step')} == 2")
check((out / "model.safetensors").is_file() and (out / "grpo4codegen_args.json").is_file(),
      "final model and run arguments")

# only the main process logs
events = list(out.glob("runs/*/events.out.tfevents.*"))
check(len(events) == 1, f"exactly one TensorBoard event file ({len(events)})")
if events:
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    wanted = {"train/loss", "train/reward", "train/rewards/correctness/mean", "train/weights/correctness",
              "train/exec/infra_failures", "train/reward_time_share", "eval/greedy/pass@1",
              "eval/greedy/test_pass_rate"}
    check(wanted <= tags, f"TensorBoard scalars present (missing: {sorted(wanted - tags)})")
rows = out / "eval_greedy" / "step_000002.jsonl"
n = len(rows.read_text().splitlines()) if rows.exists() else 0
check(n == 3, f"greedy eval gathered all 3 problems from both ranks ({n})")
sys.exit(1 if failures else 0)
EOF
if [[ $status -ne 0 ]]; then
    echo "FAIL: multi-process checks failed (work dir kept: $WORK)"
    exit 1
fi
echo "PASS: multi-process CPU training works ($(($(date +%s) - started)) s)"
if [[ $KEEP -eq 0 ]]; then
    rm -rf "$WORK"
fi
