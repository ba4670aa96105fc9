#!/usr/bin/env python3
"""Measures the bundled SMILES prior (data/models/smiles-tiny) with the built `migrate generate`, as the search uses it.

On-policy prompt ("a molecule"), --samples completions at temperature 1:
  validity    share of completions whose SMILES RDKit parses
  uniqueness  distinct canonical SMILES among the valid ones / valid ones
  novelty     distinct valid canonical SMILES not in the training set (data/smiles/train_smiles.txt.gz) / distinct
Neighborhood prompt ("a variation of X"), --ns-seeds seeds X from the MOSES *test* set (molecules the model never
saw), --ns-per-seed completions each:
  validity, the share equal to X, and the mean ECFP4 Tanimoto (Morgan radius 2, 2048 bits) of each valid answer to
  its X, against two baselines: on-policy samples paired with the same seeds, and random pairs of training molecules.

The SMILES is read from a completion as tasks/molecule.c's molecule_parse_smiles does (the first
whitespace/quote/comma-separated token that reads like a SMILES, trailing '.'/':' dropped), so "valid" here means
what the search scores as valid. Canonical SMILES come from the RDKit this script runs with.

Usage (after building migrate and training the model; a few minutes on one core):
  pip install rdkit numpy
  python3 scripts/eval_smiles_prior.py --wheel /tmp/molsets/molsets-0.3.1-py3-none-any.whl [--out FILE.json]
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import rdFingerprintGenerator

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
POLICY_PROMPT = "a molecule"
NS_PROMPT = "a variation of {x}"
WHEEL_SHA256 = "7f4450e3ebecebe79c3a2a55950c93daddee071120daf64a163d03481e811d34"
MOSES_TEST = "moses/dataset/data/test.csv.gz"
SEPARATORS = set(" \t\n\r\"'`,;")
BONDS_DIGITS = set("0123456789()=#$/\\%-+.:*~@")


def looks_like_smiles(tok):
    """A port of tasks/molecule.c's looks_like_smiles: organic-subset letters, bracket atoms, bonds, digits."""
    atoms, i, n = 0, 0, len(tok)
    while i < n:
        c = tok[i]
        if c == "[":
            j = i + 1
            while j < n and tok[j] not in "[]":
                j += 1
            if j >= n or tok[j] != "]" or j == i + 1:
                return False
            if not all(ch.isascii() and (ch.isalnum() or ch in "+-@:*") for ch in tok[i + 1:j]):
                return False
            atoms, i = atoms + 1, j + 1
        elif tok[i:i + 2] in ("Br", "Cl"):
            atoms, i = atoms + 1, i + 2
        elif c in "BCNOPSFIbcnops*":
            atoms, i = atoms + 1, i + 1
        elif c in BONDS_DIGITS:
            i += 1
        else:
            return False
    return atoms > 0


def parse_smiles(text, max_len=1024):
    """The first token of the completion that reads like a SMILES, or None (molecule_parse_smiles)."""
    tok = ""
    for ch in text + " ":
        if ch in SEPARATORS:
            t = tok.rstrip(".:")
            if t and len(t) <= max_len and looks_like_smiles(t):
                return t
            tok = ""
        else:
            tok += ch
    return None


def canonical(smiles):
    m = Chem.MolFromSmiles(smiles) if smiles else None
    return (Chem.MolToSmiles(m), m) if m is not None else (None, None)


