#!/usr/bin/env python3
"""Builds the byte-level BPE tokenizer fixtures that the C tests compare against, with Hugging Face `tokenizers`.

Trains three small tokenizers (total vocabulary <= 2048) shaped like the real families on a corpus built from
text every machine has offline (Python's standard library, /usr/share/common-licenses, multilingual lines below):
  llama3: Llama-3's split regex + ByteLevel(use_regex=False), ignore_merges, "a b" merges, BOS template
  qwen2:  NFC + Qwen2's split regex (single digits), [a, b] merges, <|endoftext|> <|im_start|> <|im_end|>
  gpt2:   ByteLevel(use_regex=True, add_prefix_space=False), <|endoftext|> and added tokens with
          lstrip / rstrip / single_word / spaces, to exercise HF's added-token splitting
and writes, under tests/parity/fixtures/tokenizers/:
  {llama3,qwen2,gpt2}/tokenizer.json, tokenizer_config.json (with the chat template chat_render follows)
  tokenizer_cases.json: >= 2000 test strings, per family their ids (add_special_tokens False, and True for a
      subset), HF's decode (with and without skip_special_tokens) where it differs from the input, decodes of
      arbitrary id sequences, and "variants" (small edits of a tokenizer.json, re-encoded by HF)
  chat_cases.json: conversations rendered by transformers' apply_chat_template, with their ids.
and the fuzzer's seeds tests/fuzz/corpus/tokenizer/seed_* (shrunk tokenizer.json, NUL, text[, NUL, config]).
Deterministic: fixed seeds, fixed file lists; run it twice and the outputs are byte-identical.
Usage: python3 tests/parity/make_tokenizer_fixtures.py
"""
import copy
import json
import os
import random
import sysconfig
import unicodedata

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "tokenizers")
VOCAB_TOTAL = 2048

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")

LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                   "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
                   "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>"]
QWEN2_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QWEN2_PLAIN_ADDED = ["<tool_call>", "</tool_call>"]  # Qwen2.5 has these as non-special added tokens
GPT2_SPECIALS = ["<|endoftext|>"]

# The exact templates chat_render (model/chat.c) implements.
CHAT_TEMPLATES = {
    "llama3": ("{{ '<|begin_of_text|>' }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
               "'<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}{% endfor %}"
               "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"),
    "chatml": ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
               "'<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
               "{% endif %}"),
    "plain": "{% for message in messages %}{% if not loop.first %}{{ '\n\n' }}{% endif %}{{ message['content'] }}"
             "{% endfor %}",
}

STDLIB_FILES = ["json/__init__.py", "json/decoder.py", "textwrap.py", "string.py", "heapq.py", "argparse.py",
                "collections/__init__.py", "functools.py", "pathlib.py", "unittest/case.py", "csv.py", "shlex.py",
                "difflib.py", "calendar.py", "fractions.py", "statistics.py", "pprint.py", "dataclasses.py"]
LICENSES = ["Apache-2.0", "GPL-3", "MPL-2.0", "BSD", "Artistic", "LGPL-2.1"]

MULTILINGUAL = """\
Le café est délicieux, mais l'addition était salée. Où est la bibliothèque ? Ça dépend.
Die Straße ist nass; größer, schöner, Übermaß. Können Sie mir helfen? Äpfel und Öl.
El niño comió piñata en la mañana. ¿Dónde está el baño? ¡Qué año!
O coração do São Paulo está em ação. Não sei, irmã.
Dvořák, Łódź, Kraków, Çağlar, Ångström, Þór, Øresund, Zürich, naïve, résumé, façade.
Καλημέρα κόσμε! Η γλώσσα είναι ελληνική. Αθήνα, Θεσσαλονίκη, φιλοσοφία.
Привет, мир! Съешь же ещё этих мягких французских булок, да выпей чаю. Москва и Киев.
Добрий день! Як справи? Україна, Білорусь, Ґанок.
مرحبا بالعالم. اللغة العربية جميلة جدا. كيف حالك اليوم؟
שלום עולם. עברית היא שפה שמית.
नमस्ते दुनिया। हिन्दी भाषा बहुत सुन्दर है। क्या हाल है?
স্বাগতম। বাংলা ভাষা। தமிழ் மொழி. తెలుగు భాష.
สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ
你好，世界！今天天气很好。我们一起学习中文吧。机器学习与自然语言处理。
日本語のテキストです。東京は大きな都市です。カタカナとひらがなと漢字。
안녕하세요, 세계! 한국어 텍스트입니다. 서울은 아름답습니다.
Xin chào thế giới! Tiếng Việt có nhiều dấu thanh.
Merhaba dünya! Türkçe öğreniyorum. İstanbul, Iğdır.
Emoji: 😀 😂 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷 🇯🇵 1️⃣ ❤️ 🧑🏿‍💻 🤷‍♀️ 🎉🎉🎉
Numbers: 0 1 12 123 1234 12345 3.14159 -42 1,000,000 2024-06-30 0x1F 1e-9 ٣٤٥ २०२४ 一二三
"""


