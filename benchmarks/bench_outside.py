"""The customers outside the population, which ``churnml score`` writes beside its snapshot.

Times :func:`churnml.labels.outside_population` (the query) and the atomic write of its Parquet
file on already validated data, and reports the rows, the reasons and the file's size. Run on
generated data (``churnml generate /tmp/gen1m --customers 1000000``)::

    .venv/bin/python benchmarks/bench_outside.py --data /tmp/gen1m --as-of 2026-01-01

Without ``churn_events`` the population rule is inactivity, and the query reads the transactions
for each customer's last purchase: make a folder holding only the other three tables' files (links
will do) to time that case.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from churnml import io
from churnml.config import Config
from churnml.labels import outside_population
from churnml.validate import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="data folder (as for `churnml score`)")
    parser.add_argument("--as-of", default="2026-01-01", help="the scoring date")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of the query and the write")
    args = parser.parse_args()

    started = time.perf_counter()
    dataset = load_dataset(args.data, Config())
    print(f"load + validate: {time.perf_counter() - started:.1f} s")
    as_of = pd.Timestamp(args.as_of)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"outside_{as_of:%Y-%m-%d}.parquet"
        for run in range(1, args.repeat + 1):
            started = time.perf_counter()
            outside = outside_population(dataset, as_of, Config())
            query = time.perf_counter() - started
            started = time.perf_counter()
            io.write_table(outside, path, "parquet")
            write = time.perf_counter() - started
            reasons = {k: v for k, v in outside["reason"].value_counts().items() if v}
            print(f"run {run}: {len(outside):,} customers outside {reasons}; query {query:.2f} s, "
                  f"write {write:.2f} s, {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
