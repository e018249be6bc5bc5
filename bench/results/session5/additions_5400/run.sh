#!/usr/bin/env bash
# Each addition alone on the 2016 recipe, Fashion-MNIST-100, split seeds 0, 1, 2, 9 epochs
# (5,400 batches: what the GAN trains in about 5 minutes on 2 cores), one thread per run,
# three runs at a time (the error after N batches does not depend on the speed).
cd "$(dirname "$0")/../../../.."
D=bench/results/session5/additions_5400
run() {  # name seed options...
  local name=$1 s=$2; shift 2
  python bench/time_to_accuracy.py --seeds $s --threads 1 --max-epochs 9 --max-minutes 59 \
    --out $D/${name}_s$s.json -- "$@" 2> $D/${name}_s$s.log
}
export -f run; export D
printf '%s\n' "manifold 0" "manifold 1" "manifold 2" "entropy 0" "entropy 1" "entropy 2" \
  "pseudo_label 0" "pseudo_label 1" "pseudo_label 2" | xargs -P 3 -L 1 bash -c '
  case $0 in manifold) o=ManifoldRegularization;; entropy) o=EntropyMinimization;; pseudo_label) o=PseudoLabel;; esac
  run $0 $1 --model.regularizers+=$o'
