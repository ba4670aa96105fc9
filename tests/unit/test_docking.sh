#!/usr/bin/env bash
# End to end: the docking oracle (tasks/examples/docking_oracle.py) docks real molecules with AutoDock Vina, and
# migrate runs a search with it. Skipped (exit 77) when Vina, Open Babel or RDKit's Python is missing, unless
# MIGRATE_REQUIRE_DOCKING=1 (CI), where that is a failure. Low exhaustiveness and a small box keep it to seconds.
set -euo pipefail
BUILD=${1:?usage: test_docking.sh BUILD_DIR}
missing=""
command -v vina >/dev/null || missing+=" autodock-vina"
command -v obabel >/dev/null || missing+=" openbabel"
# The python3 first on PATH may be a user's own interpreter without RDKit (pyenv, conda, a venv): the checks below
# use whichever interpreter has it, and the oracle itself is run as `python3 ...`, as jobs/docking-example.yaml
# runs it, to prove that it finds Debian's RDKit from any python3.
PY=""
for cand in python3 /usr/bin/python3; do
  if command -v "$cand" >/dev/null && "$cand" -c "import rdkit" 2>/dev/null; then PY=$(command -v "$cand"); break; fi
done
[ -n "$PY" ] || missing+=" python3-rdkit"
if [ -n "$missing" ]; then
  if [ "${MIGRATE_REQUIRE_DOCKING:-0}" = 1 ]; then
    echo "FAIL: MIGRATE_REQUIRE_DOCKING=1 but not installed:$missing (scripts/install-deps.sh)"; exit 1
  fi
  echo "SKIP: the docking test needs$missing (scripts/install-deps.sh installs them)"; exit 77
fi
tmp=$(mktemp -d /tmp/test_docking.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# Put a python3 with no packages at all first on PATH (a venv without pip), as many users have one: the example's
# `python3 tasks/examples/docking_oracle.py` must still find RDKit.
if /usr/bin/python3 -m venv --without-pip "$tmp/barepy" 2>/dev/null; then
  export PATH="$tmp/barepy/bin:$PATH"
  if python3 -c "import rdkit" 2>/dev/null; then echo "FAIL: the bare venv's python3 imports rdkit"; exit 1; fi
  echo "python3 on PATH for the oracle: $(command -v python3) (no RDKit)"
fi
oracle="python3 tasks/examples/docking_oracle.py --receptor tasks/examples/docking/receptor.pdbqt.gz
        --center 11 90.5 57.5 --size 14 14 14 --exhaustiveness 1 --cpu 1"

# 1. The protocol: two molecules dock, words and broken SMILES are invalid, each reply is the recipe of its own
#    Vina affinity and QED.
printf '%s\n' '{"id": 1, "candidate": "c1ccccc1O"}' '{"id": 2, "candidate": "a molecule"}' \
  '{"id": 3, "candidate": "C1CC"}' '{"id": 4, "candidate": "CC(=O)Nc1ccc(O)cc1 is paracetamol"}' \
  | $oracle > "$tmp/replies.jsonl"
"$PY" - "$tmp/replies.jsonl" <<'PY'
import json, re, sys
from rdkit import Chem
from rdkit.Chem import QED
r = {x["id"]: x for x in map(json.loads, open(sys.argv[1]))}
assert sorted(r) == [1, 2, 3, 4], r
assert not r[2]["valid"] and r[2]["reward"] == 0.0 and "no valid SMILES" in r[2]["info"], r[2]
assert not r[3]["valid"] and r[3]["reward"] == 0.0, r[3]
for i, smi in ((1, "c1ccccc1O"), (4, "CC(=O)Nc1ccc(O)cc1")):
    x = r[i]
    assert x["valid"], x
    m = re.match(r"vina (-?[0-9.]+) kcal/mol, QED ([0-9.]+), (\S+)$", x["info"])
    assert m, x
    vina, qed = float(m.group(1)), QED.qed(Chem.MolFromSmiles(smi))
    assert -12 < vina < -1, x                       # small ligands bind weakly, but they bind
    assert abs(float(m.group(2)) - qed) < 1e-3, (x, qed)
    want = min(1.0, max(0.0, 1 - ((vina + (1 - qed) + 12) / 10)))
    assert abs(x["reward"] - want) < 2e-3, (x, want)  # info rounds vina to 0.01
    assert m.group(3) == Chem.MolToSmiles(Chem.MolFromSmiles(smi)), x
print("docking oracle: protocol and recipe ok:", r[1]["info"], "|", r[4]["info"])
PY

# 2. migrate runs a search with it: one iteration of one sample, no training (the bundled SMILES prior when present).
model=data/models/smiles-tiny
[ -f "$model/model.safetensors" ] || model=data/models/semantle-tiny
"$BUILD/migrate" run jobs/docking-example.yaml --set model=$model --set iterations=1 --set output_dir="$tmp/run" \
  --set strategy=random --set search.num_on_policy=1 --set search.num_neighborhood=0 --set search.num_greedy=0 \
  --set task.workers=1 --set task.timeout=300 --set "task.command=$(echo $oracle)" --set threads=1 > "$tmp/run.log" 2>&1 \
  || { cat "$tmp/run.log"; echo "FAIL: migrate run with the docking oracle"; exit 1; }
"$PY" - "$tmp/run/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["iterations"] == 1, s
assert 0.0 <= s["best_reward"] <= 1.0, s
print("migrate run with the docking oracle: %d oracle calls, best %r = %.3f (%s)"
      % (s["oracle_calls"], s["best"], s["best_reward"], s["best_info"]))
PY
echo "test_docking: ok"
