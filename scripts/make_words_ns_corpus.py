#!/usr/bin/env python3
"""Builds a neighbourhood corpus for further training of the word-level Semantle model (data/pretrain-words-ns/).

The word-level model (data/models/semantle-words) learned its "a word close to X" answers from WordNet relations.
Those answers are real words, but barely closer to X than its own guesses under an embedding it never saw
(docs/results/demo-model-eval.md), so the search's neighbourhood prompt walks around rather than towards a
target. Semantle's closeness is distributional (which words occur in the same contexts), and WordNet's relations
are not. This corpus teaches distributional neighbours from an embedding that is not the oracle's:

  neighborhood  the prompt of tasks/semantle.c for guess X, then Y: one of X's --top nearest vocabulary words under
                WordLlama's word vectors (pip install wordllama; the 256-dimension model bundled in its wheel,
                distilled from a large language model's token embeddings) among the words that are one
                WordLlama token (nearest_neighbours says why), Y never X nor X re-ended
                (make_pretrain_corpus.shares_stem). X drawn from the guess prior (make_pretrain_corpus.guess_weights),
                each X's neighbours in a shuffled cycle; similarity R uniform in [0.050, 0.950] (no information)
  guess         the on-policy prompt and a word from the same prior, so that prompt keeps its answers
mixed by --mix (token shares). A random 2% goes to valid.jsonl.

What it does not use: the oracle's GloVe vectors (data/semantle/vectors.bin) are never read. WordLlama is the
encoder of the external sentence oracle (tasks/examples/semantle_sentence_oracle.py), so a model trained on this
corpus knows that oracle's space: do not report sentence-oracle tables with it.

The tokenizer is data/pretrain-words' (--tokenizer), so the trained model keeps its vocabulary and shape.
Determinism: one seeded random.Random, sorted sets; stats.json records the SHA-256 of the files written.

Usage (about 2 minutes):
  apt-get install wordnet-base && pip install tokenizers numpy wordllama
  python3 scripts/make_words_ns_corpus.py            # writes data/pretrain-words-ns/{corpus,valid}.jsonl, stats.json
"""
import argparse
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_pretrain_corpus as mpc  # noqa: E402

import numpy as np  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def wordllama_word_vectors(words):
    """(len(words), 256) unit rows: WordLlama's vector of each bare word, from the weights in its wheel; and which
    words are one token of its tokenizer."""
    try:
        import wordllama
    except ImportError:
        sys.exit("make_words_ns_corpus: the Python package 'wordllama' is missing (pip install wordllama)")
    model = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    v = np.asarray(model.embed(words, norm=True), dtype=np.float32)
    single = np.array([len(model.tokenizer.encode(w, add_special_tokens=False).tokens) == 1 for w in words])
    return v / np.linalg.norm(v, axis=1, keepdims=True), single


def nearest_neighbours(words, vecs, answerable, top, block=2048):
    """{word: its `top` nearest answerable words, nearest first}, leaving out the word itself and the word re-ended.
    Only words that are one WordLlama token answer: a word of several tokens gets the mean of its pieces' vectors,
    and words that share a piece come out close whatever they mean ('bank' -> 'tanks', 'shanks')."""
    out = {}
    cand = np.flatnonzero(answerable)
    for start in range(0, len(words), block):
        sims = vecs[start:start + block] @ vecs[cand].T  # (block, answerable)
        for r in range(sims.shape[0]):
            x = words[start + r]
            order = cand[np.argsort(-sims[r], kind="stable")[: top * 4 + 8]]
            ys = [words[j] for j in order if words[j] != x and not mpc.shares_stem(x, words[j])]
            out[x] = ys[:top]
    return out


