#!/usr/bin/env bash
# Issue #15 part 4: the paper-scale settings of the main recipes on one GPU, 3 seeds as one
# `compose run --seeds` batch where the recipe allows it, sized to produce a useful result in
# about ten minutes of an H100 (set BUDGET_STEPS for longer). Writes the same tables and plots
# as the CPU long runs (experiments/long/export.py) under experiments/gpu/results/.
#
#   bash experiments/gpu/run.sh                    # MOPO + MOBILE, halfcheetah medium
#   RECIPES="mopo" DATASETS="compose/hopper/medium-v0" BUDGET_STEPS=200000 bash experiments/gpu/run.sh
#
# Everything the runs need is made on the machine (fresh venv if none, the factory datasets).
# Paper-scale means: the recipe as shipped (model fit by the paper's stopping rule, 50k-row
# rollouts, 10 evaluation episodes); only train.steps is cut to the budget and the
# evaluation is every 10k steps.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
RECIPES=${RECIPES:-"mopo mobile"}
DATASETS=${DATASETS:-"compose/halfcheetah/medium-v0"}
SEEDS=${SEEDS:-"0 1 2"}
BUDGET_STEPS=${BUDGET_STEPS:-50000}
OUT=${OUT:-runs/gpu}
export OMP_WAIT_POLICY=PASSIVE

if [ ! -x .venv/bin/compose ]; then
    python3 -m venv .venv
    .venv/bin/pip install -q torch==2.13.0 2>/dev/null || .venv/bin/pip install -q torch
    .venv/bin/pip install -q -e ".[plots]"
fi
. .venv/bin/activate
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"

for dataset in $DATASETS; do
    env=$(echo "$dataset" | cut -d/ -f2); quality=$(echo "$dataset" | cut -d/ -f3 | sed 's/-v0//')
    compose data info "$dataset" >/dev/null 2>&1 || compose data make "$env" "$quality"
done

for recipe in $RECIPES; do
    for dataset in $DATASETS; do
        dir="$OUT/$recipe-$(echo "$dataset" | tr / -)"
        if [ -f "$dir/seeds.json" ]; then compose run --resume "$dir" --device cuda; continue; fi
        # --seeds batches the seeds' policy phases (one vmapped update); recipes that train
        # components in the policy phase refuse it (exit 2), and then the seeds run one by one.
        if ! compose run "recipes/$recipe.yaml" --device cuda --seeds $SEEDS --run-dir "$dir" \
                --steps "$BUDGET_STEPS" --set dataset.id="$dataset" \
                --set eval.every=10000 --set checkpoint.every=10000 --no-track; then
            for s in $SEEDS; do
                compose run "recipes/$recipe.yaml" --device cuda --run-dir "$dir/seed_$s" \
                    --steps "$BUDGET_STEPS" --set dataset.id="$dataset" --set seed="$s" \
                    --set eval.every=10000 --set checkpoint.every=10000 --no-track || true
            done
        fi
    done
done

for recipe in $RECIPES; do
    for dataset in $DATASETS; do
        dir="$OUT/$recipe-$(echo "$dataset" | tr / -)"
        [ -d "$dir" ] && python experiments/long/export.py "$dir" \
            --out "experiments/gpu/results/$recipe-$(echo "$dataset" | tr / -)"
    done
done
