#!/usr/bin/env python3
"""Reruns a published table's rows from their recorded command and compares them with the committed CSV.

Every row of the tables below is one deterministic search (its strategy, seed and problem fix it), so rows can be
rerun one at a time, in any order, on any number of cores: `--rows` picks some (a regular expression matched
against the row's key, e.g. "celecoxib_rediscovery,migrate,0"), `--jobs` runs several at once. Every column is
compared exactly except the wall time (`seconds`), which is shown beside the recorded one. Exit status: 0 every
compared row equal, 1 some differ or failed to run, 2 bad usage.

  python3 scripts/reproduce.py --list
  python3 scripts/reproduce.py pmo-10k --rows 'celecoxib_rediscovery,migrate,0'
  python3 scripts/reproduce.py semantle-ablation --jobs 2

Results are pinned per machine kind: OpenBLAS picks its kernels by CPU, and the training step uses them, so a table
measured on one CPU family may differ in the last bits (and from there in the search) on another. Each table below
names the machine it was measured on. Python's standard library only.
"""
import argparse
import concurrent.futures
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

PMO_TASKS = "median1,zaleplon_mpo,perindopril_mpo,amlodipine_mpo,celecoxib_rediscovery"


def pmo_row(fixed, setting_column=False):
    """A row of a `migrate pmo` table on jobs/pmo/pmo.yaml: the row's task, strategy and seed with the first SMILES
    prior and no KL (the job's smiles-tiny-ns and β came later), the table's fixed arguments, and (for a table of
    settings) the row's setting: one --set per blank-separated key=value."""
    def cmd(migrate, row, out):
        args = [migrate, "pmo", "jobs/pmo/pmo.yaml", "--tasks", row["task"], "--strategies", row["strategy"],
                "--seeds", row["seed"], "--set", f"output_dir={out}", "--set", "threads=1",
                "--set", "model=data/models/smiles-tiny", "--set", "training.beta=0"] + fixed
        if setting_column:
            for kv in row["setting"].split():
                args += ["--set", kv]
        return args, os.path.join(out, "pmo.csv")
    return cmd


def pmo_5e5_row(budget):
    """pmo.md and pmo-10k.md: measured at 5e-5."""
    return pmo_row(["--budget", str(budget), "--set", "training.learning_rate=5e-5"])


# pmo-lr.md's 10,000-molecule runs: the job's 1e-3, a 20,000-sample cap, the row's setting
pmo_setting_row = pmo_row(["--max-samples", "20000"], setting_column=True)


def ablate_row(fixed, settings_column=False, job="jobs/semantle-demo.yaml"):
    """A row of a `migrate ablate` table on `job`: the row's strategy, seed and target, the table's fixed --set
    arguments, and (for a --grid table) the row's settings column as one more --set."""
    def cmd(migrate, row, out):
        args = [migrate, "ablate", job, "--strategies", row["strategy"], "--seeds", row["seed"],
                "--targets", row["target"], "--set", "threads=1", "--set", f"output_dir={out}"] + fixed
        if settings_column:  # one or more KEY=VALUE, space-separated
            for setting in row["settings"].split():
                args += ["--set", setting]
        return args, os.path.join(out, "ablation.csv")
    return cmd


semantle_row = ablate_row(["--set", "iterations=25"])  # the 25-iteration tables
# the --grid model=... ablation: the demo config as shipped (50 iterations), the row's model
semantle_models_row = ablate_row([], settings_column=True)
# ablation-words.md's confirmation: the word prior, lr 1e-3, repeats lowest, 600 oracle calls
semantle_words_confirm_row = ablate_row(["--set", "model=data/models/semantle-words", "--set", "oracle_budget=600",
                                         "--set", "iterations=400", "--set", "training.learning_rate=1e-3",
                                         "--set", "search.repeats=lowest"])
# ablation-full-weights.md: the word prior, repeats lowest, 600 oracle calls; full training or LoRA per row
WORDS_600 = ["--set", "model=data/models/semantle-words", "--set", "oracle_budget=600", "--set", "iterations=400",
             "--set", "search.repeats=lowest"]
semantle_full_dev_row = ablate_row(WORDS_600 + ["--set", "lora.use_peft=false"], settings_column=True)
semantle_full_confirm_row = ablate_row(WORDS_600, settings_column=True)
# sentence-oracle.md: the sentence-embedding oracle, run by the Python that runs this script (it needs wordllama)
ORACLE_COMMAND = f"{sys.executable} tasks/examples/semantle_sentence_oracle.py --target {{target}}"
semantle_sentence_row = ablate_row(["--set", f"task.command={ORACLE_COMMAND}"], settings_column=True,
                                   job="jobs/semantle-sentence-oracle.yaml")


