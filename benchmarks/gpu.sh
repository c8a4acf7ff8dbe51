#!/usr/bin/env bash
# Everything molgan measures on a lent GPU, in one call (results: docs/benchmarks.md, "GPU").
# TASKS (default "ttq") picks what runs, in this order:
#   ttq      the latent issue's time to quality on QM9 (benchmarks/time_to_quality.py): the
#            autoencoder, a fresh GAN on it and the two refiner stages of the CPU measurement
#            (configs/qm9-latent-ttq-*.toml), timed, then 10,000 samples' strict validity and
#            uniqueness, and the sampling throughput of both families in the same run; its
#            export and samples come back for `molgan evaluate` on the CPU box (TTQ_LIMIT,
#            default 540 s, stops it);
#   speed    training throughput (benchmarks/train_speed.py) of both families at BATCHES, eager
#            fp32 against compiled (COMPILE_MODES, default CUDA graphs) in bfloat16, plus the
#            RDKit-in-step and RL rows; MOSES-sized latent rows with MOSES_SPEED=1;
#   sample   streaming sampling on all of the machine's cores (benchmarks/sample_stream.py: the
#            shipped latent model, generator on the GPU, 1 decoding job against all cores);
#   recipes  the recipes named in RECIPES (default: configs/qm9-latent.toml, then
#            configs/qm9-latent-rl.toml, which starts from runs/qm9-latent), each trained into
#            runs/<name> and timed; the last one's export comes back as a tarball;
#   moses    configs/moses-latent-gpu.toml trained in MOSES_SECONDS of GPU time, its steps sized
#            by benchmarks/timed_recipe.py, then (REFINER_SECONDS > 0) its refiner stage,
#            configs/moses-latent-refiner-gpu.toml, in REFINER_SECONDS; each export comes back
#            as a tarball, to be sampled and evaluated on the CPU box
#            (python benchmarks/moses.py --model DIR). GAN_SHARE (default 0.2) is the GAN
#            stage's share of MOSES_SECONDS. The 2026-12-04 call (MOSES_SECONDS=180,
#            REFINER_SECONDS=50) reached 86.6 % reconstruction in 128 s but gave G 1,031 updates
#            and the refiner 234 steps. G alone from the best model so far
#            (MOSES_CONFIG=configs/moses-latent-gpu-g.toml MOSES_SECONDS=420; its header says
#            what to carry) ran on the CPU to 90,000 steps instead and stopped paying there
#            (docs/results.md, "Where more G stops paying"), so the next lent GPU runs the
#            default TASKS first: the latent issue's time to quality and sampling throughput
#            on a GPU are still unmeasured (the ttq task). A fresh MOSES recipe would be MOSES_SECONDS=300
#            GAN_SHARE=0.5 REFINER_SECONDS=100 (about 9 minutes of the 10 a command may take;
#            SMOKE=1 costs about 2 more, so take them off MOSES_SECONDS where the code path has
#            changed).
#            Exports sample with 100 transport steps (on MOSES they cost no novelty).
#
# On the device machine, from the repository root:  TASKS="speed sample" bash benchmarks/gpu.sh
# Under $OUT (default runs/gpu) it writes gpu.log (everything printed), the JSON and CSV results,
# and each exported model as a tarball split into parts under 16 MiB (`cat NAME.tar.gz.part-* |
# tar -xz` joins them). A lent machine sends back at most 8 files: TASKS="speed sample moses"
# writes 7 (gpu.log, 3 JSON, 1 CSV, 2 parts), and a refiner stage adds 1 CSV and 1-2 parts;
# "recipes" adds a CSV per recipe and 1-2 parts; "ttq" writes 4-5 (gpu.log, ttq.json, the samples,
# 1-2 parts). The device's Python has torch and
# torch-geometric but no rdkit: put the rdkit and fcd wheels for it in .whl/ first, e.g.
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 -d .whl rdkit==2026.9.1 fcd==1.2.2
# What travels to the device is the tracked tree plus .whl: with the shipped checkpoints it is over
# the device tool's 64 MiB, so leave them behind for the call (they stay on disk):
#   echo /checkpoints/ >> .git/info/exclude && git rm -r -q --cached checkpoints
# and afterwards `git reset -q -- checkpoints` and drop that line again. The ttq task needs
# checkpoints/qm9-molgan (its throughput row) and the rdkit wheel only, so for it leave behind
#   for m in qm9 qm9-rl qm9-qed moses moses-qed; do echo "/checkpoints/$m/"; done \
#       >> .git/info/exclude && git rm -r -q --cached checkpoints/{qm9,qm9-rl,qm9-qed,moses,moses-qed}
# instead. Bugs that only a GPU shows
# (tensors on two devices) stop a call at once: SMOKE=1 first runs each moses stage for 10 s on
# 3,000 molecules (timed_recipe.py --smoke) and stops the task if one fails.
# A dry run of the ttq task on a CPU: DEVICE=cpu TTQ_SMOKE=1 OUT=runs/gpu-dry bash benchmarks/gpu.sh
# A dry run of the rest on a CPU: DEVICE=cpu STEPS=20 ROW_SECONDS=1 BATCHES="32" RECIPES=qm9-molgan \
#   COMPILE_MODES=default MOSES_SECONDS=30 MOSES_CONFIG=a-smaller-batch.toml bash benchmarks/gpu.sh
set -uo pipefail
OUT=${OUT:-runs/gpu}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-}
ROW_SECONDS=${ROW_SECONDS:-10}
TASKS=${TASKS:-ttq}
TTQ_LIMIT=${TTQ_LIMIT:-540}
BATCHES=${BATCHES:-32 1024 8192}
COMPILE_MODES=${COMPILE_MODES:-reduce-overhead}
MOSES_SECONDS=${MOSES_SECONDS:-330}
MOSES_CONFIG=${MOSES_CONFIG:-configs/moses-latent-gpu.toml}
MOSES_SPEED=${MOSES_SPEED:-}
GAN_SHARE=${GAN_SHARE:-0.2}
SMOKE=${SMOKE:-}
REFINER_SECONDS=${REFINER_SECONDS:-0}
REFINER_CONFIG=${REFINER_CONFIG:-configs/moses-latent-refiner-gpu.toml}
TRAIN_LIMIT=${TRAIN_LIMIT:-330}
RECIPES=${RECIPES:-qm9-latent qm9-latent-rl}
SAMPLE_N=${SAMPLE_N:-200000}
WORK=$(mktemp -d)
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu.log") 2>&1
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null && ! python3 -c "import rdkit" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