def corpus():
    docs = []
    stdlib = sysconfig.get_paths()["stdlib"]
    for rel in STDLIB_FILES:
        path = os.path.join(stdlib, rel)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                docs.append(f.read())
    for name in LICENSES:
        path = os.path.join("/usr/share/common-licenses", name)
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                docs.append(f.read())
    lines = MULTILINGUAL.splitlines()
    docs += [line for _ in range(30) for line in lines]  # weight the non-English text up
    return docs


def code_lines():
    """Lines of Python source for test strings (from files not in the training corpus as well)."""
    stdlib = sysconfig.get_paths()["stdlib"]
    out = []
    for rel in ["textwrap.py", "heapq.py", "bisect.py", "colorsys.py", "keyword.py", "this.py"]:
        path = os.path.join(stdlib, rel)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                out += [line for line in f.read().splitlines() if line.strip()]
    return out


# ---- training ----

def train(pre_tokenizer, normalizer, n_added, docs, ignore_merges=False):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_TOTAL - n_added, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False, min_frequency=2)
    tok.train_from_iterator(docs, trainer)
    return tok


def build_llama3(docs):
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok = train(pre, None, len(LLAMA3_SPECIALS), docs, ignore_merges=True)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in LLAMA3_SPECIALS])
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    j = json.loads(tok.to_str())
    j["model"]["merges"] = [" ".join(pair) for pair in j["model"]["merges"]]  # the "a b" form real Llama-3 uses
    assert j["model"]["ignore_merges"] is True
    config = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "chat_template": CHAT_TEMPLATES["llama3"],
              "clean_up_tokenization_spaces": False, "model_max_length": 131072,
              "tokenizer_class": "PreTrainedTokenizerFast", "model_input_names": ["input_ids", "attention_mask"]}
    return j, config


def build_qwen2(docs):
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok = train(pre, normalizers.NFC(), len(QWEN2_SPECIALS) + len(QWEN2_PLAIN_ADDED), docs)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in QWEN2_SPECIALS])
    tok.add_tokens([AddedToken(s, special=False, normalized=False) for s in QWEN2_PLAIN_ADDED])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    j = json.loads(tok.to_str())
    config = {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "errors": "replace",
              "chat_template": CHAT_TEMPLATES["chatml"], "clean_up_tokenization_spaces": False,
              "model_max_length": 32768, "split_special_tokens": False, "tokenizer_class": "PreTrainedTokenizerFast"}
    return j, config


GPT2_ADDED = [  # (content, special, lstrip, rstrip, single_word, normalized)
    ("<|endoftext|>", True, False, False, False, False),
    ("<mask>", True, True, False, False, False),        # RoBERTa-style: swallows the spaces before it
    ("[RSTRIP]", False, False, True, False, False),     # swallows the spaces after it
    ("wordtok", False, False, False, True, False),      # only when not inside a word
    ("hello world", False, False, False, False, True),  # contains a space: decodes as plain UTF-8
    ("ü", False, False, False, False, True),            # already a byte-level vocab entry
]


