#!/usr/bin/env python3
"""Builds the SentencePiece-style BPE tokenizer fixtures (Llama-2 / Mistral layout) with Hugging Face `tokenizers`.

One BPE model with byte_fallback is trained on a little English text (Python's standard library sources and
/usr/share/common-licenses, no other scripts), so accented letters, CJK, emoji and control characters are not
in its vocabulary and fall back to the 256 <0xNN> byte tokens. It is written in the two layouts real files use:
  llama2-sp:  normalizer Sequence[Prepend("▁"), Replace(" " -> "▁")], pre_tokenizer null,
              decoder Sequence[Replace("▁" -> " "), ByteFallback, Fuse, Strip(" ", 1, 0)], "a b" merges
  mistral-sp: pre_tokenizer Metaspace(prepend_scheme "first", split false), decoder Metaspace, [a, b] merges
both with <unk> <s> </s> (ids 0-2, special, not normalized), <0x00>..<0xFF> at ids 3-258, unk_token <unk> with
fuse_unk, and TemplateProcessing "<s> $A". Outputs, under tests/parity/fixtures/tokenizers/:
  {llama2-sp,mistral-sp}/tokenizer.json, tokenizer_config.json (bos <s>, eos </s>)
  sp_tokenizer_cases.json: the test strings (shared by both tokenizers), per tokenizer HF's ids with
      add_special_tokens False (mistral-sp's only where they differ from llama2-sp's; with True HF adds just <s>), HF's decode of the first (skip_special_tokens False and True) where it
      differs from the input, decodes of arbitrary id sequences rich in byte tokens (invalid UTF-8 included),
      and "variants" (a tokenizer.json with a few keys edited: other prepend schemes, split, no byte fallback)
and the fuzzer's seeds tests/fuzz/corpus/tokenizer/seed_sp_* (shrunk tokenizer.json, NUL, text).
Deterministic; run it twice and the outputs are byte-identical.
Usage: /path/to/python-with-tokenizers tests/parity/make_sp_tokenizer_fixtures.py
"""
import copy
import json
import os
import random
import sys
import sysconfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tokenizer_fixtures as byte_level  # noqa: E402  (its test strings and corpus file lists)

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers  # noqa: E402

OUT = byte_level.OUT
SPECIALS = ["<unk>", "<s>", "</s>"]
BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]
VOCAB_TOTAL = 1200
SP = "\u2581"


def english_docs():
    docs = []
    stdlib = sysconfig.get_paths()["stdlib"]
    for rel in byte_level.STDLIB_FILES[:6]:
        with open(os.path.join(stdlib, rel), encoding="utf-8") as f:
            docs.append(f.read())
    for name in byte_level.LICENSES[:3]:
        path = os.path.join("/usr/share/common-licenses", name)
        if os.path.exists(path):
            with open(path, encoding="ascii", errors="ignore") as f:
                docs.append(f.read())
    return docs


def train_model():
    """vocab (token -> id in the Llama-2 order) and merges, trained SentencePiece-style (words start with ▁)."""
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SP, prepend_scheme="always", split=True)
    # limit_alphabet leaves even some ASCII punctuation out, so byte fallback shows up in plain English too
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_TOTAL - 256, special_tokens=SPECIALS, limit_alphabet=64,
                                  min_frequency=2, show_progress=False)
    tok.train_from_iterator(english_docs(), trainer)
    trained = json.loads(tok.to_str())["model"]
    vocab = {s: i for i, s in enumerate(SPECIALS + BYTE_TOKENS)}
    for token, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(token, len(vocab))
    merges = [m.split(" ", 1) if isinstance(m, str) else m for m in trained["merges"]]
    return vocab, merges


