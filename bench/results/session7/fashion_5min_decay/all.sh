#!/usr/bin/env bash
cd "$(dirname "$0")"
bash run.sh pi_decay 2 0 1 -- --model.regularizers+=Consistency
bash run.sh ict10_decay 2 0 1 -- --model.regularizers+=InterpolationConsistency --model.regularizers.weight 10
# As run: the first ICT seed-0 run overlapped with two 30-minute runs (a wait loop in another
# script did not match this script's command line) and was discarded; ICT seeds 0 and 1 were then
# re-run alone with:  bash run.sh ict10_decay 0 1 -- <the same options>
