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
# It does this twice, with the two ways the ranks of a node can run completions:
#   * per-rank: every rank builds its own embedded pool of one worker per core (the old default,
#     reproduced with --execute_backend embedded --sandbox_workers <cores>);
#   * node: the ranks share one pool per node, hosted by local rank 0 (execute_backend auto -> node),
# sampling the process table during each run, and prints the peak number of sandbox workers under the
# launch against the cores, and the reward seconds per step. The node pool must never exceed the cores.
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
PROBE_DIR="$WORK/probe"  # the probe script; each run records into its own directory
rm -rf "$PROBE_DIR"
mkdir -p "$PROBE_DIR"
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
_original_init = RewardScorer.__init__


def _recording(self, task_ids, completions):
    import time

    import torch.distributed as dist

    backend = dist.get_backend() if dist.is_available() and dist.is_initialized() else None
    started = time.perf_counter()
    scores = _original(self, task_ids, completions)
    record = {"dims": list(self.config.reward_dimensions), "task_ids": list(task_ids), "backend": backend,
              "seconds": time.perf_counter() - started, "runner": type(self.runner).__name__}
    path = os.path.join(os.environ["PROBE_DIR"], f"rank{os.environ.get('RANK', '0')}.jsonl")
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    return scores


def _configured(self, problems, config, runner=None):
    # where `train` has no --execute_backend/--sandbox_workers flags yet, the probe sets those fields
    for name, env in (("execute_backend", "PROBE_BACKEND"), ("sandbox_workers", "PROBE_WORKERS")):
        if os.environ.get(env):
            value = os.environ[env]
            setattr(config, name, int(value) if name == "sandbox_workers" else value)
    _original_init(self, problems, config, runner)


RewardScorer.dimension_scores = _recording
if os.environ.get("PROBE_SET_CONFIG") == "1":
    RewardScorer.__init__ = _configured
sys.exit(main(sys.argv[1:]))
EOF

# build the tiny model once, before two processes race for it (the build is atomic either way)
"$PYTHON" -c "from grpo4codegen.training.tiny import ensure_tiny_model; ensure_tiny_model()"

# the cores this launch may use (nproc would answer OMP_NUM_THREADS)
CORES=$("$PYTHON" -c "from grpo4codegen.sandbox.sizing import node_cores; print(node_cores())")
# the flags exist once the reward configuration has them; until then the probe sets the same fields
if "$PYTHON" -m grpo4codegen.cli train --help 2>/dev/null | grep -q -- "--execute_backend"; then
    FLAGS_KNOWN=1
else
    FLAGS_KNOWN=0
fi

cat >"$WORK/sample.py" <<'EOF'
"""Sample the process table until ROOT exits: peak sandbox workers in ROOT's process tree."""
import json, os, sys, time

root, out = int(sys.argv[1]), sys.argv[2]


def table():
    t = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open(f"/proc/{e}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{e}/cmdline", "rb") as f:
                    t[int(e)] = (ppid, b"grpo4codegen.sandbox.worker" in f.read())
            except (OSError, IndexError, ValueError):
                pass
    return t


peak, samples = 0, 0
while os.path.exists(f"/proc/{root}"):
    t = table()
    tree, frontier = set(), {root}
    while frontier:
        frontier = {p for p, (pp, _) in t.items() if pp in frontier} - tree
        tree |= frontier
    # workers only: a worker's per-submission children carry the same command line
    n = sum(1 for p in tree if t[p][1] and not t.get(t[p][0], (0, False))[1])
    peak, samples = max(peak, n), samples + 1
    time.sleep(0.2)
json.dump({"peak": peak, "samples": samples}, open(out, "w"))
EOF

