#!/usr/bin/env bash
# Test error of one variant over split seeds x training seeds (digits-50 by default), two runs
# at a time with one thread each, to compare variants whose differences are below the
# run-to-run noise of one training seed per split (a digits test image is 0.22 %).
#   bash bench/repeats.sh NAME OUT.tsv [train.py args ...]
# Env: SPLITS ("0 1 2"), TSEEDS ("0 1 2"; training seed = split + 1000 * tseed, so tseed 0 is
# the sweep's run), JOBS (2). Rows: name, split, tseed, test error, train seconds.
set -uo pipefail
name=$1 out=$2; shift 2
work=${WORK:-/tmp/repeats}; mkdir -p "$work"
export OMP_NUM_THREADS=1 PYTHONPATH=$PWD
one() {
  local split=$1 tseed=$2; shift 2; local dir="$work/${name}_s${split}_t${tseed}"; rm -rf "$dir"
  python train.py --data.seed_data "$split" --seed_everything $(( split + 1000 * tseed )) \
    --trainer.enable_progress_bar false --trainer.default_root_dir "$dir" "$@" > "$dir.log" 2>&1
  python -c "import json,sys,glob; m=json.load(open(glob.glob(sys.argv[1]+'/**/metrics.json',recursive=True)[0])); t=json.load(open(glob.glob(sys.argv[1]+'/**/timing.json',recursive=True)[0])); print(f\"$name\t$split\t$tseed\t{m['test/error']:.6f}\t{t['train_seconds']}\")" "$dir" >> "$out" \
    || echo -e "$name\t$split\t$tseed\tfailed\t" >> "$out"
  rm -f "$dir"/*/*/checkpoints/*.ckpt
}
# the train.py args travel as one string: values must not contain spaces
EXTRA="$*"; export -f one; export name out work EXTRA
for split in ${SPLITS:-0 1 2}; do for tseed in ${TSEEDS:-0 1 2}; do echo "$split $tseed"; done; done \
  | xargs -P "${JOBS:-2}" -L 1 bash -c 'one "$0" "$1" $EXTRA'
