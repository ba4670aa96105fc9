#!/usr/bin/env python3
"""Builds the pretraining corpus, tokenizer and model shape of the bundled SMILES prior (data/smiles/).

The molecule search (tasks/molecule.c) asks a policy for SMILES with two plain prompts: the on-policy prompt
"a molecule" and the neighborhood prompt "a variation of X" (X = a past candidate's SMILES). The prior must answer
both. Everything comes from the MOSES training set (Polykovskiy et al. 2020, a cleaned ZINC "clean leads" subset,
MIT licence), read straight from the `molsets` 0.3.1 wheel on PyPI, which ships it as
moses/dataset/data/train.csv.gz (1,584,663 SMILES). Nothing else of the package is used or installed.

Documents (one JSON object {"text": ...} per line; the trainer joins them with <|endoftext|>):
  policy        "a molecule\\n" + SMILES                    one document per molecule of the policy part
  neighborhood  "a variation of X\\n" + Y                    X from the neighborhood pool, Y one of X's nearest
                neighbours in the pool by ECFP4 Tanimoto (Morgan radius 2, 2048 bits, the fingerprint PMO and
                tasks/chem use), similarity >= --min-sim, best first; each X is used at most --per-seed times
All SMILES are RDKit canonical (isomeric), so the model writes what the archive's dedup key looks like. The
policy part and the neighborhood pool are disjoint random draws from MOSES train; a random --valid-fraction of
each kind goes to valid.jsonl.

Tokenizer: byte-level BPE (HF tokenizers) with a Sequence pre-tokenizer: Split on single whitespace characters
("Isolated"), then ByteLevel without its regex. A SMILES has no whitespace, so it is one pre-token and BPE can
merge across atoms, bonds, ring digits and branches (the GPT-2 regex would cut "c1ccc(Cl)cc1" at every letter/
digit/punctuation change); and X in the prompt (after " ") encodes exactly like Y in the answer (after "\\n").
model/tokenizer.c supports this form (Split Regex Isolated steps ending in ByteLevel).

The prompts are copied from tasks/molecule.c, and the script refuses to run if that file says otherwise.

Determinism: one seeded random.Random, canonical SMILES, the tokenizer trained on one thread, ties in the
neighbour search broken by index; two runs give byte-identical files (stats.json has their SHA-256).

Usage:
  pip install rdkit tokenizers numpy
  pip download molsets==0.3.1 --no-deps -d /tmp/molsets     # the wheel only; its dependencies are not needed
  python3 scripts/make_smiles_corpus.py --wheel /tmp/molsets/molsets-0.3.1-py3-none-any.whl   (a few minutes)

Outputs (data/smiles/): corpus.jsonl, valid.jsonl, tokenizer.json, tokenizer_config.json, config.json (the
untrained model shape `migrate pretrain` starts from), train_smiles.txt.gz (every canonical SMILES in the training
documents, sorted, one a line: the novelty reference of scripts/eval_smiles_prior.py), stats.json. With --tokenizer
the three tokenizer and shape files are not written: the reused folder has them.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import re
import sys
import zipfile
from collections import Counter

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # the BPE trainer's counting is parallel; keep it on one thread
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
from rdkit import Chem, RDLogger  # noqa: E402
from rdkit.Chem import rdFingerprintGenerator  # noqa: E402
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_llama import llama_config, parameter_count  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

POLICY_PROMPT = "a molecule"
NS_PROMPT = "a variation of {x}"
EOT = "<|endoftext|>"
WHEEL_SHA256 = "7f4450e3ebecebe79c3a2a55950c93daddee071120daf64a163d03481e811d34"  # molsets-0.3.1-py3-none-any.whl
MOSES_TRAIN = "moses/dataset/data/train.csv.gz"


def check_prompts(path):
    """The corpus must use the search's prompts verbatim: read them from tasks/molecule.c."""
    with open(path, encoding="utf-8") as f:
        src = f.read()
    policy = re.search(r"mol_prompt\(task \*t\)\s*\{\s*return \w+\(\"((?:[^\"\\]|\\.)*)\"\)", src)
    ns = re.search(r"mol_ns_prompt\([^)]*\)\s*\{\s*return \w+\(\"((?:[^\"\\]|\\.)*)\"", src)
    if not policy or not ns:
        sys.exit(f"{path}: cannot find the prompt format strings of mol_prompt / mol_ns_prompt")
    if policy.group(1) != POLICY_PROMPT or ns.group(1) != NS_PROMPT.replace("{x}", "%s"):
        sys.exit(f"{path}: prompts changed ({policy.group(1)!r}, {ns.group(1)!r}); update POLICY_PROMPT / "
                 "NS_PROMPT here and rebuild the corpus and the model")