def build_gpt2(docs):
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok = train(pre, None, len(GPT2_ADDED), docs)
    for content, special, lstrip, rstrip, single_word, normalized in GPT2_ADDED:
        at = AddedToken(content, special=special, lstrip=lstrip, rstrip=rstrip, single_word=single_word,
                        normalized=normalized)
        (tok.add_special_tokens if special else tok.add_tokens)([at])
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    j = json.loads(tok.to_str())
    config = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
              "chat_template": CHAT_TEMPLATES["plain"], "clean_up_tokenization_spaces": False,
              "model_max_length": 1024, "tokenizer_class": "PreTrainedTokenizerFast"}
    return j, config


# ---- test strings ----

ACCENTED = ["café", "naïve", "résumé", "Ångström", "São Paulo", "Zürich", "Kraków", "Çağlar", "Dvořák", "piñata",
            "façade", "Łódź", "Øresund", "Þór", "straße", "ﬁnance", "Ǆemal", "ŉ", "Ω", "Å", "ḱṷṓn", "Việt Nam",
            "한국어", "각", "ガ", "パン", "e\u0301", "a\u0308\u0301", "q\u0307\u0323", "\u1e9b\u0323"]
SCRIPTS = ["Καλημέρα κόσμε", "ελληνικά", "Ἀθῆναι", "ΑΒΓΔ αβγδ ς", "Привет, мир!", "ЁЖИК ёжик", "Україна",
           "مرحبا بالعالم", "اللُّغَة الْعَرَبِيَّة", "שָׁלוֹם עוֹלָם", "नमस्ते दुनिया", "हिन्दी भाषा", "क्षत्रिय",
           "স্বাগতম", "தமிழ்", "สวัสดีชาวโลก", "ሰላም", "Բարեւ", "გამარჯობა", "ᚠᚢᚦ", "ꦲꦤꦕꦫꦏ"]
CJK = ["你好，世界！", "日本語のテキストです。", "漢字とカタカナ", "한국어 텍스트", "中文标点：“引号”、《书名》",
       "機械学習", "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ１２３", "〜～", "𠀀𠀁𪚥", "ｶﾀｶﾅ"]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷🇯🇵", "🇺🇸", "1️⃣", "❤️", "🧑🏿‍💻", "🤷‍♀️", "🎉🎉🎉", "©®™",
         "👩‍❤️‍💋‍👨", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "☺︎", "🫠"]
WHITESPACE = [" ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", "   \n", "\u00a0", "\u3000", "\u2028", "\u2029", "\x85",
              "\x0b", "\x0c", "\t\t ", " \n \n", "\u2003", "\u200b", "\r", "\r\r\n", " \t\n", "\u202f", "\u1680",
              "\ufeff", "\x1c", "\u180e"]
CONTRACTIONS = ["I'm", "you're", "he'S", "WE'LL", "they'Ve", "it'd", "don't", "DON'T", "'s", "'LL", "o'clock",
                "rock 'n' roll", "it’s", "'ſ", "x'Re", "'T", "'d'd'd", "''s", "Bob's 'll"]
CODE = ["def f(x):\n    return x**2", "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}",
        "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}", "#include <stdio.h>", "x = y if z else w  # comment",
        "SELECT * FROM t WHERE id = 42;", "    \n        indented()\n", "a->b->c", "i += 1;;", "$ ls -la | grep .py",
        "<div class=\"x\">&amp;</div>", "λx. x + 1", "```python\nprint('hi')\n```", "if (a && !b || c) {}",
        "0xDEADBEEF", "__init__", "std::vector<int> v{1,2,3};", "x=1;y=2", "\\n\\t\\\\"]
OTHER_SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|begin_of_text|>", "<|eot_id|>",
                  "<|start_header_id|>", "<|end_header_id|>", "<|end_of_text|>", "<|reserved_special_token_1|>",
                  "<tool_call>", "</tool_call>", "<mask>", "[RSTRIP]", "wordtok", "hello world", "ü",
                  "<|im_start", "im_end|>", "<|eot_id", "<|", "|>", "<tool_call", "<mask", "wordto", "hello  world"]
