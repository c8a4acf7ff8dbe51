#!/usr/bin/env bash
# Everything molgan measures on a lent GPU, in one call (results: docs/benchmarks.md, "GPU").
#
#   1. training throughput (benchmarks/train_speed.py): GAN steps, a RDKit-in-step port, RL steps;
#   1b. streaming sampling on all of the machine's cores (benchmarks/sample_stream.py: the shipped
#      latent model, generator on the GPU, 1 decoding job against all cores; SAMPLE_N molecules);
#   2. the recipes named in RECIPES (default: the shipped latent model, configs/qm9-latent.toml
#      then configs/qm9-latent-rl.toml, which starts from runs/qm9-latent), each trained on the
#      GPU into runs/<name> and timed (time to quality, autoencoder included); the last one's
#      exported checkpoint comes back as a tarball, to be sampled and evaluated elsewhere.
#      RECIPES=qm9-molgan times the MolGAN-family recipe instead.
#
# On the device machine, from the repository root:  bash benchmarks/gpu.sh
# It writes at most 9 files under $OUT (default runs/gpu). The device's Python has torch and
# torch-geometric but no rdkit: put the rdkit and fcd wheels for it in .whl/ first, e.g.
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 -d .whl rdkit==2026.9.1 fcd==1.2.2
# A dry run on a CPU: DEVICE=cpu STEPS=20 ROW_SECONDS=1 BATCHES="32" RECIPES=qm9-molgan \
#   bash benchmarks/gpu.sh
set -uo pipefail
OUT=${OUT:-runs/gpu}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-}
ROW_SECONDS=${ROW_SECONDS:-10}
BATCHES=${BATCHES:-32 1024 4096}
TRAIN_LIMIT=${TRAIN_LIMIT:-330}
RECIPES=${RECIPES:-qm9-latent qm9-latent-rl}
SAMPLE_N=${SAMPLE_N:-200000}
WORK=$(mktemp -d)
mkdir -p "$OUT"
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
} 2>&1 | tee "$OUT/machine.txt"

echo "== training throughput"
# shellcheck disable=SC2086  # BATCHES is a list
python3 benchmarks/train_speed.py --device "$DEVICE" --batches $BATCHES --seconds "$ROW_SECONDS" \
    --json "$OUT/train_speed.json" 2>&1 | tee "$OUT/train_speed.txt"

echo "== streaming sampling, $SAMPLE_N molecules"
python3 benchmarks/sample_stream.py --model qm9 -n "$SAMPLE_N" --jobs 1 "$(nproc)" \
    --device "$DEVICE" 2>&1 | tee "$OUT/sample_stream.txt"

for recipe in $RECIPES; do
    echo "== configs/$recipe.toml on $DEVICE (at most $TRAIN_LIMIT s)"
    start=$(date +%s.%N)
    timeout "$TRAIN_LIMIT" python3 -m molgan train --config "configs/$recipe.toml" \
        ${STEPS:+--steps "$STEPS"} --device "$DEVICE" --out "runs/$recipe" >"$WORK/train.log" 2>&1
    status=$?
    end=$(date +%s.%N)
    tail -c 2000 "$WORK/train.log" | tr '\r' '\n' | tail -n 5
    python3 - "$start" "$end" "$status" "$recipe" <<'EOF' | tee -a "$OUT/train_times.txt"
import sys
start, end, status, recipe = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print(f"{recipe}: exit {status}; wall {end - start:.1f} s" + (" (timed out)" if status == 124 else ""))
EOF
    cp "runs/$recipe/log.csv" "$OUT/${recipe}_log.csv" 2>/dev/null
done
if python3 -m molgan export "runs/$recipe" "$WORK/$recipe-gpu" >/dev/null 2>&1; then
    tar -czf "$OUT/$recipe-gpu.tar.gz" -C "$WORK" "$recipe-gpu"
fi
ls -la "$OUT"