{
    date -u +%FT%TZ
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
    echo "cpus: $(nproc)"
    python3 -c "import sys, torch, torch_geometric, rdkit; print('python', sys.version.split()[0], \
'torch', torch.__version__, 'torch_geometric', torch_geometric.__version__, 'rdkit', rdkit.__version__)"
}

has() { [[ " $TASKS " == *" $1 "* ]]; }
# Pack folder $1/$2 as $OUT/$3.tar.gz.part-NN (parts under the 16 MiB a file may have on the way
# back).
pack() {
    tar -czf - -C "$1" "$2" | split -b 15M -d - "$OUT/$3.tar.gz.part-"
}
# Export run $1 and pack it as $2; any further arguments are `molgan export` options.
ship() {
    python3 -m molgan export "$1" "$WORK/$2" "${@:3}" >/dev/null && pack "$WORK" "$2" "$2"
}

if has ttq; then
    echo "== time to quality on QM9 (at most $TTQ_LIMIT s)"
    timeout "$TTQ_LIMIT" python3 benchmarks/time_to_quality.py --device "$DEVICE" \
        --out runs/ttq-gpu --json "$OUT/ttq.json" ${TTQ_SMOKE:+--smoke} 2>&1 |
        tr '\r' '\n' | grep -v Warning
    cp runs/ttq-gpu/samples.smi "$OUT/ttq_samples.smi" 2>/dev/null
    [[ -d runs/ttq-gpu/model ]] && pack runs/ttq-gpu model ttq-model
fi

if has speed; then
    echo "== training throughput, eager fp32"
    # shellcheck disable=SC2086  # BATCHES is a list
    python3 benchmarks/train_speed.py --device "$DEVICE" --batches $BATCHES --modes eager \
        --seconds "$ROW_SECONDS" ${MOSES_SPEED:+--moses} --json "$OUT/train_speed.json"
    echo "== training throughput, compiled ($COMPILE_MODES), bfloat16"
    # shellcheck disable=SC2086  # BATCHES and COMPILE_MODES are lists
    python3 benchmarks/train_speed.py --device "$DEVICE" --batches $BATCHES \
        --modes $COMPILE_MODES --amp --no-rl --seconds "$ROW_SECONDS" ${MOSES_SPEED:+--moses} \
        --json "$OUT/train_speed_fast.json"