def arc_row(job_yaml):
    def cmd(migrate, row, out):
        # A sweep element: the job's config without its sweep section, as `migrate sweep --dry-run` writes it, with
        # the element's overrides; the run's summary.json becomes the row (arc_result_row).
        dry = os.path.join(out, "sweep")
        subprocess.run([migrate, "sweep", job_yaml, "--seeds", row["seed"], "--dry-run", "--out", dry], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        args = [migrate, "run", os.path.join(dry, "config.yaml"), "--quiet"]
        for kv in row["overrides"].split(" "):
            if not kv.startswith("output_dir="):
                args += ["--set", kv]
        return args + ["--set", f"output_dir={out}/run"], None
    return cmd


# name: (committed CSV, key columns, how to rerun one row, what the table is)
TABLES = {
    "pmo-1k": ("docs/results/pmo.csv", ["task", "strategy", "seed"], pmo_5e5_row(1000),
               "docs/results/pmo.md: 5 PMO tasks x 4 strategies x 3 seeds at 1,000 molecules (Intel Xeon VM)"),
    "pmo-10k": ("docs/results/pmo-10k.csv", ["task", "strategy", "seed"], pmo_5e5_row(10000),
                "docs/results/pmo-10k.md: the same grid at PMO's 10,000 molecules (Intel Xeon VM)"),
    "pmo-10k-beta": ("docs/results/pmo-10k-beta.csv", ["setting", "task", "strategy", "seed"], pmo_setting_row,
                     "docs/results/pmo-lr.md (last two sections): KL to the base, repeats lowest, and more knobs "
                     "at β 0.003, at 10,000 molecules (Intel Xeon)"),
    "pmo-10k-cap": ("docs/results/pmo-10k-cap.csv", ["setting", "task", "strategy", "seed"],
                    pmo_row(["--max-samples", "40000"], setting_column=True),
                    "docs/results/pmo-lr.md (last section): β 0.003 runs with twice the sample cap (Intel Xeon)"),
    "pmo-10k-prior": ("docs/results/pmo-10k-prior.csv", ["setting", "task", "strategy", "seed"], pmo_setting_row,
                      "docs/results/pmo-prior.md: the prior trained on its neighbourhood prompt, at 10,000 "
                      "molecules (Intel Xeon)"),
    "semantle-ablation": ("docs/results/ablation.csv", ["strategy", "seed", "target"], semantle_row,
                          "docs/results/ablation.md: 6 strategies x 3 seeds x 3 targets, 25 iterations"),
    "semantle-ablation-10seeds": ("docs/results/ablation-10seeds.csv", ["strategy", "seed", "target"],
                                  semantle_row, "docs/results/ablation.md: the same with seeds 0-9"),
    "semantle-drawn": ("docs/results/ablation-drawn-nouns.csv", ["strategy", "seed", "target"], semantle_row,
                       "docs/results/ablation-drawn.md: 6 strategies x 3 seeds x 20 drawn nouns (AMD EPYC)"),
    "semantle-models": ("docs/results/ablation-models.csv", ["strategy", "settings", "seed", "target"],
                        semantle_models_row,
                        "docs/results/ablation-models.md: 2 priors x 4 strategies x 2 seeds x 20 drawn nouns (Intel Xeon)"),
    "semantle-words-confirm": ("docs/results/ablation-words-confirm.csv", ["strategy", "seed", "target"],
                               semantle_words_confirm_row,
                               "docs/results/ablation-words.md: the word prior at lr 1e-3, 4 strategies x 2 seeds x 20 "
                               "fresh nouns (Intel Xeon)"),
    "semantle-words-confirm-draw8": ("docs/results/ablation-words-confirm-draw8.csv", ["strategy", "seed", "target"],
                                     semantle_words_confirm_row,
                                     "docs/results/ablation-words.md: the same setting on a third draw of 20 fresh "
                                     "nouns (Intel Xeon)"),
    "semantle-full-weights-dev": ("docs/results/ablation-full-weights-dev.csv", ["strategy", "settings", "seed", "target"],
                                  semantle_full_dev_row,
                                  "docs/results/ablation-full-weights.md: full training, 2 strategies x 3 learning "
                                  "rates x 2 seeds x 10 development nouns (Intel Xeon)"),
    "semantle-full-weights-confirm": ("docs/results/ablation-full-weights-confirm.csv",
                                      ["strategy", "settings", "seed", "target"], semantle_full_confirm_row,
                                      "docs/results/ablation-full-weights.md: full training against LoRA, 4 strategies "
                                      "x 2 seeds x 20 fresh nouns (Intel Xeon)"),
    "semantle-sentence": ("docs/results/sentence-oracle.csv", ["strategy", "settings", "seed", "target"],
                          semantle_sentence_row,
                          "docs/results/sentence-oracle.md: the sentence-embedding oracle, 2 priors x 4 strategies x 2 "
                          "seeds x 8 drawn nouns; run this script with a Python that has wordllama (Intel Xeon)"),
    "arc-ablation-real": ("docs/results/arc-ablation-real.csv", ["problem", "strategy", "seed"],
                          arc_row("jobs/arc-ablation.yaml"),
                          "docs/results/arc-ablation.md: 5 strategies x 45 real ARC tasks x seeds (AMD EPYC)"),
    "arc-ablation-synthetic": ("docs/results/arc-ablation-synthetic.csv", ["problem", "strategy", "seed"],
                               arc_row("jobs/arc-ablation-synthetic.yaml"),
                               "docs/results/arc-ablation.md: 5 strategies x 50 held-out synthetic tasks x seeds"),
}


def run_one(migrate, row, cmd_of):
    out = tempfile.mkdtemp(prefix="reproduce-")
    try:
        args, csv_path = cmd_of(migrate, row, out)
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            return None, (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
        if csv_path:
            rows = list(csv.DictReader(open(csv_path)))
            return (rows[0] if rows else None), None
        return arc_result_row(os.path.join(out, "run"), row), None
    finally:
        shutil.rmtree(out, ignore_errors=True)


def arc_result_row(run_dir, want):
    """The row `migrate sweep --collect` writes for one element, from the run's summary.json."""
    s = json.load(open(os.path.join(run_dir, "summary.json")))
    got = dict(want)
    got["solved"] = "1" if s["solved"] else "0"
    got["oracle_calls"] = str(s["oracle_calls"])
    got["oracle_calls_to_solve"] = str(s["oracle_calls_to_solve"] if s["oracle_calls_to_solve"] is not None else -1)
    got["best_reward"] = "%.6f" % s["best_reward"]
    got["best"] = s["best"]
    got["iterations"] = str(s["iterations"])
    got["seconds"] = "%.2f" % s["seconds"]["total"]
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("table", nargs="?", help="one of --list")
    ap.add_argument("--list", action="store_true", help="the tables this script can rerun")
    ap.add_argument("--migrate", default="build/migrate", help="the binary (default build/migrate)")
    ap.add_argument("--rows", default="", help="regular expression over the row keys (default: every row)")
    ap.add_argument("--jobs", type=int, default=1, help="rows at once (each uses one thread)")
    args = ap.parse_args()
    if args.list or not args.table:
        for name, (path, keys, _, what) in TABLES.items():
            print(f"{name:28s} {path}  key {','.join(keys)}\n{'':28s} {what}")
        return 0 if args.list else 2
    if args.table not in TABLES:
        print(f"reproduce: no table '{args.table}' (--list names them)", file=sys.stderr)
        return 2
    path, keys, cmd_of, _ = TABLES[args.table]
    rows = [r for r in csv.DictReader(open(path)) if r.get("status", "done") == "done"]  # without a sweep's unfinished rows
    key_of = lambda r: ",".join(r[k] for k in keys)
    chosen = [r for r in rows if re.search(args.rows, key_of(r))]
    if not chosen:
        print(f"reproduce: no row of {path} matches '{args.rows}'", file=sys.stderr)
        return 2
    print(f"reproduce {args.table}: {len(chosen)} of {len(rows)} rows of {path}, {args.jobs} at once", flush=True)
    differ = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(run_one, args.migrate, r, cmd_of): r for r in chosen}
        for f in concurrent.futures.as_completed(futures):
            want = futures[f]
            got, err = f.result()
            if err or got is None:
                print(f"FAILED   {key_of(want)}: {err or 'no row written'}", flush=True)
                differ += 1
                continue
            diffs = [(c, want[c], got.get(c)) for c in want if c not in ("seconds", "element", "status")
                     and c not in keys and got.get(c) != want[c]]
            secs = f"{got.get('seconds', '?')} s (recorded {want.get('seconds', '?')} s)"
            if diffs:
                differ += 1
                print(f"DIFFERS  {key_of(want)}: " +
                      "; ".join(f"{c} {w!r} -> {g!r}" for c, w, g in diffs) + f"  [{secs}]", flush=True)
            else:
                print(f"same     {key_of(want)}  [{secs}]", flush=True)
    print(f"reproduce {args.table}: {len(chosen) - differ} of {len(chosen)} rows equal")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
