#!/usr/bin/env python3
"""Held-out evaluation of the bundled ARC model (docs/arc-demo-model.md): how often its samples parse, run and
solve synthetic tasks it was not trained on, per program length.

Held-out tasks come from `migrate arc-gen` with a seed the corpus did not use (3); a task whose program text is in
the training corpus's answer key (data/arc-tiny/train_programs.jsonl) is skipped, so every task here needs a
program the model never saw as an answer. Each task is searched by `migrate run` with strategy random (samples of
the pretrained model only, no training) for ITERATIONS x 16 samples, stopping at a program exact on every training
pair; all tasks run as one multiplexed sweep (one copy of the model). Reported per length: tasks, pass@k (solved
within the k samples), and over all samples the share that parse (a grid-language program) and, of the programs
that parse, the share that run without error on the test input.

Usage (from the repository root, after a build):
  python3 scripts/eval_arc_model.py --migrate build/migrate --model data/models/arc-tiny --out /tmp/arc-eval
Python's standard library only.
"""
import argparse
import json
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--migrate", default="build/migrate")
    ap.add_argument("--model", default="data/models/arc-tiny")
    ap.add_argument("--train-key", default="data/arc-tiny/train_programs.jsonl")
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-length", type=int, default=20)
    ap.add_argument("--lengths", default="1,2,3,4,5")
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    os.makedirs(args.out, exist_ok=True)
    seen = {json.loads(line)["program"] for line in open(args.train_key)}
    tasks_dir = os.path.join(args.out, "tasks")
    subprocess.run([args.migrate, "arc-gen", "--seed", str(args.seed), "--count", "3000", "--lines",
                    f"{min(lengths)}-{max(lengths)}", "--max-side", "8", "--sides", "3-8", "--out", tasks_dir,
                    "--quiet"], check=True)
    chosen = {n: [] for n in lengths}
    skipped = 0
    for line in open(os.path.join(tasks_dir, "programs.jsonl")):
        p = json.loads(line)
        if p["lines"] not in chosen or len(chosen[p["lines"]]) >= args.per_length:
            continue
        if p["program"] in seen:
            skipped += 1
            continue
        chosen[p["lines"]].append(p["id"])
    files = [os.path.join(os.path.abspath(tasks_dir), i + ".json") for n in lengths for i in chosen[n]]
    length_of = {i: n for n in lengths for i in chosen[n]}
    sweep = os.path.join(args.out, "eval.yaml")
    with open(sweep, "w") as f:
        f.write(f"""model: {os.path.abspath(args.model)}
seed: 0
strategy: random
iterations: {args.iterations}
output_dir: {os.path.abspath(args.out)}/runs
save_steps: 0
threads: 1
task:
  type: arc
  arc:
    file: {files[0]}
    executor: dsl
    format: digits
search:
  num_on_policy: 16
  num_greedy: 0
  num_neighborhood: 0
sampling:
  temperature: 1.0
  max_completion_length: 64
sweep:
  grid:
    task.arc.file: [{", ".join(files)}]
""")
    subprocess.run([args.migrate, "run", sweep, "--quiet", "--overwrite"], check=True, stdout=subprocess.DEVNULL)
    rows = {n: {"tasks": 0, "solved": 0, "samples": 0, "unparsable": 0, "programs": 0, "clean": 0} for n in lengths}
    manifest = os.path.join(args.out, "runs", "sweep", "manifest.tsv")
    for line in open(manifest):
        if line.startswith("#"):
            continue
        fields = line.rstrip("\n").split("\t")
        idx = fields[0]
        tid = os.path.basename([kv for kv in fields if kv.startswith("task.arc.file=")][0])[:-len(".json")]
        d = os.path.join(args.out, "runs", "sweep", idx)
        summ = json.load(open(os.path.join(d, "summary.json")))
        res = json.load(open(os.path.join(d, "arc_result.json")))
        last = [json.loads(m) for m in open(os.path.join(d, "metrics.jsonl")) if m.strip()][-1]
        r = rows[length_of[tid]]
        r["tasks"] += 1
        r["solved"] += bool(summ["solved"])
        r["samples"] += 16 * summ["iterations"]
        r["unparsable"] += last.get("unparsable", 0)
        r["programs"] += res["programs"]
        r["clean"] += res["programs_clean_on_test"]
    out = {"model": args.model, "heldout_seed": args.seed, "samples_per_task": 16 * args.iterations,
           "skipped_as_seen_in_training": skipped, "per_length": {}}
    print(f"| program lines | tasks | pass@{16 * args.iterations} | samples that parse | distinct programs "
          f"that run on the test input |\n|---|---|---|---|---|")
    for n in lengths:
        r = rows[n]
        parse = 1 - r["unparsable"] / max(r["samples"], 1)
        clean = r["clean"] / max(r["programs"], 1)
        out["per_length"][n] = dict(r, pass_at_k=r["solved"] / max(r["tasks"], 1), parse_share=parse,
                                    clean_share=clean)
        print(f"| {n} | {r['tasks']} | {r['solved']}/{r['tasks']} | {100 * parse:.1f}% | {100 * clean:.1f}% |")
    json.dump(out, open(os.path.join(args.out, "eval.json"), "w"), indent=1, sort_keys=True)


if __name__ == "__main__":
    sys.exit(main())