fi

if has sample; then
    echo "== streaming sampling, $SAMPLE_N molecules"
    python3 benchmarks/sample_stream.py --model qm9 -n "$SAMPLE_N" --jobs 1 "$(nproc)" \
        --device "$DEVICE"
fi

# Each moses stage for 10 s on 3,000 molecules, on the device; fails if a stage leaves no checkpoint.
smoke() {
    echo "== smoke: each moses stage for 10 s on 3,000 molecules"
    python3 benchmarks/timed_recipe.py --config "$MOSES_CONFIG" --device "$DEVICE" --smoke \
        --seconds 10 --out "$WORK/smoke" >"$WORK/smoke.log" 2>&1 &&
        if [[ $REFINER_SECONDS != 0 ]]; then
            python3 benchmarks/timed_recipe.py --config "$REFINER_CONFIG" --device "$DEVICE" \
                --smoke --init-from "$WORK/smoke/checkpoint" --seconds 10 \
                --out "$WORK/smoke-refiner" >>"$WORK/smoke.log" 2>&1
        fi
    local status=$?
    tr '\r' '\n' <"$WORK/smoke.log" | grep -v Warning | tail -n 5
    return $status
}

if has moses && [[ -n $SMOKE ]] && ! smoke; then
    echo "== smoke failed: the moses task is skipped"
    TASKS=${TASKS/moses/}
fi

if has moses; then
    echo "== $MOSES_CONFIG in $MOSES_SECONDS s of training"
    timeout $((MOSES_SECONDS * 3 / 2 + 120)) python3 benchmarks/timed_recipe.py \
        --config "$MOSES_CONFIG" --device "$DEVICE" --seconds "$MOSES_SECONDS" \
        --gan-share "$GAN_SHARE" --out runs/moses-gpu --json "$OUT/moses_timing.json" \
        2>&1 | tr '\r' '\n' | grep -v Warning
    cp runs/moses-gpu/log.csv "$OUT/moses_log.csv"
    ship runs/moses-gpu moses-gpu --transport-steps 100 --transport-lipschitz 0.3
    if [[ $REFINER_SECONDS != 0 ]]; then
        echo "== $REFINER_CONFIG in $REFINER_SECONDS s of training"
        # Its plan goes to gpu.log only (a lent machine sends back 8 files); the timeout keeps
        # a slow probe from eating the call: the last checkpoint is shipped either way.
        timeout $((REFINER_SECONDS + 150)) python3 benchmarks/timed_recipe.py \
            --config "$REFINER_CONFIG" --device "$DEVICE" --seconds "$REFINER_SECONDS" \
            --out runs/moses-gpu-refiner 2>&1 | tr '\r' '\n' | grep -v Warning
        cp runs/moses-gpu-refiner/log.csv "$OUT/moses_refiner_log.csv"
        ship runs/moses-gpu-refiner moses-gpu-refiner --transport-steps 100 \
            --transport-lipschitz 0.3 --refiner-passes 16
    fi
fi

has recipes || RECIPES=""
recipe=""
for recipe in $RECIPES; do
    echo "== configs/$recipe.toml on $DEVICE (at most $TRAIN_LIMIT s)"
    start=$(date +%s.%N)
    timeout "$TRAIN_LIMIT" python3 -m molgan train --config "configs/$recipe.toml" \
        ${STEPS:+--steps "$STEPS"} --device "$DEVICE" --out "runs/$recipe" >"$WORK/train.log" 2>&1
    status=$?
    end=$(date +%s.%N)
    tail -c 2000 "$WORK/train.log" | tr '\r' '\n' | tail -n 5
    python3 - "$start" "$end" "$status" "$recipe" <<'EOF'
import sys
start, end, status, recipe = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print(f"{recipe}: exit {status}; wall {end - start:.1f} s" + (" (timed out)" if status == 124 else ""))
EOF
    cp "runs/$recipe/log.csv" "$OUT/${recipe}_log.csv" 2>/dev/null
done
[[ -n $recipe ]] && ship "runs/$recipe" "$recipe-gpu"
ls -la "$OUT"
