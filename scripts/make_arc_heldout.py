#!/usr/bin/env python3
"""Makes the held-out synthetic ARC tasks of the CPU strategy table (docs/results/arc-ablation.md):
data/arc-synthetic/heldout_{challenges,solutions}.json (Kaggle layout) and heldout_programs.jsonl (the answer key).

The tasks come from `migrate arc-gen` with seed 4, which neither the bundled model's corpus (seed 1), its
validation set (seed 2) nor its held-out evaluation (seed 3) used, at the corpus's grid sizes (sides 3-8) and with
programs of 3-5 lines. A task whose program text is in the corpus's answer key (data/arc-tiny/train_programs.jsonl)
is skipped, so no answer was ever shown to the model; the first COUNT remaining tasks in index order are kept.
The strategies were never run on these tasks before the table was made (no tuning on them).

Usage (from the repository root, after a build):
  python3 scripts/make_arc_heldout.py --migrate build/migrate
Python's standard library only; the output is the same on every run.
"""
import argparse
import json
import os
import subprocess
import tempfile


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--migrate", default="build/migrate")
    ap.add_argument("--train-key", default="data/arc-tiny/train_programs.jsonl")
    ap.add_argument("--out-prefix", default="data/arc-synthetic/heldout")
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args()
    seen = {json.loads(line)["program"] for line in open(args.train_key)}
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "pool")
        subprocess.run([args.migrate, "arc-gen", "--seed", str(args.seed), "--count", str(20 * args.count),
                        "--lines", "3-5", "--max-side", "8", "--sides", "3-8", "--combined", prefix, "--quiet"],
                       check=True)
        challenges = json.load(open(prefix + "_challenges.json"))
        solutions = json.load(open(prefix + "_solutions.json"))
        programs = [json.loads(line) for line in open(prefix + "_programs.jsonl")]
    kept = []
    skipped = 0
    for p in programs:
        if len(kept) == args.count:
            break
        if p["program"] in seen:
            skipped += 1
            continue
        kept.append(p)
    if len(kept) < args.count:
        raise SystemExit(f"make_arc_heldout: only {len(kept)} of {args.count} tasks are new to the corpus")
    os.makedirs(os.path.dirname(args.out_prefix) or ".", exist_ok=True)
    with open(args.out_prefix + "_challenges.json", "w") as f:
        json.dump({p["id"]: challenges[p["id"]] for p in kept}, f, separators=(",", ":"))
    with open(args.out_prefix + "_solutions.json", "w") as f:
        json.dump({p["id"]: solutions[p["id"]] for p in kept}, f, separators=(",", ":"))
    with open(args.out_prefix + "_programs.jsonl", "w") as f:
        for p in kept:
            f.write(json.dumps(p) + "\n")
    by_lines = {}
    for p in kept:
        by_lines[p["lines"]] = by_lines.get(p["lines"], 0) + 1
    print(f"make_arc_heldout: {len(kept)} tasks ({', '.join(f'{n} of {k} lines' for k, n in sorted(by_lines.items()))}),"
          f" {skipped} skipped as corpus answers -> {args.out_prefix}_*.json")


if __name__ == "__main__":
    main()
