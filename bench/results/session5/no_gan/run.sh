#!/usr/bin/env bash
# The consistency and entropy terms without the GAN (no real/fake term: --model.unlabeled_weight 0),
# Fashion-MNIST-100, split seeds 0, 1, 2, 9 epochs (5,400 batches: what the GAN runs train in
# about 5 minutes on 2 cores), one thread each, the three at once (error after N batches does
# not depend on the speed).
cd "$(dirname "$0")/../../../.."
D=bench/results/session5/no_gan
for s in 0 1 2; do
  python bench/time_to_accuracy.py --seeds $s --threads 1 --max-epochs 9 --max-minutes 59 --out $D/no_gan_s$s.json \
    -- --model.unlabeled_weight 0 --model.regularizers+=EntropyMinimization --model.regularizers+=Consistency \
    2> $D/no_gan_s$s.log &
done
wait
