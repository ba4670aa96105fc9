#!/usr/bin/env python3
"""Encodes text of each bundled model's own kind with Hugging Face `tokenizers`, for test_tokenizer_parity.

The bundled models (data/models/*) were trained and are searched with the C tokenizer, so the two always agree with
each other; this fixture checks that they also agree with HF, which is what a user loading the folder in
transformers gets. Per model: its held-out pretraining documents (or, for arc-tiny, its held-out DSL programs and
grids as the ARC prompt writes them), the first Semantle nouns with and without a leading space, and a few strings
outside the corpus (unicode, digits, whitespace). Writes tests/parity/fixtures/tokenizers/bundled_cases.json:
{model: {"vocab_size", "eos_id", "strings": [...], "ids": [[...]], "decoded": [[index, text], ...]}}.
Deterministic: fixed files, fixed counts. Usage: python3 tests/parity/make_bundled_tokenizer_fixtures.py
"""
import json
import os

from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "parity", "fixtures", "tokenizers", "bundled_cases.json")
DOCS = 150
WORDS = 200
EXTRA = ["", " ", "\n\n", "naïve café – déjà vu", "日本語のテキスト", "emoji 🙂 and ZWJ 👩‍💻", "1234567890 3.14159",
         "  leading and trailing  ", "tab\tseparated\tvalues", "C1=CC=CC=C1 [Na+].[Cl-]", "x1 = rot90(I)\nO = hmirror(x1)\n",
         "0 1 2\n3 4 5\n6 7 8", "'quoted' \"double\" (parens) [brackets] {braces}", "similarity 0.857 rank 999/1000"]


def lines(path, n, key):
    out = []
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        for line in f:
            if len(out) == n:
                break
            out.append(json.loads(line)[key])
    return out


def words(n):
    with open(os.path.join(ROOT, "data", "semantle", "nouns.txt"), encoding="utf-8") as f:
        ws = [w.strip() for _, w in zip(range(n), f)]
    return ws + [" " + w for w in ws]


def grids():
    # ARC grids as rows of digits, the shape of the ARC prompt's grids
    return ["\n".join(" ".join(str((r * 7 + c * 3 + k) % 10) for c in range(3 + k % 5)) for r in range(2 + k % 4))
            for k in range(40)]


SOURCES = {
    "semantle-tiny": lambda: lines("data/pretrain/valid.jsonl", DOCS, "text") + words(WORDS),
    "semantle-words": lambda: lines("data/pretrain-words/valid.jsonl", DOCS, "text") + words(WORDS),
    "smiles-tiny": lambda: lines("data/smiles/valid.jsonl", DOCS, "text"),
    "arc-tiny": lambda: lines("data/arc-tiny/valid_programs.jsonl", DOCS, "program") + grids(),
}


def main():
    cases = {}
    for name, source in SOURCES.items():
        tok = Tokenizer.from_file(os.path.join(ROOT, "data", "models", name, "tokenizer.json"))
        strings = source() + EXTRA
        ids = [tok.encode(s, add_special_tokens=False).ids for s in strings]
        decoded = [[i, tok.decode(x, skip_special_tokens=False)] for i, x in enumerate(ids)]
        eos = json.load(open(os.path.join(ROOT, "data", "models", name, "config.json")))["eos_token_id"]
        cases[name] = {"vocab_size": tok.get_vocab_size(with_added_tokens=True), "eos_id": eos, "strings": strings,
                       "ids": ids, "decoded": [d for d in decoded if d[1] != strings[d[0]]]}
        print(f"{name}: {len(strings)} strings, {sum(map(len, ids))} tokens, {len(cases[name]['decoded'])} decode "
              f"differently")
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