def generate(args, prompts, n, seed):
    """Completions of `migrate generate` for each prompt (n each), as a list per prompt."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(prompts) + "\n")
        path = f.name
    cmd = [args.migrate, "generate", "--model", args.model, "--prompt-file", path, "-n", str(n),
           "--temperature", "1", "--max-new-tokens", str(args.max_new_tokens), "--seed", str(seed),
           "--threads", str(args.threads), "--batch-size", "64", "--json"]
    print("$ " + " ".join(cmd), file=sys.stderr)
    run = subprocess.run(cmd, capture_output=True, text=True)
    os.unlink(path)
    if run.returncode != 0:
        sys.exit(f"{args.migrate} generate failed (exit {run.returncode}): {run.stderr.strip()[-500:]}")
    out = run.stdout
    per_prompt = [[] for _ in prompts]
    finishes = {}
    for line in out.splitlines():
        o = json.loads(line)
        per_prompt[o["prompt"]].append(o["text"])
        finishes[o["finish"]] = finishes.get(o["finish"], 0) + 1
    return per_prompt, finishes


def moses_test(wheel):
    with open(wheel, "rb") as f:
        if hashlib.sha256(f.read()).hexdigest() != WHEEL_SHA256:
            sys.exit(f"{wheel}: not molsets-0.3.1-py3-none-any.whl (sha256 differs)")
    with zipfile.ZipFile(wheel) as z, gzip.open(io.BytesIO(z.read(MOSES_TEST)), "rt") as f:
        return [line.strip() for line in f][1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheel", required=True, help="molsets-0.3.1-py3-none-any.whl (neighborhood seeds: MOSES test)")
    ap.add_argument("--migrate", default=os.path.join(ROOT, "build", "migrate"))
    ap.add_argument("--model", default=os.path.join(ROOT, "data", "models", "smiles-tiny"))
    ap.add_argument("--train-smiles", default=os.path.join(ROOT, "data", "smiles", "train_smiles.txt.gz"))
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--ns-seeds", type=int, default=200)
    ap.add_argument("--ns-per-seed", type=int, default=20)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default="", help="also write the figures here as JSON")
    args = ap.parse_args()
    RDLogger.DisableLog("rdApp.*")
    for path, what in ((args.migrate, "the migrate binary"), (args.model, "the model folder"),
                       (args.train_smiles, "the novelty reference"), (args.wheel, "the molsets wheel")):
        if not os.path.exists(path):
            sys.exit(f"{path}: not found ({what})")
    with gzip.open(args.train_smiles, "rt") as f:
        train = {line.strip() for line in f if line.strip()}
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)

    # On-policy.
    (texts,), finishes = generate(args, [POLICY_PROMPT], args.samples, args.seed)
    valid = [c for c, _ in (canonical(parse_smiles(t)) for t in texts) if c]
    distinct = set(valid)
    novel = distinct - train
    policy = {"samples": len(texts), "finish": finishes, "valid": len(valid), "validity": len(valid) / len(texts),
              "unique": len(distinct), "uniqueness": len(distinct) / max(1, len(valid)),
              "novel": len(novel), "novelty": len(novel) / max(1, len(distinct)),
              "mean_length_chars": float(np.mean([len(s) for s in valid])) if valid else 0.0,
              "examples": valid[:10]}

    # Neighborhood, seeds from MOSES test (canonical, not in the training set).
    rng = random.Random(args.seed)
    test = moses_test(args.wheel)
    seeds = []
    for s in rng.sample(test, 4 * args.ns_seeds):
        c, m = canonical(s)
        if c and c not in train and c not in seeds:
            seeds.append(c)
        if len(seeds) == args.ns_seeds:
            break
    answers, ns_finishes = generate(args, [NS_PROMPT.format(x=s) for s in seeds], args.ns_per_seed, args.seed + 1)
    seed_fps = [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in seeds]
    sims, n_valid, n_same, n_total, n_train = [], 0, 0, 0, 0
    ns_distinct = set()
    for s, fp, outs in zip(seeds, seed_fps, answers):
        for t in outs:
            n_total += 1
            c, m = canonical(parse_smiles(t))
            if not c:
                continue
            n_valid += 1
            n_same += c == s
            n_train += c in train
            ns_distinct.add(c)
            sims.append(DataStructs.TanimotoSimilarity(fp, gen.GetFingerprint(m)))
    # Baseline 1: the on-policy samples, each paired with a random seed.
    policy_fps = [gen.GetFingerprint(Chem.MolFromSmiles(c)) for c in valid[:4000]]
    base_policy = [DataStructs.TanimotoSimilarity(seed_fps[rng.randrange(len(seeds))], fp) for fp in policy_fps]
    # Baseline 2: random pairs of training molecules.
    train_list = sorted(train)
    pairs = [(rng.choice(train_list), rng.choice(train_list)) for _ in range(4000)]
    base_train = [DataStructs.TanimotoSimilarity(gen.GetFingerprint(Chem.MolFromSmiles(a)),
                                                 gen.GetFingerprint(Chem.MolFromSmiles(b))) for a, b in pairs]
    ns = {"seeds": len(seeds), "per_seed": args.ns_per_seed, "samples": n_total, "finish": ns_finishes,
          "valid": n_valid, "validity": n_valid / max(1, n_total),
          "same_as_seed": n_same / max(1, n_valid), "in_training_set": n_train / max(1, n_valid),
          "distinct": len(ns_distinct),
          "tanimoto_to_seed_mean": float(np.mean(sims)) if sims else 0.0,
          "tanimoto_to_seed_median": float(np.median(sims)) if sims else 0.0,
          "tanimoto_to_seed_ge_0.4": float(np.mean([x >= 0.4 for x in sims])) if sims else 0.0,
          "tanimoto_to_seed_mean_excluding_identical": float(np.mean([x for x in sims if x < 1.0] or [0.0])),
          "baseline_policy_sample_vs_seed_mean": float(np.mean(base_policy)) if base_policy else 0.0,
          "baseline_random_training_pairs_mean": float(np.mean(base_train)),
          "examples": [[seeds[i], answers[i][:3]] for i in range(3)]}
    result = {"model": os.path.relpath(args.model, ROOT), "seed": args.seed, "policy": policy, "neighborhood": ns}
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