def read_moses(wheel):
    if not os.path.isfile(wheel):
        sys.exit(f"{wheel}: not found (pip download molsets==0.3.1 --no-deps -d DIR)")
    with open(wheel, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"{wheel}: sha256 {digest}, expected {WHEEL_SHA256} (molsets 0.3.1)")
    with zipfile.ZipFile(wheel) as z, gzip.open(io.BytesIO(z.read(MOSES_TRAIN)), "rt") as f:
        lines = [line.strip() for line in f]
    if lines[0] != "SMILES":
        sys.exit(f"{wheel}:{MOSES_TRAIN}: expected a SMILES header, got {lines[0]!r}")
    return [s for s in lines[1:] if s]


def canonical(smiles_list):
    """(canonical SMILES, mol) for those RDKit parses, in order, without duplicates."""
    out, seen = [], set()
    for s in smiles_list:
        m = Chem.MolFromSmiles(s)
        if m is None:
            continue
        c = Chem.MolToSmiles(m)
        if c not in seen:
            seen.add(c)
            out.append((c, m))
    return out


def neighbours(mols, min_sim, keep, block=512):
    """For each molecule, up to `keep` others with ECFP4 Tanimoto >= min_sim, best first (ties: lower index).
    Intersections come from one float32 matrix product per block of rows (bits are 0/1, counts <= 2048 are exact
    in float32). Returns a list of [(j, sim)] and the similarity of 10,000 random pairs (the baseline)."""
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    bits = np.zeros((len(mols), 2048), dtype=np.float32)
    for i, m in enumerate(mols):
        bits[i, list(gen.GetFingerprint(m).GetOnBits())] = 1.0
    counts = bits.sum(axis=1)
    result = []
    for lo in range(0, len(mols), block):
        inter = bits[lo:lo + block] @ bits.T                              # [rows, n]
        sim = inter / (counts[lo:lo + block, None] + counts[None, :] - inter)
        for r in range(sim.shape[0]):
            sim[r, lo + r] = -1.0                                          # not itself
        top = np.argpartition(-sim, keep, axis=1)[:, :keep]                # [rows, keep], unordered
        for r in range(sim.shape[0]):
            best = sorted(((-float(sim[r, j]), int(j)) for j in top[r]))
            result.append([(j, -s) for s, j in best if -s >= min_sim])
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(mols), 10000), rng.integers(0, len(mols), 10000)
    inter = (bits[a] * bits[b]).sum(axis=1)
    random_sim = inter / (counts[a] + counts[b] - inter)
    return result, random_sim


