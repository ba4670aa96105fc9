#!/usr/bin/env python3
"""Measures how well the bundled Semantle demo model answers the demo's two prompts (docs/demo-model.md).

Samples with the C engine (`migrate generate`, the same prompts and the same plain prompt format as `migrate run`),
reads each completion's word the way tasks/semantle.c does (skip to the first ASCII letter, take [A-Za-z'-]*, drop
trailing quotes and hyphens, lower-case) and reports:

  guess        share of guess-prompt samples whose word is in the Semantle vocabulary (data/semantle/vocab.txt)
  neighborhood for SEEDS seed words (common WordNet nouns, chosen by a fixed rule below, never by looking at
               answers), share of neighborhood answers in the vocabulary, share equal to the seed, and for answers
               that are other vocabulary words: the mean GloVe cosine (data/semantle/vectors.bin, the oracle's own
               vectors) to the seed and the share within the seed's 1,000 nearest words (Semantle's "rank").
               Also the share of answers that are the seed re-ended (`ocean` -> `oceans`: a common prefix of at
               least 3 letters leaving at most 2 letters of the shorter word) and the share that are other words.
  --embedding wordllama   the same closeness figures under a second embedding that neither the model nor the
               oracle used: WordLlama sentence vectors of "What is a {word}?" (pip install wordllama).
  baselines    the same cosine / top-1000 share for (1) uniformly random vocabulary words and (2) the model's own
               guess-prompt words, each paired with the same seeds - so "closer than chance" and "closer than the
               model's unconditional guesses" can both be read off.

Deterministic for a given model, seed and thread count. numpy only; WordNet's index.noun picks the seeds.

  python3 scripts/eval_demo_model.py --migrate build/h1/migrate --model data/models/semantle-tiny --out FILE.json
"""
import argparse
import importlib.util
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUESS_PROMPT = "We are playing Semantle: guess a secret English word. Reply with a single English word."
NS_PROMPT = ("We are playing Semantle: guess a secret English word. The guess '{x}' has similarity {r:.3f} to the "
             "secret word. Reply with one English word that is close in meaning to '{x}'.")

# The completion parser (tasks/semantle.c's sem_parse) and the WordLlama encoder live in the sentence oracle.
_spec = importlib.util.spec_from_file_location(
    "semantle_sentence_oracle", os.path.join(ROOT, "tasks", "examples", "semantle_sentence_oracle.py"))
SENTENCE_ORACLE = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(SENTENCE_ORACLE)
parse_word = SENTENCE_ORACLE.parse_word


def load_vectors(path):
    """word2vec binary: 'N D\\n', then per word 'word ' + D float32 LE (+ optional '\\n'). Rows unit length."""
    with open(path, "rb") as f:
        data = f.read()
    nl = data.index(b"\n")
    n, d = (int(x) for x in data[:nl].split())
    pos, words, rows = nl + 1, [], np.empty((n, d), dtype=np.float32)
    for i in range(n):
        while data[pos:pos + 1] in (b"\n", b" "):
            pos += 1
        sp = data.index(b" ", pos)
        words.append(data[pos:sp].decode())
        pos = sp + 1
        rows[i] = struct.unpack_from(f"<{d}f", data, pos)
        pos += 4 * d
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return words, rows


def pick_seeds(vocab, wordnet, count, pool):
    """Evenly spaced over the `pool` most frequent vocabulary words that are common nouns: WordNet noun lemmas
    with at least one sense tagged in SemCor (index.noun's tagsense_cnt > 0). That drops words WordNet lists as
    nouns only in rare senses ("are" the unit of area, "parks" the surname) without a hand-made list."""
    nouns = set()
    with open(os.path.join(wordnet, "index.noun")) as f:
        for line in f:
            if line.startswith(" "):
                continue  # the licence header
            fields = line.split()
            n_ptr = int(fields[3])
            tagsense_cnt = int(fields[5 + n_ptr])  # lemma pos synset_cnt p_cnt [ptr]*p_cnt sense_cnt tagsense_cnt
            if tagsense_cnt > 0:
                nouns.add(fields[0])
    cands = [w for w in vocab if w in nouns and len(w) > 2][:pool]
    step = len(cands) / count
    return [cands[int(i * step)] for i in range(count)]


