#!/usr/bin/env python3
"""Makes data/semantle/nouns.txt: the bundled vocabulary's words (data/semantle/vocab.txt, most frequent first)
that are mainly nouns: noun lemmas of WordNet 3.0 as written (base forms: "hour", not "hours") whose noun senses
were tagged in WordNet's sense-tagged corpus at least once and at least as often as the word's verb, adjective or
adverb senses ("year" stays; "he" (helium), "over", "can" go). One per line, in the vocabulary's order. It is the population `migrate ablate --draw-from data/semantle/nouns.txt` draws Semantle targets from
(docs/results/ablation.md): Semantle's hidden words are common nouns far more often than verbs or inflected forms.
WordNet is only consulted; the file holds words of the vocabulary, no WordNet text.

Usage (Debian: apt-get install wordnet-base):
  python3 scripts/make_semantle_targets.py [--wordnet /usr/share/wordnet]
Python's standard library only; the output is the same on every run.
"""
import argparse
import os


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wordnet", default="/usr/share/wordnet", help="WordNet 3.0 dict folder")
    ap.add_argument("--vocab", default="data/semantle/vocab.txt")
    ap.add_argument("--out", default="data/semantle/nouns.txt")
    args = ap.parse_args()
    tagged = {}  # part of speech -> {lemma: tagsense_cnt}
    for pos in ("noun", "verb", "adj", "adv"):
        counts = {}
        with open(os.path.join(args.wordnet, "index." + pos), encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):  # licence header
                    continue
                # lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
                fields = line.split()
                p_cnt = int(fields[3])
                counts[fields[0]] = int(fields[5 + p_cnt])
        tagged[pos] = counts
    nouns = {w for w, n in tagged["noun"].items()
             if w.isalpha() and w == w.lower() and n > 0 and
             n >= max(tagged[p].get(w, 0) for p in ("verb", "adj", "adv"))}
    vocab = [w.strip() for w in open(args.vocab, encoding="utf-8") if w.strip()]
    kept = [w for w in vocab if w in nouns]
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(kept) + "\n")
    print(f"make_semantle_targets: {len(kept)} of {len(vocab)} vocabulary words are WordNet nouns -> {args.out}")


if __name__ == "__main__":
    main()