def layout(vocab, merges, legacy):
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, s in enumerate(SPECIALS)]
    j = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added}
    if legacy:
        j["normalizer"] = {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SP}, {"type": "Replace", "pattern": {"String": " "}, "content": SP}]}
        j["pre_tokenizer"] = None
    else:
        j["normalizer"] = None
        j["pre_tokenizer"] = {"type": "Metaspace", "replacement": SP, "prepend_scheme": "first", "split": False}
    j["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
    if legacy:
        j["decoder"] = {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SP}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    else:
        j["decoder"] = {"type": "Metaspace", "replacement": SP, "prepend_scheme": "first", "split": False}
    j["model"] = {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [" ".join(m) for m in merges] if legacy else merges}
    return j


SP_STRINGS = ["<s>", "</s>", "<s></s>", "<s> hello", " <s>hello", "hello<s>", "hello <s> world", "a</s>b",
              "<s><s>  x", "</s> ", " </s>", "<unk>", "x<unk>y", "<0x41>", "<0xE4><0xB8>", SP, SP + "hello",
              "hello" + SP + SP + "world", " " + SP + " ", "\u00e9t\u00e9", "na\u00efve caf\u00e9", "\u4e2d\u6587",
              "\U0001F600 ok", "a\x01b\x7fc", "\x00", "\ud7ff\ue000\uffff", "\U000E0001", "tab\there",
              "  two leading", "two trailing  ", "   ", "\n", " \n ", "line\nline\r\nline", "~^`|{}", "$HOME %d @x #!",
              "the the the the", "The Quick Brown", "0123456789", "3.14 2.71", "<s>\u00e9</s>", "</s>\u4e2d"]


def test_strings():
    """SP_STRINGS, the byte-level fixtures' strings without repeats, and random mixes of both to 2,100."""
    codes = byte_level.code_lines()
    seen, out = set(), []
    for s in SP_STRINGS + byte_level.test_strings(codes):
        if s not in seen:
            seen.add(s)
            out.append(s)
    rng = random.Random(2581)
    while len(out) < 2100:
        parts = [rng.choice(SP_STRINGS)] + [byte_level.fragment(rng, codes)[:14] for _ in range(rng.randint(1, 2))]
        rng.shuffle(parts)
        s = rng.choice(["", " ", "  "]).join(parts)
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def tokenizer_cases(tok, strings):
    fam = {"ids": [], "decoded": [], "decoded_skip": [], "decode_cases": []}
    for i, s in enumerate(strings):
        ids = tok.encode(s, add_special_tokens=False).ids
        fam["ids"].append(ids)
        with_special = tok.encode(s, add_special_tokens=True).ids
        assert with_special[1:] == ids and with_special[0] == 1, s  # the template only adds <s>: stored as a check
        text = tok.decode(ids, skip_special_tokens=False)
        if text != s:
            fam["decoded"].append([i, text])
        skip = tok.decode(with_special, skip_special_tokens=True)
        if skip != text:
            fam["decoded_skip"].append([i, skip])
    # Arbitrary sequences: mostly byte tokens (valid and broken UTF-8 runs), some words, specials, bad ids.
    rng = random.Random(11)
    size = tok.get_vocab_size(with_added_tokens=True)
    utf8 = "é中😀\u0800".encode()
    for _ in range(150):
        ids = []
        for _ in range(rng.randint(0, 10)):
            r = rng.random()
            if r < 0.35:
                ids.append(3 + rng.randrange(256))
            elif r < 0.55:
                ids.append(3 + utf8[rng.randrange(len(utf8))])
            elif r < 0.65:
                ids.append(rng.randrange(3))
            elif r < 0.7:
                ids.append(size + rng.randrange(3))
            else:
                ids.append(259 + rng.randrange(size - 259))
        fam["decode_cases"].append({"ids": ids, "text": tok.decode(ids, skip_special_tokens=False),
                                    "skip": tok.decode(ids, skip_special_tokens=True)})
    return fam


def edited(tok_json, edits):
    j = copy.deepcopy(tok_json)
    for path, value in edits:
        node = j
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return j


def variant(family, name, tok_json, edits, strings, count):
    """An edited copy of a tokenizer.json ([[key path], value] edits the C test applies the same way), with HF's
    ids and decodes for the first `count` strings."""
    tok = Tokenizer.from_str(json.dumps(edited(tok_json, edits)))
    cases = []
    for i in range(count):
        ids = tok.encode(strings[i], add_special_tokens=False).ids
        text = tok.decode(ids, skip_special_tokens=False)
        cases.append([i, ids] + ([text] if text != strings[i] else []))
    return {"family": family, "name": name, "set": edits, "cases": cases}


def shrink(tok_json, n_merges, drop_bytes=()):
    """Specials, byte tokens (less drop_bytes), the characters a-z and ▁, and the first merges they can build."""
    j = copy.deepcopy(tok_json)
    vocab = {s: i for i, s in enumerate(SPECIALS + [t for t in BYTE_TOKENS if t not in drop_bytes])}
    for c in SP + "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
    merges = [m.split(" ", 1) if isinstance(m, str) else m for m in j["model"]["merges"]]
    kept = []
    for a, b in merges:
        if a in vocab and b in vocab and len(kept) < n_merges:
            kept.append(m_form(tok_json, a, b))
            vocab.setdefault(a + b, len(vocab))
    j["model"]["vocab"] = vocab
    j["model"]["merges"] = kept
    Tokenizer.from_str(json.dumps(j))  # must load in HF too
    return json.dumps(j, ensure_ascii=False, separators=(",", ":"))


def m_form(tok_json, a, b):
    return f"{a} {b}" if isinstance(tok_json["model"]["merges"][0], str) else [a, b]


def fuzz_seeds(built):
    out = os.path.join(os.path.dirname(OUT), "..", "..", "fuzz", "corpus", "tokenizer")
    texts = ["<s> the license\u00e9 \u4e2d\U0001F600 x\x01  y</s>", "  of the\tsoftware\n<unk>work"]
    # A character whose byte tokens are missing becomes <unk>, which HF emits after the bytes of a following
    # byte-fallback character ("中é" -> <0xC3> <0xA9> <unk>, not <unk> <0xC3> <0xA9>).
    seeds = [(name, shrink(tok_json, 40), texts) for name, tok_json in built.items()]
    seeds.append(("llama2-sp-nobyte", shrink(built["llama2-sp"], 40, drop_bytes=["<0xE4>"]),
                  ["x\u4e2d\u00e9\u4e2d\u4e2dy \u4e2d \u00e9\u4e2d"]))
    expected = []
    for name, small, seed_texts in seeds:
        hf = Tokenizer.from_str(small)
        for k, text in enumerate(seed_texts):
            path = os.path.join(out, f"seed_sp_{name}_{k}")
            with open(path, "wb") as f:
                f.write(small.encode() + b"\0" + text.encode())
            expected.append({"file": f"tests/fuzz/corpus/tokenizer/seed_sp_{name}_{k}",
                             "ids": hf.encode(text, add_special_tokens=False).ids,
                             "ids_special": hf.encode(text, add_special_tokens=True).ids})
    return expected


def main():
    vocab, merges = train_model()
    built = {"llama2-sp": layout(vocab, merges, legacy=True), "mistral-sp": layout(vocab, merges, legacy=False)}
    strings = test_strings()
    assert len(strings) >= 2000
    cases = {"strings": strings, "tokenizers": {}, "variants": []}
    for name, tok_json in built.items():
        os.makedirs(os.path.join(OUT, name), exist_ok=True)
        byte_level.dump(tok_json, os.path.join(OUT, name, "tokenizer.json"))
        byte_level.dump({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True,
                         "add_eos_token": False, "legacy": name == "llama2-sp", "clean_up_tokenization_spaces": False,
                         "tokenizer_class": "LlamaTokenizerFast"},
                        os.path.join(OUT, name, "tokenizer_config.json"), compact=False)
        tok = Tokenizer.from_file(os.path.join(OUT, name, "tokenizer.json"))
        fam = tokenizer_cases(tok, strings)
        fam["vocab_size"] = tok.get_vocab_size(with_added_tokens=True)
        cases["tokenizers"][name] = fam
    # The two layouts differ only around added tokens and at the start: store mistral-sp's ids where they differ.
    first, second = (cases["tokenizers"][name] for name in built)
    second["ids_differing"] = [[i, ids] for i, (ids, other) in enumerate(zip(second.pop("ids"), first["ids"]))
                               if ids != other]
    legacy_decoder = built["llama2-sp"]["decoder"]
    metaspace = built["mistral-sp"]["pre_tokenizer"]
    cases["variants"] = [
        variant("mistral-sp", "always_split", built["mistral-sp"],
                [[["pre_tokenizer"], dict(metaspace, prepend_scheme="always", split=True)],
                 [["decoder"], dict(metaspace, prepend_scheme="always", split=True)]], strings, 200),
        variant("mistral-sp", "never", built["mistral-sp"],
                [[["pre_tokenizer"], dict(metaspace, prepend_scheme="never")],
                 [["decoder"], dict(metaspace, prepend_scheme="never")]], strings, 200),
        variant("mistral-sp", "legacy_decoder", built["mistral-sp"], [[["decoder"], legacy_decoder]], strings, 200),
        variant("llama2-sp", "no_byte_fallback", built["llama2-sp"], [[["model", "byte_fallback"], False]],
                strings, 200),
        variant("llama2-sp", "no_byte_fallback_no_fuse", built["llama2-sp"],
                [[["model", "byte_fallback"], False], [["model", "fuse_unk"], False]], strings, 200),
    ]
    cases["seeds"] = fuzz_seeds(built)
    byte_level.dump(cases, os.path.join(OUT, "sp_tokenizer_cases.json"))
    total = sum(len(ids) for ids in cases["tokenizers"]["llama2-sp"]["ids"])
    fallback = sum(1 for ids in cases["tokenizers"]["llama2-sp"]["ids"] if any(3 <= i < 259 for i in ids))
    print(f"wrote {len(strings)} strings x {len(built)} tokenizers ({total} ids in llama2-sp; {fallback} use byte "
          f"tokens) to {OUT}")


if __name__ == "__main__":
    main()
