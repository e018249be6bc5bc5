#!/usr/bin/env bash
# The second core while ict_w10 seed 2 trains for 30 minutes on the first: InterpolationConsistency
# (weight 10) on the 5,000-image Fashion-MNIST draw (100 labels, default budget) and on
# digits-50 (default budget), 3 seeds each, one thread, the runs one after the other.
cd "$(dirname "$0")/../../.."
. /work/venv/bin/activate 2>/dev/null; export PYTHONPATH=$PWD OMP_NUM_THREADS=1
D=bench/results/session6
ICT="--model.regularizers+=InterpolationConsistency --model.regularizers.weight 10"
python evaluate.py sweep --dataset npz --data-root /work/bench_work/fashion5k --labels 100 --seeds 0,1,2 \
  --methods ssgan --no-checkpoints --out /work/s6/small5k_ict -- $ICT > $D/small5k_ict.log 2>&1
cp /work/s6/small5k_ict/results.csv $D/small5k_ict_results.csv
python evaluate.py sweep --dataset digits --labels 50 --seeds 0,1,2 --methods ssgan --no-checkpoints \
  --out /work/s6/digits50_ict -- $ICT > $D/digits50_ict.log 2>&1
cp /work/s6/digits50_ict/results.csv $D/digits50_ict_results.csv
# then the labeling loop with balanced suggestions (five arms, 3 seeds, 24 epochs = 1,200 batches each)
python bench/labeling_loop.py --work /work/s6/labeling --limit-unlabeled 5000 --epochs 24 \
  --out $D/labeling_loop.json > $D/labeling_loop.log 2>&1