WORDS = ("the of and to in is that for it as with was on be by this are or an at from which but not have all "
         "function return value string number list object class error file data model token merge regex "
         "Hello World Python Tokenizer BPE GPT LLaMA Qwen").split()


def random_unicode(rng, n):
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
              (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x2000, 0x206F), (0x20A0, 0x20C0),
              (0x2190, 0x22FF), (0x3000, 0x30FF), (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0xFE00, 0xFE0F),
              (0xFF00, 0xFFEF), (0x1F300, 0x1F64F), (0x1F900, 0x1F9FF), (0x1D400, 0x1D4FF), (0x0, 0x1F)]
    out = []
    for _ in range(n):
        lo, hi = rng.choice(ranges)
        cp = rng.randint(lo, hi)
        if unicodedata.category(chr(cp)) == "Cn":  # unassigned: Unicode versions of onig and PCRE2 may disagree
            cp = 0x61
        out.append(chr(cp))
    return "".join(out)


def digits(rng):
    n = rng.choice([1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 33])
    s = "".join(rng.choice("0123456789") for _ in range(n))
    return rng.choice(["{}", "{} ", " {}", "-{}", "{}.5", "x{}", "{}px", "${}", "{},{}", "({})"]).format(s, s)


def fragment(rng, codes):
    kind = rng.randrange(12)
    if kind == 0:
        s = rng.choice(ACCENTED)
        return unicodedata.normalize("NFD", s) if rng.random() < 0.5 else s
    if kind == 1:
        s = rng.choice(SCRIPTS)
        return unicodedata.normalize("NFD", s) if rng.random() < 0.3 else s
    if kind == 2:
        return rng.choice(CJK)
    if kind == 3:
        return rng.choice(EMOJI)
    if kind == 4:
        return rng.choice(WHITESPACE) * rng.choice([1, 1, 2, 3, 7])
    if kind == 5:
        return digits(rng)
    if kind == 6:
        return rng.choice(CONTRACTIONS)
    if kind == 7:
        return rng.choice(CODE) if rng.random() < 0.4 else rng.choice(codes)
    if kind == 8:
        return rng.choice(OTHER_SPECIALS)
    if kind == 9:
        return random_unicode(rng, rng.randint(1, 8))
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))


def test_strings(codes):
    rng = random.Random(20240630)
    fixed = ["", " ", "  ", "\n", "\t", "a", "A", "\x00", "hello", " hello", "hello ", "hello  world", "Hello World!",
             "    leading", "trailing    ", "x\n\n\ny", "a\r\nb\r\n", "1", "12", "123", "1234", "12345", "123456",
             "1234567890123", "3.14159", "-0.5e10", "I'm", "I'M", "you'LL", "he'S", "'s'S", "DON'T", "it's",
             "café", "cafe\u0301", "Ame\u0301lie", "\u1100\u1161\u11a8", "Ω", "Å", "é" * 10, "😀" * 5,
             "👨‍👩‍👧‍👦", "🇫🇷", "🏳️‍🌈", "\u00a0\u00a0x", "\u3000\u3000x", "x\u3000", "\x85", "a\x85\x85b",
             "\u2028", "a\u180e\u180eb", "x \u180e y", "\u180e", "  \u180eabc", "if    \u180ex:", "    ", "\t\t\t", "\n\n\n\n", " \n", "\n ", "a  \n  b", "wordtok", "xwordtok", "wordtok!",
             " wordtok ", "wordtokx", "αwordtok", "a <mask> b", "a    <mask>", "<mask>", "[RSTRIP]   x",
             "[RSTRIP]\u3000\u3000y", "hello world", "hello worlds", "say hello world!", "ü", "über", "üü",
             "<|endoftext|>", "<|endoftext|><|endoftext|>", "a<|endoftext|>b", " <|endoftext|> ",
             "<|im_start|>user\nhi<|im_end|>\n", "<|im_start|><|im_end|>", "<tool_call>{\"a\": 1}</tool_call>",
             "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
             "<|eot_id|><|eot_id|>", "<|eot_id", "<|<|eot_id|>|>", "text<|eom_id|>more",
             "<|reserved_special_token_0|>", "<|finetune_right_pad_id|>x", "\u0301", "e\u0301\u0301",
             "x" * 64, " " * 300, "1" * 40, "ab" * 40, "\n" * 50, "é" * 30, "中" * 20,
             "a" + " " * 40 + "b", "\t" * 20 + "x", "Hello\u00a0World", "ﬁ ﬂ", "Ǆ", "ß", "ẞ", "İ", "ı",
             "\ufeffBOM", "zero\u200bwidth", "\U0010FFFF", "\uFFFD", "\uE000", "x\x7f\x1b[0m"]
    strings = list(fixed)
    for s in OTHER_SPECIALS + ACCENTED + SCRIPTS + CJK + EMOJI + WHITESPACE + CONTRACTIONS + CODE:
        strings.append(s)
    for i in range(60):
        strings.append(digits(rng))
    for i in range(120):
        strings.append(rng.choice(codes)[:60])
    for i in range(60):
        strings.append(random_unicode(rng, rng.randint(1, 24)))
    while len(strings) < 2200:
        parts = [fragment(rng, codes)[:14] for _ in range(rng.randint(1, 2))]
        seps = ["", " ", " ", "  ", "\n", ""]
        strings.append("".join(p + rng.choice(seps) for p in parts))
    return strings