run_mode() {  # run_mode NAME BACKEND [WORKERS]
    local name=$1 backend=$2 workers=${3:-}
    local out="$WORK/$name/run" probe="$WORK/$name/probe" log="$WORK/$name/train.log"
    rm -rf "$WORK/$name"
    mkdir -p "$probe"
    local extra=()
    if [[ $FLAGS_KNOWN -eq 1 ]]; then
        extra+=(--execute_backend "$backend")
        if [[ -n "$workers" ]]; then extra+=(--sandbox_workers "$workers"); fi
    fi
    echo "== [$name] accelerate launch: 2 CPU processes, 2 GRPO steps, execute_backend $backend${workers:+, $workers sandbox workers per rank} -> $out"
    local started rc
    started=$(date +%s)
    set +e
    PROBE_DIR="$probe" PROBE_SET_CONFIG=$((1 - FLAGS_KNOWN)) PROBE_BACKEND="$backend" PROBE_WORKERS="$workers" \
    timeout 600 "$ACCELERATE" launch --multi_gpu --num_processes 2 --num_machines 1 \
        --mixed_precision no --dynamo_backend no \
        "$PROBE_DIR/probe.py" train \
        --config "$REPO/configs/cpu-smoke.yaml" --output_dir "$out" \
        --use_cpu true --ddp_backend gloo --ddp_find_unused_parameters false \
        --max_steps 2 --save_steps 2 --max_completion_length 32 \
        --use_weight_net \
        --meta_data_test builtin --eval_sample 3 --eval_epochs 1 --per_device_eval_batch_size 2 \
        ${extra[@]+"${extra[@]}"} >"$log" 2>&1 &
    local launcher=$!
    "$PYTHON" "$WORK/sample.py" "$launcher" "$WORK/$name/workers.json" &
    local sampler=$!
    wait "$launcher"
    rc=$?
    wait "$sampler"
    set -e
    echo "   exit code $rc after $(($(date +%s) - started)) s (log: $log)"
    if [[ $rc -ne 0 ]]; then
        tail -n 40 "$log"
        echo "FAIL: multi-process training ($name) exited with $rc"
        exit 1
    fi
    check_run "$out" "$probe" "$log" "$name"
}

check_run() {  # check_run OUT PROBE LOG NAME
status=0
"$PYTHON" - "$1" "$2" "$3" <<'EOF' || status=$?
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
    echo "FAIL: multi-process checks failed ($4; work dir kept: $WORK)"
    exit 1
fi
}

started=$(date +%s)
run_mode per-rank embedded "$CORES"
run_mode node auto

"$PYTHON" - "$WORK" "$CORES" <<'EOF' || { echo "FAIL: the node pool (work dir kept: $WORK)"; exit 1; }
import json
import statistics
import sys
from pathlib import Path

work, cores = Path(sys.argv[1]), int(sys.argv[2])
rows = {}
for name in ("per-rank", "node"):
    workers = json.loads((work / name / "workers.json").read_text())
    calls = [[json.loads(x) for x in (work / name / "probe" / f"rank{r}.jsonl").read_text().splitlines()]
             for r in (0, 1)]
    train = [[c for c in rank if len(c["dims"]) == 4] for rank in calls]
    per_step = [max(c["seconds"] for c in step) for step in zip(*train)]  # a step waits for its slowest rank
    runners = sorted({c["runner"] for rank in calls for c in rank})
    rows[name] = (workers["peak"], workers["samples"], per_step, runners)
print(f"== sandbox workers under the launch (peak of the samples) vs {cores} cores; reward seconds per step")
for name, (peak, samples, per_step, runners) in rows.items():
    steps = ", ".join(f"{s:.2f}" for s in per_step)
    print(f"   {name:9s} peak {peak} workers ({samples} samples)   reward s/step (slowest rank): {steps}"
          f"   mean {statistics.mean(per_step):.2f}   runner {'/'.join(runners)}")
peak = rows["node"][0]
ok = 0 < peak <= cores and rows["node"][3] == ["NodePool"]
print(("   ok   " if ok else "   FAIL ") + f"node pool: {peak} sandbox workers on {cores} cores, one pool for both ranks")
print(json.dumps({"cores": cores, **{f"{n}_peak_workers": r[0] for n, r in rows.items()},
                  **{f"{n}_reward_seconds_per_step": r[2] for n, r in rows.items()}}))
sys.exit(0 if ok else 1)
EOF
echo "PASS: multi-process CPU training works ($(($(date +%s) - started)) s)"
if [[ $KEEP -eq 0 ]]; then
    rm -rf "$WORK"
fi
