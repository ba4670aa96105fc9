#!/usr/bin/env bash
# The sentence-encoder Semantle oracle (tasks/examples/semantle_sentence_oracle.py): its parser, its ranks, its
# rewards and its protocol loop, with a stand-in encoder whose nearest words are known, so the test needs numpy
# but not the encoder's package. Where a python3 with wordllama exists, also a short `migrate run` of
# jobs/semantle-sentence-oracle.yaml with the real encoder. Skipped (77) without a python3 that has numpy.
set -euo pipefail
BUILD=${1:?usage: test_sentence_oracle.sh BUILD_DIR}
PY=""
for cand in python3 /usr/bin/python3; do
  if command -v "$cand" >/dev/null && "$cand" -c "import numpy" 2>/dev/null; then PY=$(command -v "$cand"); break; fi
done
if [ -z "$PY" ]; then echo "SKIP: no python3 with numpy (scripts/install-deps.sh installs python3-numpy)"; exit 77; fi
tmp=$(mktemp -d /tmp/test_sentence_oracle.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$PY" - "$tmp" <<'EOF'
import importlib.util, io, json, os, sys
import numpy as np
tmp = sys.argv[1]
spec = importlib.util.spec_from_file_location("oracle", "tasks/examples/semantle_sentence_oracle.py")
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)

def word(i):  # distinct [a-z]+ words
    s = ""
    for _ in range(3):
        s, i = chr(ord("a") + i % 26) + s, i // 26
    return "w" + s
words = [word(i) for i in range(1200)]
with open(os.path.join(tmp, "vocab.txt"), "w") as f:
    f.write("\n".join(words) + "\n")

# Stand-in encoder: word i of the vocabulary at angle 0.001 * i, so word i's distance from word 0 grows with i:
# word 1 is the nearest (rank 1000), word 1000 the 1000th nearest (rank 1), word 1001 is cold.
def fake_embed(sentences):
    out = []
    for s in sentences:
        assert s.startswith("What is a ") and s.endswith("?"), s
        theta = 0.001 * words.index(s[len("What is a "):-1])
        out.append([np.cos(theta), np.sin(theta)])
    return np.array(out, dtype=np.float32)

failures = []
def check(cond, what):
    if not cond:
        failures.append(what)

for text, want in [("  **Sea**, because", "sea"), ("'tide'", "tide"), ("1. ice-cream", "ice-cream"),
                   ("123", None), ("", None), ("Ocean.\nmore", "ocean")]:
    check(mod.parse_word(text) == want, f"parse_word({text!r}) = {mod.parse_word(text)!r}, want {want!r}")

o = mod.Oracle(words[0], os.path.join(tmp, "vocab.txt"), "What is a {word}?", fake_embed)
for cand, want in [(words[0], (1.0, True, "found")), (words[1].upper(), (None, True, "rank 1000/1000")),
                   (words[2], (None, True, "rank 999/1000")), (words[1000], (None, True, "rank 1/1000")),
                   (words[1001], (None, True, "cold")), ("zzz", (0.0, False, "unknown word 'zzz'")),
                   ("42", (0.0, False, "no word"))]:
    got = o.score(cand)
    check(got[1:] == want[1:] and (want[0] is None or got[0] == want[0]), f"score({cand!r}) = {got}, want {want}")
check(abs(o.score(words[1])[0] - np.cos(0.001)) < 1e-6, f"reward of {words[1]}: {o.score(words[1])[0]}")
check(o.score(words[1])[0] > o.score(words[2])[0] > o.score(words[1001])[0], "rewards must fall with distance")

# The protocol loop: one reply per request, ids kept, blank lines ignored.
mod.load_encoder = lambda: fake_embed
sys.argv = ["oracle", "--target", words[0], "--vocab", os.path.join(tmp, "vocab.txt")]
sys.stdin = io.StringIO('{"id": 7, "candidate": "%s"}\n\n{"id": 9, "candidate": "no"}\n' % words[2])
out, sys.stdout = sys.stdout, io.StringIO()
mod.main()
replies, sys.stdout = [json.loads(l) for l in sys.stdout.getvalue().splitlines()], out
check([r["id"] for r in replies] == [7, 9], f"reply ids {[r['id'] for r in replies]}")
check(replies[0]["info"] == "rank 999/1000" and replies[1]["valid"] is False, f"replies {replies}")
if failures:
    print("FAIL:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("ok: parser, ranks, rewards and the protocol loop with a stand-in encoder")
EOF

# With the real encoder, where some python3 has it: a two-iteration search through the oracle pool.
for cand in python3 /usr/bin/python3; do
  if command -v "$cand" >/dev/null && "$cand" -c "import wordllama" 2>/dev/null; then
    "$BUILD/migrate" run jobs/semantle-sentence-oracle.yaml --quiet --set iterations=2 --set threads=1 \
      --set output_dir="$tmp/run" --set task.command="$(command -v "$cand") tasks/examples/semantle_sentence_oracle.py --target {target}"
    grep -q '"iterations": 2,' "$tmp/run/summary.json" && grep -q '"best_info": "\(rank [0-9]*/1000\|cold\|found\)"' \
      "$tmp/run/summary.json" || { echo "FAIL: the search's summary"; cat "$tmp/run/summary.json"; exit 1; }
    echo "ok: a search with the real encoder ($cand)"
    exit 0
  fi
done
echo "note: no python3 with wordllama here; the search with the real encoder was not run"