def re_ended(x, y):
    """y is x with another ending: a common prefix of >= 3 letters leaving <= 2 letters of the shorter word
    (scripts/make_pretrain_corpus.py shares_stem, letters only)."""
    common = len(os.path.commonprefix([x, y]))
    return common >= 3 and common >= min(len(x), len(y)) - 2


def wordllama_vectors(words):
    """Unit WordLlama vectors of "What is a {word}?", from the sentence oracle's own encoder."""
    return SENTENCE_ORACLE.load_encoder()([f"What is a {w}?" for w in words]).astype(np.float32)


def nearest_sets(vecs, seed_ids, k=1000):
    sims = vecs[seed_ids] @ vecs.T
    for r, i in enumerate(seed_ids):
        sims[r, i] = -2.0
    return {i: set(np.argpartition(-sims[r], k)[:k].tolist()) for r, i in enumerate(seed_ids)}


def generate(migrate, model, prompts, n, temperature, seed, threads, max_new, min_p):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(prompts) + "\n")
        path = f.name
    try:
        cmd = [migrate, "generate", "--model", model, "--prompt-file", path, "-n", str(n), "--temperature",
               str(temperature), "--min-p", str(min_p), "--max-new-tokens", str(max_new), "--seed", str(seed), "--threads", str(threads),
               "--json"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if len(rows) != len(prompts) * n:
        sys.exit(f"migrate generate returned {len(rows)} completions, expected {len(prompts) * n}")
    return rows


def closeness(seed_idx, ans_idx, vecs, top1000):
    """Mean cosine of answer to seed and share of answers among the seed's 1,000 nearest words."""
    if not seed_idx:
        return None, None
    s, a = np.array(seed_idx), np.array(ans_idx)
    cos = np.einsum("ij,ij->i", vecs[s], vecs[a])
    near = [a_i in top1000[s_i] for s_i, a_i in zip(seed_idx, ans_idx)]
    return float(cos.mean()), float(np.mean(near))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--migrate", default=os.path.join(ROOT, "build", "migrate"))
    ap.add_argument("--model", default=os.path.join(ROOT, "data", "models", "semantle-tiny"))
    ap.add_argument("--vectors", default=os.path.join(ROOT, "data", "semantle", "vectors.bin"))
    ap.add_argument("--wordnet", default="/usr/share/wordnet")
    ap.add_argument("--guess-samples", type=int, default=400)
    ap.add_argument("--seeds", type=int, default=100, help="seed words for the neighborhood prompt")
    ap.add_argument("--seed-pool", type=int, default=3000, help="seeds are spread over this many common nouns")
    ap.add_argument("--per-seed", type=int, default=4, help="neighborhood samples per seed word")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--min-p", type=float, default=0.0, help="as sampling.min_p of a run config; 0 = off")
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--sample-seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--embedding", choices=("none", "wordllama"), default="none",
                    help="also measure closeness under this embedding (not the oracle's)")
    ap.add_argument("--out", default="", help="write the figures (and the answers) as JSON here")
    args = ap.parse_args()

    words, vecs = load_vectors(args.vectors)
    index = {w: i for i, w in enumerate(words)}
    rng = random.Random(args.sample_seed)
    seeds = pick_seeds(words, args.wordnet, args.seeds, args.seed_pool)
    seed_ids = [index[s] for s in seeds]
    # The seeds' 1,000 nearest words (excluding themselves), as Semantle ranks them.
    top1000 = nearest_sets(vecs, seed_ids)

    # (a) the guess prompt
    g_rows = generate(args.migrate, args.model, [GUESS_PROMPT], args.guess_samples, args.temperature,
                      args.sample_seed, args.threads, args.max_new_tokens, args.min_p)
    g_words = [parse_word(r["text"]) for r in g_rows]
    g_valid = [w for w in g_words if w in index]

    # (b) the neighborhood prompt: per_seed samples per seed, the similarity shown drawn uniformly like the corpus
    prompts = [NS_PROMPT.format(x=s, r=rng.uniform(0.05, 0.95)) for s in seeds]
    n_rows = generate(args.migrate, args.model, prompts, args.per_seed, args.temperature, args.sample_seed,
                      args.threads, args.max_new_tokens, args.min_p)
    # generate writes prompt by prompt, sample by sample; the "prompt" field says which one
    pairs, n_vocab, n_same, n_re_ended = [], 0, 0, 0
    answers = {s: [] for s in seeds}
    for r in n_rows:
        s = seeds[r["prompt"]]
        w = parse_word(r["text"])
        answers[s].append(w)
        if w in index:
            n_vocab += 1
            if w == s:
                n_same += 1
            else:
                n_re_ended += re_ended(s, w)
                pairs.append((index[s], index[w]))
    ns_cos, ns_near = closeness([p[0] for p in pairs], [p[1] for p in pairs], vecs, top1000)

    # baselines, over the same seeds: random vocabulary words, and the model's own guess words
    rnd_s = [seed_ids[i % len(seed_ids)] for i in range(4000)]
    rnd_a = [rng.randrange(len(words)) for _ in rnd_s]
    rnd_cos, rnd_near = closeness(rnd_s, rnd_a, vecs, top1000)
    gw_s, gw_a = [], []
    for i in seed_ids:
        for w in g_valid:
            if index[w] != i:
                gw_s.append(i)
                gw_a.append(index[w])
    gw_cos, gw_near = closeness(gw_s, gw_a, vecs, top1000)

    total_ns = len(n_rows)
    res = {
        "model": args.model, "temperature": args.temperature, "min_p": args.min_p, "sample_seed": args.sample_seed,
        "guess": {"samples": len(g_rows), "vocab_words": len(g_valid), "vocab_share": len(g_valid) / len(g_rows),
                  "distinct_vocab_words": len(set(g_valid))},
        "neighborhood": {"seeds": len(seeds), "samples": total_ns, "vocab_share": n_vocab / total_ns,
                         "same_as_seed_share": n_same / total_ns, "other_vocab_answers": len(pairs),
                         "re_ended_share": n_re_ended / total_ns,
                         "different_word_share": (len(pairs) - n_re_ended) / total_ns,
                         "mean_cosine_to_seed": ns_cos, "share_in_seed_top1000": ns_near},
        "baseline_random_vocab": {"mean_cosine_to_seed": rnd_cos, "share_in_seed_top1000": rnd_near},
        "baseline_guess_words": {"mean_cosine_to_seed": gw_cos, "share_in_seed_top1000": gw_near},
    }
    if args.embedding == "wordllama":
        wv = wordllama_vectors(words)
        near = nearest_sets(wv, seed_ids)
        res["wordllama"] = {name: dict(zip(("mean_cosine_to_seed", "share_in_seed_top1000"),
                                           closeness(a, b, wv, near)))
                            for name, (a, b) in (("neighborhood", ([p[0] for p in pairs], [p[1] for p in pairs])),
                                                 ("neighborhood_other_words",
                                                  tuple(zip(*[p for p in pairs
                                                              if not re_ended(words[p[0]], words[p[1]])])) or ([], [])),
                                                 ("random_vocab", (rnd_s, rnd_a)), ("guess_words", (gw_s, gw_a)))}
    print(json.dumps(res, indent=1))
    examples = {s: answers[s] for s in seeds[:: max(1, len(seeds) // 12)]}
    print("examples (seed: answers):")
    for s, a in examples.items():
        print(f"  {s}: {', '.join(str(w) for w in a)}")
    if args.out:
        res["seed_words"] = seeds
        res["neighborhood_answers"] = answers
        res["guess_words"] = g_words
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
