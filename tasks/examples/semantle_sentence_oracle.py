#!/usr/bin/env python3
"""Semantle scored the way the MiGrATe paper scores it: by the cosine between sentence embeddings of
"What is a {guess}?" and "What is a {target}?", not by static word vectors (the built-in `semantle` task).

The paper used a SimCSE encoder from the Hugging Face hub. This oracle uses WordLlama (`pip install wordllama`,
MIT licence), a small static sentence encoder trained contrastively whose weights ship inside the PyPI wheel, so
it runs with no network and no GPU: it embeds the 25,000 sentences of the vocabulary in about 1.5 s on one core.
Any other encoder can replace `load_encoder` (a function from sentences to unit-length vectors).

A guess is read as the built-in task reads it (the first word of the completion, lower-cased) and must be one
of the vocabulary's words (--vocab, default data/semantle/vocab.txt), as in the built-in task, so both tasks
accept the same candidates. The target itself scores 1.0 (the search stops there with `solved_reward: 1.0`);
every other word its cosine, with `info` "rank N/1000" for the target's 1,000 nearest vocabulary words under this
encoder, "cold" otherwise, like the built-in task.

Protocol: docs/oracle.md. Config: jobs/semantle-sentence-oracle.yaml.
Try it:  echo '{"id": 1, "candidate": "sea"}' | python3 tasks/examples/semantle_sentence_oracle.py --target ocean
"""
import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NEAREST = 1000
WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]*")


def load_encoder():
    """A function from a list of sentences to an (n, d) float32 array of unit rows."""
    try:
        import wordllama
        from pathlib import Path
    except ImportError:
        sys.exit("semantle_sentence_oracle: the Python package 'wordllama' is missing (pip install wordllama)")
    # The wheel holds its weights and tokenizer; pointing the cache at the package finds them without the network.
    model = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    return lambda sentences: model.embed(sentences, norm=True)


def parse_word(candidate):
    """The built-in task's parser (tasks/semantle.c sem_parse): skip to the first letter, take [A-Za-z][A-Za-z'-]*,
    drop trailing quotes and hyphens, lower-case. None when there is no letter."""
    m = WORD_RE.search(candidate)
    return m.group(0).rstrip("'-").lower() if m else None


class Oracle:
    def __init__(self, target, vocab_path, template, embed):
        import numpy as np
        with open(vocab_path, encoding="utf-8") as f:
            self.vocab = [w.strip() for w in f if w.strip()]
        self.index = {w: i for i, w in enumerate(self.vocab)}
        if target not in self.index:
            sys.exit(f"semantle_sentence_oracle: --target '{target}' is not a word of {vocab_path}")
        self.target = target
        vectors = embed([template.format(word=w) for w in self.vocab])  # (V, d), unit rows
        self.cosine = vectors @ vectors[self.index[target]]             # (V,)
        order = np.argsort(-self.cosine, kind="stable")
        order = [i for i in order if i != self.index[target]][:NEAREST]
        # The nearest word gets rank 1000, the 1000th nearest rank 1, as in the built-in task.
        self.rank = {int(i): NEAREST - k for k, i in enumerate(order)}

    def score(self, candidate):
        word = parse_word(candidate)
        if word is None:
            return 0.0, False, "no word"
        i = self.index.get(word)
        if i is None:
            return 0.0, False, f"unknown word '{word[:40]}'"
        if word == self.target:
            return 1.0, True, "found"
        r = self.rank.get(i)
        return float(self.cosine[i]), True, f"rank {r}/{NEAREST}" if r else "cold"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", required=True, help="the secret word (a word of --vocab)")
    ap.add_argument("--vocab", default=os.path.join(HERE, "..", "..", "data", "semantle", "vocab.txt"))
    ap.add_argument("--template", default="What is a {word}?", help="the sentence each word is embedded in")
    args = ap.parse_args()
    oracle = Oracle(args.target.lower(), args.vocab, args.template, load_encoder())
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            reward, valid, info = oracle.score(request["candidate"])
        except Exception as exc:  # one bad candidate must not take the worker down
            reward, valid, info = 0.0, False, f"{type(exc).__name__}: {exc}"
        print(json.dumps({"id": request["id"], "reward": reward, "valid": valid, "info": info}), flush=True)


if __name__ == "__main__":
    main()
