#!/usr/bin/env python3
"""Strategy table for an external-oracle Semantle (jobs/semantle-sentence-oracle.yaml): `migrate ablate` takes
the built-in task only, so this runs one `migrate run` per target x strategy x seed, with the target passed on
the oracle's command line, and tabulates them as ablate does: solved runs, median oracle calls to solve, mean
best reward, the oracle calls at which the best guess first reached rank 950 and 990 of 1000 (read from
metrics.jsonl, so to the iteration), and paired best-reward wins / ties / losses against random.

Targets are given (--targets) or drawn (--draw N --draw-seed S) from a declared population: the words of
--draw-from (default data/semantle/nouns.txt) whose frequency rank in data/semantle/vocab.txt is within
--draw-ranks (default 100-2000, as `migrate ablate --draw`), without the --exclude words.

A run whose summary.json exists is not run again, so a stopped table resumes where it stopped.

  python3 scripts/oracle_strategy_table.py --migrate build/migrate --python /path/to/venv/bin/python \\
      --draw 6 --draw-seed 5 --seeds 0,1 --strategies random,grpo,grpo-greedy,migrate --out runs/sentence-table
"""
import argparse
import json
import math
import os
import random
import re
import shlex
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORACLE = "tasks/examples/semantle_sentence_oracle.py"


def draw_targets(n, seed, ranks, draw_from, exclude):
    with open(os.path.join(ROOT, "data", "semantle", "vocab.txt")) as f:
        rank = {w.strip(): i + 1 for i, w in enumerate(f) if w.strip()}
    with open(draw_from) as f:
        listed = [w.strip() for w in f if w.strip()]
    lo, hi = ranks
    population = sorted((w for w in set(listed) if lo <= rank.get(w, 0) <= hi and w not in exclude),
                        key=lambda w: rank[w])
    if n > len(population):
        sys.exit(f"oracle_strategy_table: --draw {n} but the population has {len(population)} words")
    return random.Random(seed).sample(population, n)


def reach_calls(metrics_path, threshold):
    """Oracle calls at the end of the first iteration whose best guess has rank >= threshold (or is found)."""
    with open(metrics_path) as f:
        for line in f:
            row = json.loads(line)
            info = row.get("best_info", "")
            m = re.match(r"rank (\d+)/", info)
            if info == "found" or (m and int(m.group(1)) >= threshold):
                return row["oracle_calls"]
    return None


def run_one(args, target, strategy, seed):
    out = os.path.join(args.out, f"{target}-{strategy}-{seed}")
    summary = os.path.join(out, "summary.json")
    if not os.path.exists(summary):
        command = f"{args.python} {ORACLE} --target {target}"
        cmd = [args.migrate, "run", args.config, "--set", f"task.command={command}", "--set", f"strategy={strategy}",
               "--set", f"seed={seed}", "--set", f"output_dir={out}", "--set", "threads=1", "--set", "log_every=1000"]
        for kv in args.set:
            cmd += ["--set", kv]
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0 or not os.path.exists(summary):
            sys.exit(f"oracle_strategy_table: {' '.join(shlex.quote(c) for c in cmd)} failed "
                     f"(exit {r.returncode}): {r.stderr.strip().splitlines()[-1:]}")
        print(f"{target} {strategy} {seed}: done", file=sys.stderr, flush=True)
    with open(summary) as f:
        s = json.load(f)
    metrics = os.path.join(out, "metrics.jsonl")
    return {"target": target, "strategy": strategy, "seed": seed, "solved": int(bool(s["solved"])),
            "calls_to_solve": s["oracle_calls_to_solve"], "oracle_calls": s["oracle_calls"],
            "best_reward": s["best_reward"], "best": s["best"], "best_info": s["best_info"],
            "calls_to_950": reach_calls(metrics, 950), "calls_to_990": reach_calls(metrics, 990),
            "seconds": round(s["seconds"]["total"], 2)}


def median_or_dash(values):
    values = [v for v in values if v is not None]
    return f"{statistics.median(values):g} ({len(values)} runs)" if values else "-"


def sign_test_p(wins, losses):
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


def table(rows, strategies):
    by = {(r["strategy"], r["target"], r["seed"]): r for r in rows}
    lines = ["| strategy | solved | median calls to solve | mean best reward | median calls to rank 950 "
             "| median calls to rank 990 | best reward vs random: wins / ties / losses (sign test p) |",
             "|---|---|---|---|---|---|---|"]
    for st in strategies:
        mine = [r for r in rows if r["strategy"] == st]
        vs = "-"
        if st != "random" and "random" in strategies:
            w = t = l = 0
            for r in mine:
                o = by.get(("random", r["target"], r["seed"]))
                if o is None:
                    continue
                a, b = r["best_reward"], o["best_reward"]
                w, t, l = w + (a > b), t + (a == b), l + (a < b)
            vs = f"{w} / {t} / {l} (p = {sign_test_p(w, l):.2f})"
        lines.append(f"| {st} | {sum(r['solved'] for r in mine)}/{len(mine)} "
                     f"| {median_or_dash([r['calls_to_solve'] for r in mine])} "
                     f"| {statistics.mean(r['best_reward'] for r in mine):.3f} "
                     f"| {median_or_dash([r['calls_to_950'] for r in mine])} "
                     f"| {median_or_dash([r['calls_to_990'] for r in mine])} | {vs} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--migrate", default=os.path.join(ROOT, "build", "migrate"))
    ap.add_argument("--python", default=sys.executable, help="the interpreter that has wordllama")
    ap.add_argument("--config", default="jobs/semantle-sentence-oracle.yaml")
    ap.add_argument("--targets", default="", help="comma list (instead of --draw)")
    ap.add_argument("--draw", type=int, default=0)
    ap.add_argument("--draw-seed", type=int, default=0)
    ap.add_argument("--draw-ranks", default="100-2000")
    ap.add_argument("--draw-from", default=os.path.join(ROOT, "data", "semantle", "nouns.txt"))
    ap.add_argument("--exclude", default="", help="comma list of words never drawn")
    ap.add_argument("--strategies", default="random,grpo,grpo-greedy,migrate")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--set", action="append", default=[], help="config override for every run")
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time (one engine thread each)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    args.migrate = os.path.abspath(args.migrate)
    args.out = os.path.abspath(args.out)

    if args.targets:
        targets = [t for t in args.targets.split(",") if t]
    elif args.draw > 0:
        lo, hi = (int(x) for x in args.draw_ranks.split("-"))
        targets = draw_targets(args.draw, args.draw_seed, (lo, hi), args.draw_from,
                               set(w for w in args.exclude.split(",") if w))
    else:
        sys.exit("oracle_strategy_table: give --targets or --draw N")
    strategies = args.strategies.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"targets: {','.join(targets)}", file=sys.stderr)

    os.makedirs(args.out, exist_ok=True)
    cells = [(t, st, sd) for t in targets for sd in seeds for st in strategies]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(lambda c: run_one(args, *c), cells))

    with open(os.path.join(args.out, "results.csv"), "w") as f:
        keys = list(rows[0])
        f.write(",".join(keys) + "\n")
        for r in rows:
            f.write(",".join("" if r[k] is None else str(r[k]) for k in keys) + "\n")
    md = f"targets: {', '.join(targets)}; seeds {args.seeds}\n\n" + table(rows, strategies) + "\n"
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
