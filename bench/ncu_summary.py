#!/usr/bin/env python3
"""Where the GPU time goes: sums ncu's gpu__time_duration by kernel over one or more CSV logs
(`ncu --csv --metrics gpu__time_duration.sum --log-file F ...`, as bench/profile_cuda.sh runs it).

  python3 bench/ncu_summary.py FILE.csv [...] [--top 15]

Per file: kernel launches, their summed time (the GPU busy time; gaps between launches are not in it), and the
kernels by total time, largest first, with count, mean and share. Standard library only.
"""
import argparse
import csv
import sys

UNIT_US = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3, "second": 1e6, "s": 1e6}


def read(path):
    """(kernel name, microseconds) for every profiled launch in the file."""
    with open(path, newline="", errors="replace") as f:
        lines = [ln for ln in f if ln.startswith('"')]  # ncu's own ==PROF== lines and the program's output are not CSV
    rows = []
    for r in csv.DictReader(lines):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(r["Metric Value"].replace(",", ""))
        rows.append((r["Kernel Name"], value * UNIT_US.get(r.get("Metric Unit", "nsecond"), 1e-3)))
    return rows


def short(name, width=70):
    name = name.split("(")[0] if not name.startswith("void ") else name[5:].split("(")[0]
    return name if len(name) <= width else name[: width - 3] + "..."


def summarize(path, top):
    rows = read(path)
    if not rows:
        print(f"{path}: no kernel durations (was the profiled range empty?)")
        return
    total = sum(t for _, t in rows)
    by = {}
    for name, t in rows:
        n, s = by.get(name, (0, 0.0))
        by[name] = (n + 1, s + t)
    print(f"\n{path}: {len(rows)} launches, {total / 1e3:.3f} ms of kernel time")
    print(f"  {'kernel':70s} {'count':>6s} {'total us':>10s} {'mean us':>9s} {'share':>6s}")
    for name, (n, s) in sorted(by.items(), key=lambda kv: -kv[1][1])[:top]:
        print(f"  {short(name):70s} {n:6d} {s:10.1f} {s / n:9.2f} {100 * s / total:5.1f}%")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--top", type=int, default=15)
    a = ap.parse_args()
    for f in a.files:
        summarize(f, a.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
