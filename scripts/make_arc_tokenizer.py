#!/usr/bin/env python3
"""Builds the tokenizer and model shape of the bundled ARC grid-language model (data/arc-tiny/) from a corpus that
`migrate arc-gen --corpus` wrote (docs/arc-demo-model.md). The corpus itself is made in C, from the same prompt
code the search uses, so this script only learns a vocabulary and writes the config files.

Tokenizer: byte-level BPE (HF tokenizers), pre-tokenized on single whitespace characters ("Isolated") then
ByteLevel without its regex, as the other bundled models: a grid row of digits is one pre-token, so BPE merges
runs of cells ("000", "1111"), and the prompt's fixed English and the grid language's names become single
tokens. <|endoftext|> is id 0 and serves as BOS and EOS.

Determinism: the trainer runs on one thread over the corpus in file order; two runs give identical files.

Usage:
  pip install tokenizers
  build/migrate arc-gen --seed 1 --count 40000 --lines 1-4 --max-side 10 --corpus data/arc-tiny/corpus.jsonl
  python3 scripts/make_arc_tokenizer.py --corpus data/arc-tiny/corpus.jsonl --out data/arc-tiny
"""
import argparse
import json
import os
import sys

os.environ.setdefault("RAYON_NUM_THREADS", "1")
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_llama import llama_config, parameter_count  # noqa: E402

EOT = "<|endoftext|>"


def texts(path, limit):
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if limit and i >= limit:
                break
            yield json.loads(line)["text"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", required=True, help="corpus.jsonl from migrate arc-gen --corpus")
    ap.add_argument("--out", required=True, help="folder for tokenizer.json, tokenizer_config.json, config.json")
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--train-docs", type=int, default=20000, help="documents the vocabulary is learnt from")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--mlp", type=int, default=704)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--context", type=int, default=1024)
    args = ap.parse_args()

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\s"), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=args.vocab, special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts(args.corpus, args.train_docs), trainer)
    assert tok.get_vocab_size() == args.vocab and tok.token_to_id(EOT) == 0

    os.makedirs(args.out, exist_ok=True)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": EOT, "eos_token": EOT, "clean_up_tokenization_spaces": False,
                   "model_max_length": args.context, "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=1)
        f.write("\n")
    config = llama_config(args.vocab, args.hidden, args.mlp, args.layers, args.heads, args.kv_heads,
                          head_dim=args.hidden // args.heads, max_positions=args.context)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    lengths = [len(e.ids) + 1 for e in tok.encode_batch(list(texts(args.corpus, 5000)))]
    lengths.sort()
    print(json.dumps({"vocab": args.vocab, "parameters": parameter_count(config),
                      "bf16_bytes": 2 * parameter_count(config),
                      "document_tokens": {"median": lengths[len(lengths) // 2],
                                          "p99": lengths[int(0.99 * len(lengths))], "max": lengths[-1]},
                      "over_context": sum(n > args.context for n in lengths)}, indent=1))


if __name__ == "__main__":
    main()
