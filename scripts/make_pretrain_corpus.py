#!/usr/bin/env python3
"""Builds the pretraining corpus, tokenizer and model shape of the bundled Semantle demo model (data/pretrain/).

The demo model must know English words and which words are close in meaning WITHOUT having seen the oracle's
word vectors (data/semantle/vectors.bin, GloVe): everything here comes from WordNet 3.0 (Debian package
wordnet-base, /usr/share/wordnet), parsed directly from its database files (format: `man 5 wndb`), plus the word
list data/semantle/vocab.txt (which words Semantle accepts; its order, most frequent first, is used as a
frequency prior). The vectors are never read.

Documents (one JSON object {"text": ...} per line; the trainer joins them with <|endoftext|>):
  guess         "We are playing Semantle: ... Reply with a single English word.\\n" + WORD
                WORD drawn from a prior that favours common nouns, verbs and adjectives (guess_weights)
  neighborhood  "We are playing Semantle: ... The guess 'X' has similarity R ... close in meaning to 'X'.\\n" + Y
                X drawn from the same prior, 3x for words with a stem-sharing neighbour (--copy-boost); Y one of
                X's WordNet neighbours (build_pairs): 90% of the time (--copy-share) one that shares X's stem
                and tokens ('bird' -> 'birds': shares_stem) when X has one, else one of its 5 best others
                (--ns-top), best first; R uniform in [0.050, 0.950], printed with 3 decimals (no information)
  knowledge     "X: gloss.", "an X is a kind of Y.", "words close to X: a, b, c.", and lists of vocabulary words
                (one per line) that top every word up to --min-seen appearances in the training file
mixed 25/60/15 (3.6M training tokens) by token count of the tokenizer trained here (two passes: the second sizes
each kind with the token counts the first pass measured). A random 2% of the non-list documents goes to valid.jsonl.

Why stem-sharing answers (third version): a 4-layer model trained for half an hour on one core cannot memorise
which of 25,000 words WordNet relates to which, so the earlier corpora taught the answer format and a word prior
but answers no closer to X than unconditional guesses. "Copy X and change its ending" is one rule the model can
learn and apply to any X, and inflections and derivations are among X's nearest words in most vector spaces.

Relations (Y's relation to X): synonym (same synset), hypernym, hyponym, similar (&), also_see (^), derivation
(+), meronym, holonym, attribute (=), verb_group ($), pertainym (\\, both ways), and inflection ('birds' <->
'bird', from WordNet's exception lists and morphy rules; the vocabulary keeps inflected forms). Not used:
antonyms, entailment, cause, domains. Senses WordNet marks as slurs or obscenities are left out.

The prompts are exactly those of tasks/semantle.c, so the model sees at pretraining what the search loop asks.

Determinism: one seeded random.Random, every set sorted before use, the tokenizer trained on one thread; two runs
give byte-identical files (stats.json records the SHA-256 of corpus, valid set and tokenizer).

Usage:
  apt-get install wordnet-base && pip install tokenizers
  python3 scripts/make_pretrain_corpus.py     # writes data/pretrain/*, prints statistics (about 1 minute)
  # the word-level model (data/pretrain-words/README.md): whole-word tokens, no re-ended neighbourhood answers
  python3 scripts/make_pretrain_corpus.py --out data/pretrain-words --vocab-size 16384 --mlp 640 \
      --tokenizer-from words --drop-stem-answers --mix 0.2 0.6 0.2 --tokens 4.0e6

Outputs (data/pretrain/): corpus.jsonl, valid.jsonl, tokenizer.json (byte-level BPE, 4096 tokens, id 0 =
<|endoftext|>), tokenizer_config.json (bos = eos = <|endoftext|>), config.json (LlamaForCausalLM, 4.0M
parameters, untrained: the template `migrate pretrain` starts from), stats.json (the numbers in docs/demo-model.md).
"""
import argparse
import hashlib
import json
import math
import os
import random
import re
import sys
from collections import Counter, defaultdict

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # the BPE trainer's counting is parallel; keep it on one thread
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_llama import llama_config, parameter_count  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

GUESS_PROMPT = "We are playing Semantle: guess a secret English word. Reply with a single English word."
NS_PROMPT = ("We are playing Semantle: guess a secret English word. The guess '{x}' has similarity {r:.3f} to the "
             "secret word. Reply with one English word that is close in meaning to '{x}'.")
EOT = "<|endoftext|>"
TOKENIZER_VOCAB = 4096

# data.* file per synset type; satellite adjectives ("s") live in data.adj
POS_FILE = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
FILE_POS = {"n": "n", "v": "v", "a": "a", "s": "a", "r": "r"}

