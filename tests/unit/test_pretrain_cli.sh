#!/usr/bin/env bash
# `migrate pretrain` with init_from: training starts from a saved model's weights (its validation loss, not that of a
# random init), and a model of another shape is refused in one line before any training.
set -uo pipefail
M="${1:?build dir}/migrate"
source tests/shell_lib.sh
head -n 300 data/pretrain/valid.jsonl > "$T/docs.jsonl"
P=(pretrain jobs/pretrain-semantle-tiny.yaml --set corpus="$T/docs.jsonl" --set valid="$T/docs.jsonl" --set threads=1
   --set save_dtype=f32 --set training.batch_tokens=512)
valid_loss() { sed -n 's/.*valid loss \([0-9.]*\).*/\1/p' "$1" | tail -n 1; }

"$M" "${P[@]}" --set output_dir="$T/a" --set training.steps=6 --set training.warmup_steps=2 --set training.eval_every=6 \
    >"$T/a.out" 2>&1 || { bad "the first training"; cat "$T/a.out"; }
# One step of size ~0 from the saved weights, and from a random init: the first must see the saved model's loss.
TINY=(--set training.steps=1 --set training.warmup_steps=0 --set training.learning_rate=1e-12
      --set training.min_learning_rate=0 --set training.eval_every=1)
"$M" "${P[@]}" "${TINY[@]}" --set init_from="$T/a" --set output_dir="$T/b" >"$T/b.out" 2>&1 ||
    { bad "training from init_from"; cat "$T/b.out"; }
"$M" "${P[@]}" "${TINY[@]}" --set output_dir="$T/c" >"$T/c.out" 2>&1 || { bad "training from scratch"; cat "$T/c.out"; }
a=$(valid_loss "$T/a.out") b=$(valid_loss "$T/b.out") c=$(valid_loss "$T/c.out")
if grep -q "parameters from $T/a," "$T/b.out" && awk -v a="$a" -v b="$b" -v c="$c" \
    'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d < 1e-3 && c - b > 1) }'; then
    ok "init_from continues from the saved weights: valid loss $b (saved model $a; random init $c)"
else bad "init_from: valid loss $b, saved model $a, random init $c"; cat "$T/b.out"; fi

# another shape: one line naming both files, exit 1, nothing written
refused 1 "init_from data/models/semantle-words: .*not the shape of model_config" \
    "$M" "${P[@]}" --set init_from=data/models/semantle-words --set output_dir="$T/d"
[ ! -e "$T/d/model.safetensors" ] && ok "another shape writes no model" || bad "another shape: a model was written"
refused 1 "nowhere" "$M" "${P[@]}" --set init_from="$T/nowhere" --set output_dir="$T/e"
[ $fails = 0 ] || exit 1
