"""Print the test-error curves (batches:error %) of a screen's time_to_accuracy JSON files."""
import glob
import json
import sys


def rows_of(o):
    if isinstance(o, list) and o and isinstance(o[0], dict) and "test_error" in o[0]:
        return o
    for v in (o.values() if isinstance(o, dict) else o if isinstance(o, list) else []):
        r = rows_of(v)
        if r:
            return r
    return None


for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    rows = rows_of(json.load(open(f)))
    if rows:
        print(f"{f.split('/')[-1]:20s}", " ".join(f"{r['batches']}:{100 * r['test_error']:.2f}" for r in rows))