# WordNet pointer symbol -> relation of Y (the pointer's target) to X (its source), as named in the statistics.
# Left out: antonyms (!: opposite, not close, in meaning), entailment/cause, participle, domains.
POINTER_RELATION = {
    "@": "hypernym", "@i": "hypernym", "~": "hyponym", "~i": "hyponym",
    "#m": "holonym", "#s": "holonym", "#p": "holonym", "%m": "meronym", "%s": "meronym", "%p": "meronym",
    "=": "attribute", "+": "derivation", "&": "similar", "^": "also_see",
    "$": "verb_group", "\\": "pertainym",
}
# How close in meaning each relation usually is: the weight with which a neighborhood answer is picked.
RELATION_WEIGHT = {
    "synonym": 1.0, "similar": 0.8, "verb_group": 0.6, "hypernym": 0.6, "derivation": 0.6, "hyponym": 0.5,
    "pertainym": 0.5, "inflection": 0.05, "also_see": 0.5, "attribute": 0.5, "meronym": 0.3, "holonym": 0.3,
}

# WordNet's detachment rules (morphy): inflected suffix -> base suffix. Used only for words that are no lemma
# themselves (so "number" is not taken for the comparative of "numb").
MORPH_RULES = {
    "n": [("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
          ("ies", "y")],
    "v": [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")],
    "a": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
    "r": [],
}

# Function words (pronouns, determiners, prepositions, conjunctions, auxiliaries): in the vocabulary (WordNet lists
# "in" as inch, "he" as helium, "can" as a container), but never a sensible guess. They get no guess or
# neighborhood documents; they still appear in glosses and word lists.
FUNCTION_WORDS = set("""
a about above across after against albeit all almost along also although am among amongst an and another any anybody
anyhow anyone anything anyway are around as at be became because become becomes been before behind being below
beside besides between beyond both but by can cannot could did do does doing done down during each either else etc
even every everybody everyone everything except for from further had has have having he hence her here hereby herein
hers herself him himself his how however i if in into is it its itself just may me might more most mostly much must
my myself namely neither no nobody none noone nor not nothing now of off on once only onto or other others our ours
ourselves out over per please quite rather re shall she should since so some somebody somehow someone something
sometime such than that the their theirs them themselves then thence there thereafter thereby therefore therein
thereupon these they this those though through throughout thru thus to too toward towards under unless until up upon
us very via was we were what whatever when whence whenever where whereas whereby wherein whereupon wherever whether
which while whither who whoever whom whose why will with within without would yet you your yours yourself yourselves
""".split())

# Senses WordNet marks as slurs or obscenities: usage-domain pointers (";u") to disparagement, obscenity and
# ethnic slur, or glosses that say so. They give no pairs and no knowledge documents; a word with no other sense is
# never a guess or neighborhood answer (it is still in the word lists: Semantle accepts it).
OFFENSIVE_DOMAINS = {("n", "06717170"), ("n", "07124340"), ("n", "06718862")}
OFFENSIVE_GLOSS = re.compile(r"\(ethnic slur\)|\b(obscene|offensive|derogatory|disparaging) (term|name|word)s?\b")

WORD_RE = re.compile(r"^[a-z]+$")


# ---------------------------------------------------------------------------------------------------------------
# WordNet

class WordNet:
    """The parts of WordNet 3.0 used here, read from the dict folder.

    synsets[(pos, offset)] = (lemmas, pointers, gloss), lemmas as written (case kept, adjective markers dropped),
    pointers as (symbol, target key, source word number, target word number), word numbers 1-based, 0 = semantic.
    sense_rank[(pos, lemma, offset)] = 0 for the lemma's most frequent sense (index.* order), 1 for the next, ...
    tag_count[(pos, lemma, rank)] = times the sense was tagged in the SemCor texts (cntlist.rev).
    exceptions[pos][inflected] = [base, ...] from *.exc.
    """

    def __init__(self, root):
        self.synsets, self.sense_rank, self.exceptions, self.tag_count = {}, {}, {}, Counter()
        self.senses = defaultdict(list)  # lemma -> [(pos, rank)]
        for pos, name in POS_FILE.items():
            self._read_data(os.path.join(root, "data." + name), pos)
            self._read_index(os.path.join(root, "index." + name), pos)
            exc = defaultdict(list)
            with open(os.path.join(root, name + ".exc"), encoding="latin-1") as f:
                for line in f:
                    inflected, *bases = line.split()
                    exc[inflected].extend(bases)
            self.exceptions[pos] = exc
        if not self.synsets:
            sys.exit(f"{root}: no WordNet synsets found")
        # cntlist.rev: "sense_key sense_number tag_cnt", sense_key = lemma%ss_type:..., ss_type 1..5 = n v a r s
        with open(os.path.join(root, "cntlist.rev"), encoding="latin-1") as f:
            for line in f:
                key, number, count = line.split()
                lemma, _, rest = key.partition("%")
                pos = "nvara"[int(rest[0]) - 1]
                self.tag_count[(pos, lemma, int(number) - 1)] += int(count)
        self.prominence_cache = {}
        self.offensive = {key for key, (_, pointers, gloss) in self.synsets.items()
                          if OFFENSIVE_GLOSS.search(gloss)
                          or any(sym == ";u" and target in OFFENSIVE_DOMAINS for sym, target, _, _ in pointers)}

    def _read_data(self, path, pos):
        with open(path, encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):  # licence header
                    continue
                body, _, gloss = line.partition(" | ")
                fld = body.split()
                offset, w_cnt = fld[0], int(fld[3], 16)
                lemmas = [re.sub(r"\([a-z]+\)$", "", fld[4 + 2 * k]) for k in range(w_cnt)]
                i = 4 + 2 * w_cnt
                p_cnt = int(fld[i])
                i += 1
                pointers = []
                for _ in range(p_cnt):
                    symbol, target, target_pos, source_target = fld[i:i + 4]
                    i += 4
                    pointers.append((symbol, (FILE_POS[target_pos], target), int(source_target[:2], 16),
                                     int(source_target[2:], 16)))
                self.synsets[(pos, offset)] = (lemmas, pointers, gloss.strip())

    def _read_index(self, path, pos):
        with open(path, encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                fld = line.split()
                lemma, synset_cnt, p_cnt = fld[0], int(fld[2]), int(fld[3])
                offsets = fld[4 + p_cnt + 2:]
                assert len(offsets) == synset_cnt, line
                for rank, offset in enumerate(offsets):
                    self.sense_rank[(pos, lemma, offset)] = rank
                    self.senses[lemma].append((pos, rank))

    def rank(self, key, lemma):
        return self.sense_rank.get((key[0], lemma.lower(), key[1]), 99)

    def prominence(self, key, lemma):
        """How much of a word's use this sense is, over all its senses in all parts of speech: tag counts plus a
        prior 0.5 / (1 + rank), so 'chilly' is mostly the adjective (cold), not the noun (a pepper), and untagged
        senses keep index order."""
        lemma = lemma.lower()
        rank = self.rank(key, lemma)
        if rank == 99:
            return 0.0
        if lemma not in self.prominence_cache:
            self.prominence_cache[lemma] = sum(self.tag_count[(p, lemma, r)] + 0.5 / (1 + r)
                                               for p, r in self.senses[lemma])
        return (self.tag_count[(key[0], lemma, rank)] + 0.5 / (1 + rank)) / self.prominence_cache[lemma]


def definition(gloss):
    """The gloss without its quoted examples: 'a large body of water ...; "the ocean floor"' -> 'a large ...'."""
    text = gloss.split('; "')[0].split(' "')[0].strip().rstrip(";").strip()
    return re.sub(r"\s+", " ", text)


# ---------------------------------------------------------------------------------------------------------------
# relation pairs

def build_pairs(wn, vocab):
    """pairs[x][y] = (weight, relation): the best way WordNet relates vocabulary word y to vocabulary word x."""
    pairs = defaultdict(dict)

    def add(x, y, relation, weight):
        if x == y or x in FUNCTION_WORDS or y in FUNCTION_WORDS:
            return
        old = pairs[x].get(y)
        if old is None or weight > old[0] or (weight == old[0] and relation < old[1]):
            pairs[x][y] = (weight, relation)

    def usable(lemma):
        return lemma in vocab  # vocab words are [a-z]+: no capitals (proper nouns), no multi-word lemmas

    for key in sorted(wn.synsets):
        if key in wn.offensive:
            continue
        lemmas, pointers, _ = wn.synsets[key]
        good = [w for w in lemmas if usable(w)]
        # weight = closeness of the relation * how much X means this sense * sqrt(how much Y means its sense)
        for x in good:
            for y in good:
                add(x, y, "synonym", RELATION_WEIGHT["synonym"] * wn.prominence(key, x) *
                    math.sqrt(wn.prominence(key, y)))
        # A synset with 200 hyponyms should not drown its one hypernym: a relation's targets share its weight.
        targets_per_relation = Counter()
        resolved = []
        for symbol, target, src, tgt in pointers:
            relation = POINTER_RELATION.get(symbol)
            if relation is None or target not in wn.synsets or target in wn.offensive:
                continue
            tlemmas = wn.synsets[target][0]
            xs = [lemmas[src - 1]] if src else lemmas
            ys = [tlemmas[tgt - 1]] if tgt else tlemmas
            xs, ys = [w for w in xs if usable(w)], [w for w in ys if usable(w)]
            if xs and ys:
                resolved.append((relation, target, xs, ys))
                targets_per_relation[relation] += len(ys)
        for relation, target, xs, ys in resolved:
            spread = targets_per_relation[relation]
            for x in xs:
                for y in ys:
                    w = (RELATION_WEIGHT[relation] * wn.prominence(key, x) * math.sqrt(wn.prominence(target, y))
                         / spread)
                    add(x, y, relation, w)
                    if relation == "pertainym":  # WordNet stores only adjective -> noun, adverb -> adjective
                        add(y, x, relation, w)
    return pairs


def lemma_pos(wn, vocab):
    """({word: set of parts of speech in which it is a lower-case single-word lemma}, {words whose every sense is
    offensive})."""
    pos_of, clean = defaultdict(set), set()
    for key, (lemmas, _, _) in wn.synsets.items():
        for w in lemmas:
            if w in vocab:
                pos_of[w].add(key[0])
                if key not in wn.offensive:
                    clean.add(w)
    return pos_of, set(pos_of) - clean


def add_inflections(wn, vocab, pos_of, pairs):
    """'birds' <-> 'bird', 'went' <-> 'go': the vocabulary keeps inflected forms, WordNet only base forms."""
    base_of = {}
    for word in sorted(vocab):
        bases = set()
        for pos in POS_FILE:
            bases.update(b for b in wn.exceptions[pos].get(word, []) if pos in pos_of.get(b, ()))
            if not pos_of.get(word):
                for suffix, repl in MORPH_RULES[pos]:
                    if word.endswith(suffix) and len(word) > len(suffix) + 1:
                        b = word[: len(word) - len(suffix)] + repl
                        if pos in pos_of.get(b, ()):
                            bases.add(b)
        bases = sorted(b for b in bases if b != word and b in vocab)
        if bases:
            base_of[word] = bases
            for b in bases:
                for x, y in ((word, b), (b, word)):
                    if x in FUNCTION_WORDS or y in FUNCTION_WORDS:
                        continue
                    w = RELATION_WEIGHT["inflection"]
                    old = pairs[x].get(y)
                    if old is None or w > old[0]:
                        pairs[x][y] = (w, "inflection")
    return base_of


# ---------------------------------------------------------------------------------------------------------------
# how often each word is asked for

def guess_weights(vocab_list, pos_of, base_of, offensive, freq_share, offset, exponent):
    """Prior over secret-word guesses (sums to 1): common words first, content words (noun/verb/adjective)
    favoured, every other word still drawn now and then.

    freq_share of it a frequency prior (rank + offset)^-exponent over the vocabulary's frequency order, the rest
    flat; both times a word-kind factor: inflected forms and adverbs count less, function words not at all.
    The defaults (0.9, 200, 1.0) give the top 1,000 / 5,000 words about a third / 60% of the draws: a 4M-parameter
    model trained for an hour learns common words well rather than 25,000 words badly, and Semantle's secret words
    and the search's seeds are common words.
    """
    kinds = {}
    for word in vocab_list:
        if word in FUNCTION_WORDS or word in offensive:
            kind = 0.0
        elif pos_of.get(word, set()) & {"n", "v", "a"}:
            kind = 1.0
        elif word in base_of:
            kind = 0.4
        elif pos_of.get(word):
            kind = 0.3  # adverbs
        else:
            kind = 0.1
        kinds[word] = kind
    freq = {w: kinds[w] * (rank + offset) ** -exponent for rank, w in enumerate(vocab_list)}
    sum_freq, sum_flat = sum(freq.values()), sum(kinds.values())
    return {w: freq_share * freq[w] / sum_freq + (1.0 - freq_share) * kinds[w] / sum_flat for w in vocab_list}


def weighted_order(items, weights, rng):
    """Items in a random order where heavier items tend to come first (sampling without replacement)."""
    keyed = []
    for item, w in zip(items, weights):
        if w > 0:
            keyed.append((-math.log(1.0 - rng.random()) / w, item))
    keyed.sort(key=lambda kv: kv[0])
    return [item for _, item in keyed]


# ---------------------------------------------------------------------------------------------------------------
# documents

def stratified_draws(items, weights, n, rng):
    """n draws in proportion to weights with less luck than independent draws: each item comes floor(n p) times,
    the remaining draws go to items in proportion to the fractions left (so no common word gets 0 by chance)."""
    total = sum(weights)
    expected = [n * w / total for w in weights]
    drawn = []
    for item, e in zip(items, expected):
        drawn += [item] * int(e)
    fractions = [e - int(e) for e in expected]
    drawn += weighted_order(items, fractions, rng)[: n - len(drawn)]
    rng.shuffle(drawn)
    return drawn


def article(word):
    return "an" if word[0] in "aeiou" else "a"


def phrase(lemma):
    return lemma.replace("_", " ")


def shares_stem(x, y, tok=None):
    """True when y is x with a change at the end ('bird' -> 'birds', 'city' -> 'cities', 'ocean' -> 'oceanic'):
    a common prefix of at least 3 letters that leaves at most 2 letters of the shorter word. A small model learns
    such pairs as 'copy the seed, change the ending', which works for seeds it has never seen paired. With a
    tokenizer, also the tokens of one (in the answer position) must start with all the tokens of the other
    ('business' -> 'business' 'es', not 'season' -> 'seas' 'ons'): the model copies tokens, not letters."""
    common = len(os.path.commonprefix([x, y]))
    if not (common >= 3 and common >= min(len(x), len(y)) - 2):
        return False
    if tok is None:
        return True
    a, b = tok.encode("\n" + x).ids, tok.encode("\n" + y).ids
    return a == b[:len(a)] or b == a[:len(b)]


def neighborhood_docs(n_docs, pairs, gweights, rng, top, copy_share, copy_boost, tok, drop_stems=False):
    """n_docs neighborhood documents. X (a past guess) drawn from the guess prior, among words with relations.
    Y: with probability copy_share (when X has any) one of X's related words that share its stem (shares_stem;
    inflections, derivations, pertainyms: close in meaning and learnable as a copy), cycling best first; otherwise
    the next of X's `top` best other relations, best first (cycling; ties in random order). The cap keeps a
    common X, drawn dozens of times, on its strong neighbours instead of walking down to its hundredth hyponym.
    drop_stems: Y is never X re-ended (a letter-level shares_stem), and X with no other neighbour is not drawn."""
    xs = sorted(x for x in pairs if pairs[x] and gweights.get(x, 0) > 0)
    orders = {x: [y for _, _, y in sorted((-pairs[x][y][0], rng.random(), y) for y in sorted(pairs[x]))]
              for x in xs}
    if drop_stems:
        orders = {x: [y for y in orders[x] if not shares_stem(x, y)] for x in xs}
        xs = [x for x in xs if orders[x]]
    stems = {x: [y for y in orders[x] if shares_stem(x, y, tok)] for x in xs}
    others = {x: [y for y in orders[x] if not shares_stem(x, y, tok)][:top] for x in xs}
    # X with a stem-sharing neighbour is drawn copy_boost times as often: more examples of the one rule
    mix = [gweights[x] * (copy_boost if stems[x] else 1.0) for x in xs]
    drawn_stem, drawn_other = Counter(), Counter()
    docs = []
    for x in stratified_draws(xs, mix, n_docs, rng):
        use_stem = stems[x] and (not others[x] or rng.random() < copy_share)
        if use_stem:
            y = stems[x][drawn_stem[x] % len(stems[x])]
            drawn_stem[x] += 1
        else:
            y = others[x][drawn_other[x] % len(others[x])]
            drawn_other[x] += 1
        r = rng.uniform(0.05, 0.95)
        docs.append(("neighborhood", pairs[x][y][1], NS_PROMPT.format(x=x, r=r) + "\n" + y))
    return docs


def guess_docs(n_docs, vocab_list, gweights, rng):
    """n_docs guess documents, words drawn from the guess prior."""
    words = [w for w in vocab_list if gweights[w] > 0]
    drawn = stratified_draws(words, [gweights[w] for w in words], n_docs, rng)
    return [("guess", "", GUESS_PROMPT + "\n" + w) for w in drawn]


def knowledge_candidates(wn, vocab, pairs, gweights):
    """Every knowledge document that could be written, as (subkind, text, weight) per subkind."""
    cands = defaultdict(list)
    for key in sorted(wn.synsets):
        if key in wn.offensive:
            continue
        lemmas, pointers, gloss = wn.synsets[key]
        d = definition(gloss)
        for x in sorted(set(lemmas)):
            if x not in vocab or x in FUNCTION_WORDS:
                continue
            p = wn.prominence(key, x)
            if p < 0.15 and wn.rank(key, x) > 0:
                continue  # a rare sense: "chilly" is seldom the pepper
            w = max(gweights[x], 1e-9) * p
            if d and not d.startswith("("):
                cands["gloss"].append((f"{x}: {d}" + ("" if d[-1] in ".!?" else "."), w))
            for symbol, target, _, _ in pointers:
                if target not in wn.synsets or target in wn.offensive:
                    continue
                head = wn.synsets[target][0][0]
                if head != head.lower():
                    continue
                if symbol == "@" and key[0] == "n":
                    cands["isa"].append((f"{article(x)} {x} is a kind of {phrase(head)}.", w))
                elif symbol == "@" and key[0] == "v":
                    cands["isa"].append((f"to {x} is a way to {phrase(head)}.", w))
                elif symbol == "#p":
                    cands["isa"].append((f"{article(x)} {x} is a part of {article(head)} {phrase(head)}.", w))
                elif symbol == "#m":
                    cands["isa"].append((f"{article(x)} {x} is a member of {article(head)} {phrase(head)}.", w))
    for x in sorted(pairs):
        if not pairs[x] or gweights.get(x, 0) <= 0:
            continue
        ys = sorted(pairs[x], key=lambda y: (-pairs[x][y][0], y))[:8]
        cands["close"].append((f"words close to {x}: {', '.join(ys)}.", gweights[x]))
    return cands


def word_list_docs(vocab_list, passes, seen, min_seen, rng, per_doc=20):
    """Lists of vocabulary words, one per line (as in the answer position): every word `passes` times, then again
    until each word has been seen min_seen times (seen: appearances in the other documents)."""
    words_per_pass = [list(vocab_list) for _ in range(passes)]
    top_up = []
    for w in vocab_list:
        top_up += [w] * max(0, min_seen - passes - seen[w])
    docs = []
    for words in words_per_pass + [top_up]:
        rng.shuffle(words)
        for i in range(0, len(words), per_doc):
            docs.append(("knowledge", "list", "English words:\n" + "\n".join(words[i:i + per_doc])))
    return docs


def knowledge_docs(budget_chars, cands):
    """Knowledge documents up to a character budget per subkind, heaviest (commonest words, main senses) first."""
    docs = []
    for sub in sorted(budget_chars):
        if sub == "list":
            continue
        best = {}
        for t, w in cands[sub]:  # the same sentence can come from several synsets: keep its largest weight
            best[t] = max(w, best.get(t, 0.0))
        order = sorted(best, key=lambda t: (-best[t], t))
        used = 0
        for t in order:
            if used >= budget_chars[sub]:
                break
            docs.append(("knowledge", sub, t))
            used += len(t)
    return docs


# ---------------------------------------------------------------------------------------------------------------
# tokenizer

def train_tokenizer(texts, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    assert tok.get_vocab_size() == vocab_size and tok.token_to_id(EOT) is not None
    return tok


def word_prior_texts(vocab_list, offset=200.0, cap=50):
    """What the word-level tokenizer trains on: every vocabulary word after "\n" (the answer position), repeated
    in proportion to a frequency prior (rank + offset)^-1 capped at `cap` copies, plus the two prompts and the
    digits. BPE's merges then build whole common words instead of the pieces of glosses: with 16,384 tokens the
    10,000 most frequent words are one token each."""
    for rank, w in enumerate(vocab_list):
        copies = max(1, int(2000.0 * offset / (rank + offset)))
        for _ in range(min(cap, copies)):
            yield "\n" + w
    for _ in range(cap):
        yield GUESS_PROMPT
        yield NS_PROMPT.format(x="x", r=0.5)
        yield from "0123456789"


def token_counts(tok, texts):
    """Tokens per document, counting the <|endoftext|> that follows it when packed."""
    return [len(e.ids) + 1 for e in tok.encode_batch(texts)]


def model_config(eot_id, vocab_size, mlp):
    return llama_config(vocab_size, hidden=256, mlp=mlp, layers=4, heads=4, kv_heads=2, head_dim=64, eot_id=eot_id)


# ---------------------------------------------------------------------------------------------------------------
# main

def build(args, wn, vocab_list, est, tok):
    """Train and valid documents, shuffled, as (kind, relation-or-subkind, text), sized with the token estimates
    est (tokens per guess / neighborhood document, characters per token of each knowledge subkind, tokens of all
    word lists)."""
    rng = random.Random(args.seed)
    vocab = set(vocab_list)
    pos_of, offensive = lemma_pos(wn, vocab)
    pairs = build_pairs(wn, vocab)
    base_of = add_inflections(wn, vocab, pos_of, pairs)
    offensive |= {w for w, bases in base_of.items() if not pos_of.get(w) and all(b in offensive for b in bases)}
    for x in offensive:
        pairs.pop(x, None)
    for x in pairs:
        for y in offensive & set(pairs[x]):
            del pairs[x][y]
    gweights = guess_weights(vocab_list, pos_of, base_of, offensive, args.freq_share, args.freq_offset,
                             args.freq_exponent)

    total = args.tokens / (1.0 - args.valid_fraction)  # train + valid
    ns = neighborhood_docs(round(total * args.mix[1] / est["neighborhood"]), pairs, gweights, rng, args.ns_top,
                           args.copy_share, args.copy_boost, tok, args.drop_stem_answers)
    guess = guess_docs(round(total * args.mix[0] / est["guess"]), vocab_list, gweights, rng)
    rest = max(0.0, total * args.mix[2] - est["list_tokens"])
    share = {"close": 0.55, "gloss": 0.3, "isa": 0.15}
    budget_chars = {s: rest * f * est[s] for s, f in share.items()}
    knowledge = knowledge_docs(budget_chars, knowledge_candidates(wn, vocab, pairs, gweights))

    # Validation: a random share of these documents. The word lists all train: they are written last, to top
    # every word up to --min-seen appearances in the training file.
    docs = ns + guess + knowledge
    rng.shuffle(docs)
    held = set(rng.sample(range(len(docs)), round(len(docs) * args.valid_fraction)))
    train = [d for i, d in enumerate(docs) if i not in held]
    valid = [d for i, d in enumerate(docs) if i in held]
    seen = Counter()
    for _, _, t in train:
        seen.update(re.findall(r"[a-z]+", t))
    train += word_list_docs(vocab_list, args.list_passes, seen, args.min_seen, rng)
    rng.shuffle(train)
    return train, valid, pairs, gweights, sorted(offensive)


def measure(tok, docs):
    """(tokens per document, characters per token) per kind / knowledge subkind."""
    counts = token_counts(tok, [t for _, _, t in docs])
    tokens, chars, n = Counter(), Counter(), Counter()
    for (kind, sub, text), c in zip(docs, counts):
        for k in (kind, sub if kind == "knowledge" else None):
            if k:
                tokens[k] += c
                chars[k] += len(text)
                n[k] += 1
    return ({k: tokens[k] / n[k] for k in n}, {k: chars[k] / tokens[k] for k in n}, counts)


def write_jsonl(path, docs):
    with open(path, "w", encoding="utf-8") as f:
        for _, _, text in docs:
            f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")


def write_stats(folder, stats):
    """folder/stats.json (sorted keys, so reruns compare), and the stats but the examples on stdout."""
    with open(os.path.join(folder, "stats.json"), "w") as f:
        json.dump(stats, f, indent=1, sort_keys=True)
        f.write("\n")
    print(json.dumps({k: v for k, v in stats.items() if k != "examples"}, indent=1, sort_keys=True))


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wordnet", default="/usr/share/wordnet", help="WordNet 3.0 dict folder")
    ap.add_argument("--vocab", default=os.path.join(ROOT, "data", "semantle", "vocab.txt"))
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "pretrain"))
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--tokens", type=float, default=3.6e6, help="training tokens (valid comes on top)")
    ap.add_argument("--valid-fraction", type=float, default=0.02)
    ap.add_argument("--list-passes", type=int, default=2, help="times every vocabulary word is listed")
    ap.add_argument("--min-seen", type=int, default=5, help="more lists until every word appears this often")
    ap.add_argument("--mix", type=float, nargs=3, default=[0.25, 0.6, 0.15], metavar=("GUESS", "NS", "KNOWLEDGE"))
    ap.add_argument("--freq-share", type=float, default=0.9, help="share of the word prior that follows frequency")
    ap.add_argument("--freq-offset", type=float, default=200.0, help="frequency prior (rank + offset)^-exponent")
    ap.add_argument("--freq-exponent", type=float, default=1.0)
    ap.add_argument("--ns-top", type=int, default=5, help="other neighbourhood answers cycle over X's best N")
    ap.add_argument("--copy-boost", type=float, default=3.0,
                    help="words with a stem-sharing neighbour are drawn this many times as often as X")
    ap.add_argument("--copy-share", type=float, default=0.9,
                    help="share of X's neighbourhood answers that share its stem, when it has such neighbours")
    ap.add_argument("--drop-stem-answers", action="store_true",
                    help="no neighbourhood answer is X re-ended (X's other relations only; overrides --copy-*)")
    ap.add_argument("--vocab-size", type=int, default=TOKENIZER_VOCAB, help="BPE tokens, and the model's vocabulary")
    ap.add_argument("--tokenizer-from", choices=("corpus", "words"), default="corpus",
                    help="train the BPE on the corpus, or on the vocabulary weighted by frequency (word_prior_texts)")
    ap.add_argument("--mlp", type=int, default=704, help="the model's MLP width")
    args = ap.parse_args()

    with open(args.vocab) as f:
        vocab_list = [w.strip() for w in f if w.strip()]
    bad = [w for w in vocab_list if not WORD_RE.match(w)]
    if bad or len(set(vocab_list)) != len(vocab_list):
        sys.exit(f"{args.vocab}: words must be unique and [a-z]+ (first bad: {bad[:3]})")
    wn = WordNet(args.wordnet)

    # Pass 1 with rough token estimates and letter-level stems trains the tokenizer; pass 2 sizes the --mix split
    # with the token counts it measured and keeps only stem-sharing answers that are token copies under it
    # (shares_stem). The tokenizer is not retrained on pass 2's corpus: a retrained BPE would split words
    # differently and undo that choice.
    est = {"guess": 22.0, "neighborhood": 45.0, "gloss": 4.0, "close": 3.5, "isa": 3.5, "list_tokens": 2.0e5}
    tok = None
    for _ in range(2):
        train, valid, pairs, gweights, offensive = build(args, wn, vocab_list, est, tok)
        texts = word_prior_texts(vocab_list) if args.tokenizer_from == "words" else (t for _, _, t in train)
        tok = tok or train_tokenizer(texts, args.vocab_size)
        per_doc, chars_per_token, counts = measure(tok, train)
        est.update({k: per_doc[k] for k in ("guess", "neighborhood")})
        est.update({k: chars_per_token[k] for k in ("gloss", "close", "isa")})
        est["list_tokens"] = sum(c for d, c in zip(train, counts) if d[1] == "list")

    os.makedirs(args.out, exist_ok=True)
    write_jsonl(os.path.join(args.out, "corpus.jsonl"), train)
    write_jsonl(os.path.join(args.out, "valid.jsonl"), valid)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    eot_id = tok.token_to_id(EOT)
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": EOT, "eos_token": EOT, "clean_up_tokenization_spaces": False,
                   "model_max_length": 256, "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=1)
        f.write("\n")
    config = model_config(eot_id, args.vocab_size, args.mlp)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")

    stats = statistics(tok, train, valid, vocab_list, pairs, gweights, config, offensive)
    stats["sha256"] = {name: sha256_file(os.path.join(args.out, name))
                       for name in ("corpus.jsonl", "valid.jsonl", "tokenizer.json")}
    write_stats(args.out, stats)


def statistics(tok, train, valid, vocab_list, pairs, gweights, config, offensive):
    _, _, counts = measure(tok, train)
    docs, tokens, rel_docs, sub_docs, sub_tokens = Counter(), Counter(), Counter(), Counter(), Counter()
    answers = {"guess": Counter(), "neighborhood": Counter()}
    for (kind, sub, text), c in zip(train, counts):
        docs[kind] += 1
        tokens[kind] += c
        if kind == "knowledge":
            sub_docs[sub] += 1
            sub_tokens[sub] += c
        else:
            answers[kind][text.rsplit("\n", 1)[1]] += 1
            if kind == "neighborhood":
                rel_docs[sub] += 1
    total = sum(tokens.values())
    vocab = set(vocab_list)

    # Every vocabulary word's appearances over the whole training corpus (as a whole word).
    seen = Counter()
    for _, _, text in train:
        seen.update(w for w in re.findall(r"[a-z]+", text) if w in vocab)
    per_word = sorted(seen.get(w, 0) for w in vocab_list if w not in offensive)

    # Tokens of each vocabulary word in the answer position (after "\n"), and of the prompts.
    nl = tok.encode("\n").ids
    lens = []
    for w, e in zip(vocab_list, tok.encode_batch(["\n" + w for w in vocab_list])):
        assert e.ids[:len(nl)] == nl and e.ids[len(nl):] == tok.encode(w).ids, w
        lens.append(len(e.ids) - len(nl))
    answer_tokens = sum(len(tok.encode(w).ids) * n for w, n in answers["guess"].items())

    pair_relations = Counter(rel for x in pairs for _, rel in pairs[x].values())
    examples = {}
    for kind in ("guess", "neighborhood", "knowledge"):
        examples[kind] = [t for k, _, t in train if k == kind][:5]
    examples["knowledge"] = [next(t for k, s, t in train if k == "knowledge" and s == sub)
                             for sub in ("gloss", "isa", "close", "list")] + \
                            [[t for k, s, t in train if k == "knowledge" and s == "gloss"][1]]
    params = parameter_count(config)
    return {
        "documents": dict(docs), "valid_documents": len(valid),
        "tokens": dict(tokens), "tokens_total": total,
        "token_share": {k: round(v / total, 4) for k, v in tokens.items()},
        "valid_tokens": sum(token_counts(tok, [t for _, _, t in valid])),
        "knowledge_documents": dict(sub_docs), "knowledge_tokens": dict(sub_tokens),
        "neighborhood_relations": dict(rel_docs),
        "relation_pairs_available": dict(pair_relations),
        "words_with_relations": sum(1 for x in pairs if pairs[x]),
        "vocab_size": len(vocab_list), "offensive_words_left_out": offensive,
        "vocab_as_guess_answer": len(answers["guess"]),
        "vocab_as_neighborhood_answer": len(answers["neighborhood"]),
        "vocab_as_any_answer": len(set(answers["guess"]) | set(answers["neighborhood"])),
        "guessable_words": sum(1 for w in vocab_list if gweights[w] > 0),
        "word_appearances": {"min": per_word[0], "p10": per_word[len(per_word) // 10],
                             "median": per_word[len(per_word) // 2], "max": per_word[-1],
                             "under_3": sum(1 for n in per_word if n < 3)},
        "word_tokens": {"mean_vocab": round(sum(lens) / len(lens), 3), "max_vocab": max(lens),
                        "single_token_words": sum(1 for n in lens if n == 1),
                        "mean_guess_answers": round(answer_tokens / max(1, docs["guess"]), 3),
                        "guess_prompt": len(tok.encode(GUESS_PROMPT).ids),
                        "histogram": dict(sorted(Counter(lens).items()))},
        "eot_id": tok.token_to_id(EOT),
        "parameters": params, "bf16_bytes": 2 * params,
        "examples": examples,
    }


if __name__ == "__main__":
    main()
