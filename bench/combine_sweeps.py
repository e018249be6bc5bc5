"""Put the rows of several ``evaluate.py sweep`` folders into one table and plot, renaming
methods, e.g. the same splits swept with two GAN recipes:

    python bench/combine_sweeps.py --out DIR --title digits \\
        A/results.csv B/results.csv:ssgan=ssgan+Consistency

Rows are taken in order; a (method, labels, seed) already taken is skipped. Writes
``DIR/results.csv``, ``summary.csv``, ``summary.md`` and ``error_vs_labels.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ssgan.sweep import read_results, write_results, write_summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="+", help="results.csv[:old=new,...]")
    p.add_argument("--out", required=True)
    p.add_argument("--title", default="")
    a = p.parse_args()
    rows, seen = [], set()
    for src in a.sources:
        path, _, renames = src.partition(":")
        rename = dict(r.split("=", 1) for r in renames.split(",") if r)
        for r in read_results(Path(path)):
            r["method"] = rename.get(r["method"], r["method"])
            key = (r["method"], r["labels"], r["seed"])
            if key not in seen:
                seen.add(key)
                rows.append(r)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    write_results(out / "results.csv", rows)
    print((out / "summary.md").read_text() if write_summary(out, rows, a.title) else "no rows")


if __name__ == "__main__":
    main()
