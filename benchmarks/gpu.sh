#!/usr/bin/env bash
# Everything molgan measures on a lent GPU, in one call (results: docs/benchmarks.md, "GPU").
#
#   1. training throughput (benchmarks/train_speed.py): GAN steps, a RDKit-in-step port, RL steps;
#   2. the shipped recipe (configs/qm9.toml) trained on the GPU, timed; its exported checkpoint
#      comes back as a tarball, to be sampled and evaluated with `molgan evaluate` elsewhere.
#
# On the device machine, from the repository root:  bash benchmarks/gpu.sh
# It writes at most 8 files under $OUT (default runs/gpu). The device's Python has torch and
# torch-geometric but no rdkit: put the rdkit and fcd wheels for it in .whl/ first, e.g.
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 -d .whl rdkit==2026.9.1 fcd==1.2.2
# A dry run on a CPU: DEVICE=cpu STEPS=20 ROW_SECONDS=1 BATCHES="32" bash benchmarks/gpu.sh
set -uo pipefail
OUT=${OUT:-runs/gpu}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-6000}
ROW_SECONDS=${ROW_SECONDS:-10}
BATCHES=${BATCHES:-32 1024 4096}
TRAIN_LIMIT=${TRAIN_LIMIT:-330}
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

echo "== configs/qm9.toml on $DEVICE ($STEPS steps, at most $TRAIN_LIMIT s)"
start=$(date +%s.%N)
timeout "$TRAIN_LIMIT" python3 -m molgan train --config configs/qm9.toml --steps "$STEPS" \
    --device "$DEVICE" --out "$WORK/qm9" >"$WORK/train.log" 2>&1
status=$?
end=$(date +%s.%N)
tail -c 2000 "$WORK/train.log" | tr '\r' '\n' | tail -n 5
python3 - "$start" "$end" "$status" "$STEPS" <<'EOF' | tee "$OUT/qm9_train.txt"
import sys
start, end, status, steps = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print(f"exit {status}; wall {end - start:.1f} s for {steps} steps" + (" (timed out)" if status == 124 else ""))
EOF
cp "$WORK/qm9/log.csv" "$OUT/qm9_log.csv" 2>/dev/null
if python3 -m molgan export "$WORK/qm9" "$WORK/qm9-gpu" >/dev/null 2>&1; then
    tar -czf "$OUT/qm9-gpu.tar.gz" -C "$WORK" qm9-gpu
fi
ls -la "$OUT"