def train_tokenizer(texts, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\s"), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    assert tok.get_vocab_size() == vocab_size and tok.token_to_id(EOT) == 0
    return tok


def model_config(args, vocab_size):
    return llama_config(vocab_size, args.hidden, args.mlp, args.layers, args.heads, args.kv_heads,
                        head_dim=args.hidden // args.heads)


def write_jsonl(path, texts):
    with open(path, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheel", required=True, help="molsets-0.3.1-py3-none-any.whl (pip download molsets==0.3.1)")
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "smiles"))
    ap.add_argument("--molecule-c", default=os.path.join(ROOT, "tasks", "molecule.c"))
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--policy", type=int, default=90000, help="molecules with an on-policy document")
    ap.add_argument("--pool", type=int, default=50000, help="molecules in the neighborhood pool (all pairs)")
    ap.add_argument("--per-seed", type=int, default=1, help="neighborhood documents per pool molecule at most")
    ap.add_argument("--min-sim", type=float, default=0.4, help="ECFP4 Tanimoto a variation must reach")
    ap.add_argument("--valid-fraction", type=float, default=0.01)
    ap.add_argument("--skip", type=int, default=0,
                    help="pass over the first N molecules of the seeded order (those of an earlier corpus), so a "
                         "corpus for further training holds new molecules only")
    ap.add_argument("--tokenizer", default="",
                    help="folder whose tokenizer.json to reuse instead of training one (a corpus for a model that "
                         "exists must keep its tokenizer)")
    ap.add_argument("--vocab", type=int, default=1024, help="tokenizer vocabulary")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--mlp", type=int, default=704)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    args = ap.parse_args()
    RDLogger.DisableLog("rdApp.*")
    check_prompts(args.molecule_c)

    rng = random.Random(args.seed)
    moses = read_moses(args.wheel)
    order = list(range(len(moses)))
    rng.shuffle(order)
    # Draw a little more than needed: canonicalisation drops the rare duplicate.
    drawn = canonical(moses[i] for i in order[args.skip:args.skip + int((args.policy + args.pool) * 1.01) + 100])
    policy_mols = drawn[:args.policy]
    pool = drawn[args.policy:args.policy + args.pool]
    if len(pool) < args.pool:
        sys.exit(f"{args.wheel}: only {len(drawn)} distinct molecules drawn, need {args.policy + args.pool}")

    docs = [("policy", f"{POLICY_PROMPT}\n{s}") for s, _ in policy_mols]
    near, random_sim = neighbours([m for _, m in pool], args.min_sim, args.per_seed)
    pair_sims = []
    for i, nbrs in enumerate(near):
        for j, sim in nbrs:
            docs.append(("neighborhood", f"{NS_PROMPT.format(x=pool[i][0])}\n{pool[j][0]}"))
            pair_sims.append(sim)

    rng.shuffle(docs)
    held = set(rng.sample(range(len(docs)), round(len(docs) * args.valid_fraction)))
    train = [d for i, d in enumerate(docs) if i not in held]
    valid = [d for i, d in enumerate(docs) if i in held]

    if args.tokenizer:
        tok = Tokenizer.from_file(os.path.join(args.tokenizer, "tokenizer.json"))
        if tok.get_vocab_size() != args.vocab or tok.token_to_id(EOT) != 0:
            sys.exit(f"{args.tokenizer}/tokenizer.json: {tok.get_vocab_size()} tokens, expected --vocab {args.vocab} "
                     f"with {EOT} at id 0")
    else:
        tok = train_tokenizer((t for _, t in train), args.vocab)
    # X in the prompt must encode like the same SMILES in the answer position.
    nl, sp = tok.encode("\n").ids, tok.encode(" ").ids
    for s, _ in pool[:2000]:
        bare = tok.encode(s).ids
        assert tok.encode("\n" + s).ids == nl + bare and tok.encode("of " + s).ids[-len(bare):] == bare, s
        assert tok.encode("of " + s).ids[-len(bare) - len(sp):-len(bare)] == sp, s

    train_smiles = sorted({line for _, t in train for line in
                           [t.split("\n", 1)[1]] + ([t.split("\n", 1)[0][len("a variation of "):]]
                                                    if t.startswith("a variation of ") else [])})

    os.makedirs(args.out, exist_ok=True)
    write_jsonl(os.path.join(args.out, "corpus.jsonl"), [t for _, t in train])
    write_jsonl(os.path.join(args.out, "valid.jsonl"), [t for _, t in valid])
    # gzip without a timestamp or name in the header: the same input gives the same bytes.
    with open(os.path.join(args.out, "train_smiles.txt.gz"), "wb") as raw, \
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(("\n".join(train_smiles) + "\n").encode())
    config = model_config(args, args.vocab)
    if not args.tokenizer:  # a reused tokenizer's folder already holds the tokenizer and the model shape
        tok.save(os.path.join(args.out, "tokenizer.json"))
        with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
            json.dump({"bos_token": EOT, "eos_token": EOT, "clean_up_tokenization_spaces": False,
                       "model_max_length": 256, "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=1)
            f.write("\n")
        with open(os.path.join(args.out, "config.json"), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")

    counts = [len(e.ids) + 1 for e in tok.encode_batch([t for _, t in train])]
    tokens, ndocs = Counter(), Counter()
    for (kind, _), c in zip(train, counts):
        tokens[kind] += c
        ndocs[kind] += 1
    smiles_tokens = [len(e.ids) for e in tok.encode_batch([s for s, _ in policy_mols])]
    smiles_chars = [len(s) for s, _ in policy_mols]
    with_nbr = sum(1 for n in near if n)
    stats = {
        "moses_train_molecules": len(moses), "skipped": args.skip,
        "tokenizer": "reused from " + os.path.relpath(args.tokenizer, ROOT) if args.tokenizer else "trained",
        "policy_molecules": len(policy_mols), "pool_molecules": len(pool),
        "pool_with_neighbour": with_nbr,
        "pair_similarity": {"mean": round(float(np.mean(pair_sims)), 4),
                            "median": round(float(np.median(pair_sims)), 4),
                            "min": round(float(np.min(pair_sims)), 4)},
        "random_pair_similarity_mean": round(float(np.mean(random_sim)), 4),
        "documents": dict(ndocs), "valid_documents": len(valid),
        "tokens": dict(tokens), "tokens_total": sum(tokens.values()),
        "valid_tokens": sum(len(e.ids) + 1 for e in tok.encode_batch([t for _, t in valid])),
        "max_document_tokens": max(counts),
        "smiles_tokens": {"mean": round(float(np.mean(smiles_tokens)), 3), "max": max(smiles_tokens),
                          "p99": int(np.percentile(smiles_tokens, 99))},
        "smiles_chars": {"mean": round(float(np.mean(smiles_chars)), 3), "max": max(smiles_chars)},
        "prompt_tokens": {"policy": len(tok.encode(POLICY_PROMPT).ids),
                          "neighborhood_without_x": len(tok.encode(NS_PROMPT.format(x="")).ids)},
        "train_smiles": len(train_smiles),
        "vocab_size": tok.get_vocab_size(),
        "parameters": parameter_count(config), "bf16_bytes": 2 * parameter_count(config),
        "examples": {k: [t for kk, t in train if kk == k][:5] for k in ("policy", "neighborhood")},
    }
    stats["sha256"] = {n: sha256_file(os.path.join(args.out, n)) for n in
                       ("corpus.jsonl", "valid.jsonl", "train_smiles.txt.gz")}
    stats["sha256"]["tokenizer.json"] = sha256_file(os.path.join(args.tokenizer or args.out, "tokenizer.json"))
    with open(os.path.join(args.out, "stats.json"), "w") as f:
        json.dump(stats, f, indent=1, sort_keys=True)
        f.write("\n")
    print(json.dumps({k: v for k, v in stats.items() if k != "examples"}, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