# ---- expected outputs ----

def family_cases(tok, strings, special_every=10):
    fam = {"ids": [], "ids_special": [], "decoded": [], "decoded_skip": [], "decode_cases": []}
    for i, s in enumerate(strings):
        ids = tok.encode(s, add_special_tokens=False).ids
        fam["ids"].append(ids)
        if i % special_every == 0:
            with_special = tok.encode(s, add_special_tokens=True).ids
            fam["ids_special"].append([i, with_special])
        text = tok.decode(ids, skip_special_tokens=False)
        if text != s:
            fam["decoded"].append([i, text])
        skip = tok.decode(ids, skip_special_tokens=True)
        if skip != text:
            fam["decoded_skip"].append([i, skip])
    # Arbitrary id sequences: split multi-byte characters (U+FFFD), out-of-range ids (dropped), specials.
    rng = random.Random(7)
    size = tok.get_vocab_size(with_added_tokens=True)
    for _ in range(60):
        ids = [rng.randrange(size + 3) for _ in range(rng.randint(0, 12))]
        fam["decode_cases"].append({"ids": ids, "text": tok.decode(ids, skip_special_tokens=False),
                                    "skip": tok.decode(ids, skip_special_tokens=True)})
    return fam


def variant(family, name, tok_json, edits, strings, count):
    """An edited copy of a tokenizer.json; edits are [[key path], value] pairs the C test applies the same way."""
    j = copy.deepcopy(tok_json)
    for path, value in edits:
        node = j
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    tok = Tokenizer.from_str(json.dumps(j))
    return {"family": family, "name": name, "set": edits,
            "cases": [[i, tok.encode(strings[i], add_special_tokens=False).ids] for i in range(count)]}


def chat_cases(families):
    import transformers
    conversations = [
        [{"role": "user", "content": "Hello!"}],
        [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is 2+2?"}],
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
         {"role": "assistant", "content": "Hello. How can I help?"}, {"role": "user", "content": "Tell me a joke."}],
        [{"role": "user", "content": "  spaces around  \n"}],
        [{"role": "user", "content": ""}],
        [{"role": "user", "content": "Line one\nLine two\n\nLine four"}],
        [{"role": "user", "content": "Ünïcödé café 你好 😀 e\u0301"}],
        [{"role": "user", "content": "Code:\n```python\ndef f(x):\n    return x\n```"}],
        [{"role": "assistant", "content": "I start."}, {"role": "user", "content": "ok"}],
        [{"role": "tool", "content": "{\"result\": 42}"}],
    ]
    out = []
    for family, fmt in [("llama3", "llama3"), ("qwen2", "chatml"), ("gpt2", "plain")]:
        hf = transformers.AutoTokenizer.from_pretrained(os.path.join(OUT, family))
        for conv in conversations:
            for gen in (False, True):
                if fmt == "plain" and gen:
                    continue  # the plain template has no generation prompt
                text = hf.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)
                assert text == render(fmt, conv, gen), (family, conv, gen, text)
                ids = hf.apply_chat_template(conv, tokenize=True, add_generation_prompt=gen)
                if isinstance(ids, dict) or hasattr(ids, "keys"):
                    ids = ids["input_ids"]
                expect = families[family].encode(text, add_special_tokens=False).ids
                assert list(ids) == expect, (family, conv)
                out.append({"family": family, "format": fmt, "messages": conv, "add_generation_prompt": gen,
                            "text": text, "ids": expect})
    return out