def neighbourhood_docs(n_docs, xs, gweights, neighbours, rng):
    orders = {x: rng.sample(neighbours[x], len(neighbours[x])) for x in xs}
    at = {x: 0 for x in xs}
    docs = []
    for x in mpc.stratified_draws(xs, [gweights[x] for x in xs], n_docs, rng):
        y = orders[x][at[x] % len(orders[x])]
        at[x] += 1
        docs.append(("neighborhood", "", mpc.NS_PROMPT.format(x=x, r=rng.uniform(0.05, 0.95)) + "\n" + y))
    return docs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wordnet", default="/usr/share/wordnet", help="WordNet 3.0 dict folder (for the guess prior)")
    ap.add_argument("--vocab", default=os.path.join(mpc.ROOT, "data", "semantle", "vocab.txt"))
    ap.add_argument("--tokenizer", default=os.path.join(mpc.ROOT, "data", "pretrain-words"),
                    help="folder whose tokenizer.json sizes the mix (the model's own)")
    ap.add_argument("--out", default=os.path.join(mpc.ROOT, "data", "pretrain-words-ns"))
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--tokens", type=float, default=3.0e6, help="training tokens (valid comes on top)")
    ap.add_argument("--valid-fraction", type=float, default=0.02)
    ap.add_argument("--mix", type=float, nargs=2, default=[0.2, 0.8], metavar=("GUESS", "NS"))
    ap.add_argument("--top", type=int, default=30, help="Y is one of X's N nearest words under WordLlama")
    ap.add_argument("--seeds", type=int, default=0,
                    help="X only among the N most frequent guessable words (0 = all): more documents per X")
    args = ap.parse_args()

    with open(args.vocab) as f:
        vocab_list = [w.strip() for w in f if w.strip()]
    wn = mpc.WordNet(args.wordnet)
    vocab = set(vocab_list)
    # the guess prior exactly as make_pretrain_corpus.build makes it (offensive senses and function words out)
    pos_of, offensive = mpc.lemma_pos(wn, vocab)
    base_of = mpc.add_inflections(wn, vocab, pos_of, mpc.build_pairs(wn, vocab))
    offensive |= {w for w, bases in base_of.items() if not pos_of.get(w) and all(b in offensive for b in bases)}
    gweights = mpc.guess_weights(vocab_list, pos_of, base_of, offensive, 0.9, 200.0, 1.0)
    words = [w for w in vocab_list if gweights[w] > 0]
    vecs, single = wordllama_word_vectors(words)
    neighbours = nearest_neighbours(words, vecs, single, args.top)
    xs = [x for x in words if neighbours[x]][: args.seeds or None]

    tok = Tokenizer.from_file(os.path.join(args.tokenizer, "tokenizer.json"))
    rng = random.Random(args.seed)
    probe = neighbourhood_docs(500, xs, gweights, neighbours, random.Random(1)) + \
        mpc.guess_docs(500, vocab_list, gweights, random.Random(1))
    per_doc, _, _ = mpc.measure(tok, probe)
    total = args.tokens / (1.0 - args.valid_fraction)
    docs = neighbourhood_docs(round(total * args.mix[1] / per_doc["neighborhood"]), xs, gweights, neighbours, rng)
    docs += mpc.guess_docs(round(total * args.mix[0] / per_doc["guess"]), vocab_list, gweights, rng)
    rng.shuffle(docs)
    held = set(rng.sample(range(len(docs)), round(len(docs) * args.valid_fraction)))
    train = [d for i, d in enumerate(docs) if i not in held]
    valid = [d for i, d in enumerate(docs) if i in held]

    os.makedirs(args.out, exist_ok=True)
    mpc.write_jsonl(os.path.join(args.out, "corpus.jsonl"), train)
    mpc.write_jsonl(os.path.join(args.out, "valid.jsonl"), valid)
    counts = mpc.token_counts(tok, [t for _, _, t in train])
    stats = {
        "documents": {k: sum(1 for d in train if d[0] == k) for k in ("guess", "neighborhood")},
        "tokens": {k: sum(c for d, c in zip(train, counts) if d[0] == k) for k in ("guess", "neighborhood")},
        "valid_documents": len(valid),
        "neighbourhood_seeds": len(xs),
        "answerable_words": int(single.sum()),
        "top": args.top,
        "seed": args.seed,
        "examples": [t for _, _, t in train[:6]],
        "sha256": {"corpus.jsonl": mpc.sha256_file(os.path.join(args.out, "corpus.jsonl")),
                   "valid.jsonl": mpc.sha256_file(os.path.join(args.out, "valid.jsonl")),
                   "tokenizer.json": mpc.sha256_file(os.path.join(args.tokenizer, "tokenizer.json"))},
    }
    mpc.write_stats(args.out, stats)


if __name__ == "__main__":
    main()
