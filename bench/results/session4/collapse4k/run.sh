# 4,000 Fashion-MNIST images (npz), 100 labels, 8,000 batches (200 epochs of 40 batches), as in the issue
cd /work/main; . /work/venv/bin/activate; export PYTHONPATH=$PWD OMP_NUM_THREADS=1
run() { name=$1 seed=$2; shift 2
  python train.py --data.dataset npz --data.data_root /work/bench_work/fashion4k --data.num_labels 100 \
    --data.seed_data $seed --seed_everything $seed --trainer.max_steps 16000 --trainer.enable_progress_bar false \
    --trainer.default_root_dir /work/s4/collapse/${name}_s$seed "$@" > /work/s4/collapse/${name}_s$seed.log 2>&1; echo "exit $?" >> /work/s4/collapse/${name}_s$seed.log; }
mkdir -p /work/s4/collapse
run "$@"