def render(fmt, messages, gen):
    """The Python twin of chat_render, checked against transformers above."""
    if fmt == "llama3":
        s = "<|begin_of_text|>" + "".join("<|start_header_id|>" + m["role"] + "<|end_header_id|>\n\n" + m["content"] +
                                          "<|eot_id|>" for m in messages)
        return s + ("<|start_header_id|>assistant<|end_header_id|>\n\n" if gen else "")
    if fmt == "chatml":
        s = "".join("<|im_start|>" + m["role"] + "\n" + m["content"] + "<|im_end|>\n" for m in messages)
        return s + ("<|im_start|>assistant\n" if gen else "")
    return "\n\n".join(m["content"] for m in messages)


def dump(obj, path, compact=True):
    with open(path, "w", encoding="utf-8") as f:
        if compact:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        else:
            json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def shrink(tok_json, n_merges, drop_bytes=(), edits=()):
    """The tokenizer cut down to the 256 byte characters (minus drop_bytes) and its first n_merges merges."""
    j = copy.deepcopy(tok_json)
    merges = [m.split(" ", 1) if isinstance(m, str) else m for m in j["model"]["merges"][:n_merges]]
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    byte_chars = sorted(c for c in alphabet if c not in drop_bytes)
    vocab = {c: i for i, c in enumerate(byte_chars)}
    kept = []
    for a, b in merges:
        if a in vocab and b in vocab:
            kept.append([a, b])
            vocab.setdefault(a + b, len(vocab))
    for extra in ["<unk>"] if drop_bytes else []:
        vocab[extra] = len(vocab)
    j["model"]["vocab"] = vocab
    j["model"]["merges"] = kept if isinstance(tok_json["model"]["merges"][0], list) else [" ".join(m) for m in kept]
    for i, tok in enumerate(j["added_tokens"]):  # HF renumbers these the same way on load
        tok["id"] = vocab.get(tok["content"], len(vocab) + i)
    ids = {tok["content"]: tok["id"] for tok in j["added_tokens"]}
    for proc in j["post_processor"].get("processors", [j["post_processor"]]):
        for name, spec in proc.get("special_tokens", {}).items():
            spec["ids"] = [ids[name]]
    for path, value in edits:
        node = j
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    Tokenizer.from_str(json.dumps(j))  # must load in HF too
    return json.dumps(j, ensure_ascii=False, separators=(",", ":"))


