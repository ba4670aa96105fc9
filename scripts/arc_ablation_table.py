#!/usr/bin/env python3
"""The ARC strategy table (docs/results/arc-ablation.md) from collected sweep folders.

Each FOLDER is a sweep of jobs/arc-ablation*.yaml after `migrate sweep --collect FOLDER`: its results.csv (one row
per search: strategy, seed, solved = a program exact on every training pair, oracle calls, best reward, seconds)
and arc_results.csv (pass@1/pass@2 of each search's two attempts against the task's test output). Folders may hold
different seeds of one task set; searches that did not finish are left out and counted.

Per strategy: pass@2 per seed and in all, train-perfect searches, the median oracle calls of those that got there,
the mean best training reward and wall time, and against random sampling on the same (task, seed): searches right
on the test where random was not / the other way round, with an exact two-sided sign test.

  python3 scripts/arc_ablation_table.py /tmp/abl /tmp/abl12 [--csv rows.csv] [--answers answers.csv]
Python's standard library only.
"""
import argparse
import csv
import math
import os
import statistics
import sys

STRATEGIES = ["random", "ns", "grpo", "grpo-greedy", "migrate"]


def sign_test(wins, losses):
    n, k = wins + losses, min(wins, losses)
    if n == 0:
        return 1.0
    p = 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, p)


def load(folder):
    results = list(csv.DictReader(open(os.path.join(folder, "results.csv"))))
    answers = {r["element"]: r for r in csv.DictReader(open(os.path.join(folder, "arc_results.csv")))}
    rows = []
    for r in results:
        if r["status"] != "done" or r["element"] not in answers:
            continue
        a = answers[r["element"]]
        rows.append({"task": r["problem"], "strategy": r["strategy"], "seed": int(r["seed"]),
                     "solved": r["solved"] == "1", "calls_to_solve": int(r["oracle_calls_to_solve"]),
                     "best": float(r["best_reward"]), "seconds": float(r["seconds"]),
                     "pass2": float(a["pass2"] or 0) >= 1.0, "src": r, "answers": a})
    return rows, len(results)


def write_rows(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()) if rows else [], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--csv", help="write the finished searches' rows here (results.csv's columns)")
    ap.add_argument("--answers", help="write their answer rows here (arc_results.csv's columns)")
    args = ap.parse_args()
    rows, listed = [], 0
    for f in args.folders:
        r, n = load(f)
        rows += r
        listed += n
    seeds = sorted({r["seed"] for r in rows})
    tasks = sorted({r["task"] for r in rows})
    # Only (task, seed) pairs every strategy finished count, so that every row of the table has the same problems.
    by = {(r["task"], r["seed"], r["strategy"]): r for r in rows}
    pairs = [(t, s) for t in tasks for s in seeds if all((t, s, g) in by for g in STRATEGIES)]
    print(f"{len(rows)} of {listed} searches finished; {len(pairs)} (task, seed) pairs finished by every strategy "
          f"({len(tasks)} tasks, seeds {', '.join(map(str, seeds))})\n")
    seed_cols = " | ".join(f"pass@2 seed {s}" for s in seeds)
    print(f"| strategy | {seed_cols} | pass@2 in all | train-perfect | median oracle calls to train-perfect | "
          f"mean best reward | mean wall time (s) | right on the test where random was not / the reverse (p) |")
    print("|---|" + "---|" * (len(seeds) + 6))
    for g in STRATEGIES:
        mine = [by[(t, s, g)] for t, s in pairs]
        per_seed = []
        for s in seeds:
            n = sum(1 for t, s2 in pairs if s2 == s)
            per_seed.append(f"{sum(by[(t, s, g)]['pass2'] for t, s2 in pairs if s2 == s)}/{n}")
        solved = [r for r in mine if r["solved"]]
        med = statistics.median(r["calls_to_solve"] for r in solved) if solved else "-"
        if g == "random":
            versus = "-"
        else:
            w = sum(1 for t, s in pairs if by[(t, s, g)]["pass2"] and not by[(t, s, "random")]["pass2"])
            lo = sum(1 for t, s in pairs if not by[(t, s, g)]["pass2"] and by[(t, s, "random")]["pass2"])
            versus = f"{w} / {lo} ({sign_test(w, lo):.3g})"
        print(f"| {g} | {' | '.join(per_seed)} | {sum(r['pass2'] for r in mine)}/{len(mine)} | "
              f"{len(solved)}/{len(mine)} | {med} | {statistics.mean(r['best'] for r in mine):.4f} | "
              f"{statistics.mean(r['seconds'] for r in mine):.1f} | {versus} |")
    for path, key in ((args.csv, "src"), (args.answers, "answers")):
        if path:
            write_rows(path, [r[key] for r in rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