def write_fuzz_seeds(built):
    out = os.path.join(os.path.dirname(OUT), "..", "..", "fuzz", "corpus", "tokenizer")
    os.makedirs(out, exist_ok=True)
    texts = ["Hello, world! I'm here.\n\n  x", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
             "<|im_start|>user\ncafe\u0301 12345 <tool_call>\u3000\x85<|im_end|>", "a <mask>  [RSTRIP]   wordtok hello world",
             "\u4f60\u597d \U0001F468\u200d\U0001F469 \u0928\u092e\u0938\u094d\u0924\u0947 \t\r\n 'LL"]
    seeds = {
        "llama3": shrink(built["llama3"][0], 60),
        "qwen2": shrink(built["qwen2"][0], 60),
        "gpt2": shrink(built["gpt2"][0], 60),
        "qwen2_unk": shrink(built["qwen2"][0], 30, drop_bytes="xyz\u0120",
                            edits=[[["model", "unk_token"], "<unk>"], [["model", "fuse_unk"], True]]),
        "gpt2_prefix_nfc": shrink(built["gpt2"][0], 30, edits=[[["pre_tokenizer", "add_prefix_space"], True],
                                                                [["normalizer"], {"type": "NFC"}]]),
        "llama3_literal_split": shrink(built["llama3"][0], 20, edits=[[["pre_tokenizer", "pretokenizers", 0, "pattern"],
                                                                        {"String": " "}]]),
    }
    expected = []  # HF's ids for each seed, so the parity test covers these shrunk variants as well
    for name, tok_json in seeds.items():
        hf = Tokenizer.from_str(tok_json)
        for k in range(3):  # three texts per tokenizer, the first one with a tokenizer_config.json part
            text = texts[(k + len(name)) % len(texts)]
            data = tok_json.encode() + b"\0" + text.encode()
            if k == 0:
                data += b"\0" + json.dumps({"bos_token": {"content": "<|begin_of_text|>"}, "eos_token": "<|im_end|>"}).encode()
            with open(os.path.join(out, f"seed_{name}_{k}"), "wb") as f:
                f.write(data)
            expected.append({"file": f"tests/fuzz/corpus/tokenizer/seed_{name}_{k}",
                             "ids": hf.encode(text, add_special_tokens=False).ids,
                             "ids_special": hf.encode(text, add_special_tokens=True).ids})
    return expected


def main():
    docs = corpus()
    built = {"llama3": build_llama3(docs), "qwen2": build_qwen2(docs), "gpt2": build_gpt2(docs)}
    families = {}
    for name, (tok_json, config) in built.items():
        os.makedirs(os.path.join(OUT, name), exist_ok=True)
        dump(tok_json, os.path.join(OUT, name, "tokenizer.json"))
        dump(config, os.path.join(OUT, name, "tokenizer_config.json"), compact=False)
        # Expected values come from the files as written, the way the C side reads them.
        families[name] = Tokenizer.from_file(os.path.join(OUT, name, "tokenizer.json"))
        total = families[name].get_vocab_size(with_added_tokens=True)
        assert total <= VOCAB_TOTAL, (name, total)

    strings = test_strings(code_lines())
    cases = {"strings": strings, "families": {}, "variants": []}
    for name, tok in families.items():
        fam = family_cases(tok, strings)
        fam["vocab_size"] = tok.get_vocab_size(with_added_tokens=True)
        config = built[name][1]
        for key in ("bos_token", "eos_token"):
            fam[key.replace("_token", "_id")] = tok.token_to_id(config[key]) if config.get(key) else -1
        cases["families"][name] = fam
    gpt2_json = built["gpt2"][0]
    extra = gpt2_json["added_tokens"] + [
        {"id": VOCAB_TOTAL, "content": "cafe\u0301", "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": True, "special": False},
        {"id": VOCAB_TOTAL + 1, "content": "<nfc-raw-e\u0301>", "single_word": False, "lstrip": False,
         "rstrip": False, "normalized": False, "special": True}]
    cases["variants"] = [
        variant("gpt2", "add_prefix_space", gpt2_json, [[["pre_tokenizer", "add_prefix_space"], True]], strings, 200),
        variant("gpt2", "nfc_and_normalized_added_token", gpt2_json,
                [[["normalizer"], {"type": "Sequence", "normalizers": [{"type": "NFC"}]}], [["added_tokens"], extra]],
                strings, 200),
        variant("llama3", "no_ignore_merges", built["llama3"][0], [[["model", "ignore_merges"], False]], strings, 200),
    ]
    cases["seeds"] = write_fuzz_seeds(built)
    dump(cases, os.path.join(OUT, "tokenizer_cases.json"))
    dump(chat_cases(families), os.path.join(OUT, "chat_cases.json"), compact=False)
    total_ids = sum(len(ids) for fam in cases["families"].values() for ids in fam["ids"])
    print(f"wrote {len(strings)} strings x {len(families)} families ({total_ids} ids) to {OUT}")


if __name__ == "__main__":
    main()
