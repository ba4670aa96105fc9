#!/usr/bin/env bash
# migrate inspect-model (model/model_report.c): the report of the two fixture models and the bundled demo model
# has its sections; a key the engine does not read is listed as NOT READ, a bookkeeping key as ignored; a sliding
# window is reported; a value the engine does not implement (hidden_act gelu) fails with the run's
# one-line error naming the key; bad usage exits 2. --memory prints the engine-memory table of a shape.
set -uo pipefail
BUILD=${1:?build dir}
M="$BUILD/migrate"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
source "$(dirname "$0")/../checks.sh"

for dir in tests/parity/fixtures/llama3-tiny tests/parity/fixtures/qwen2-tiny data/models/semantle-tiny; do
    out=$("$M" inspect-model "$dir" 2>&1)
    check "$dir: exit 0" [ $? -eq 0 ]
    for want in "architecture: " "attention: " "weights: " "tokenizer: byte-level BPE" "chat format: " \
                "config.json keys read:" "  hidden_size "; do
        check "$dir: '$want'" grep -qF -- "$want" <<<"$out"
    done
done

# The KV cache per token of llama3-tiny (2 layers, 2 KV heads, head dim 16): 2 x 2 x 2 x 16 values of k and v.
out=$("$M" inspect-model tests/parity/fixtures/llama3-tiny 2>&1)
check "llama3-tiny: KV cache per token" grep -qF "KV cache per token: 512 B fp32, 256 B bf16" <<<"$out"

# A Llama-2-style tokenizer (SentencePiece layout, byte fallback) beside the fixture's weights: named as such.
cp -r tests/parity/fixtures/llama3-tiny "$TMP/sp"
cp tests/parity/fixtures/tokenizers/llama2-sp/tokenizer*.json "$TMP/sp/"
out=$("$M" inspect-model "$TMP/sp" 2>&1)
check "a SentencePiece tokenizer is named so" grep -qF "tokenizer: SentencePiece-style BPE (Prepend/Replace normalizer, byte fallback)" <<<"$out"

# set_key DIR KEY JSON-VALUE: adds one key at the top of DIR/config.json
set_key() { sed -i "0,/^{/s//{\n  \"$2\": $3,/" "$1/config.json"; }

cp -r tests/parity/fixtures/llama3-tiny "$TMP/m"
set_key "$TMP/m" frobnicate_heads 3
set_key "$TMP/m" _name_or_path '"x"'
out=$("$M" inspect-model "$TMP/m" 2>&1)
check "an unknown key is listed under NOT READ" \
    awk '/NOT READ/ {on = 1} on && /frobnicate_heads/ {f = 1} END {exit !f}' <<<"$out"
check "_name_or_path is listed under ignored" \
    awk '/keys ignored/ {on = 1} /NOT READ/ {on = 0} on && /_name_or_path/ {f = 1} END {exit !f}' <<<"$out"

cp -r tests/parity/fixtures/llama3-tiny "$TMP/w"
sed -i 's/"model_type": "llama"/"model_type": "mistral"/; s/LlamaForCausalLM/MistralForCausalLM/' "$TMP/w/config.json"
set_key "$TMP/w" sliding_window 16
out=$("$M" inspect-model "$TMP/w" 2>&1)
check "a sliding window is reported" grep -qF "sliding window 16 on every layer" <<<"$out"

sed -i 's/"hidden_act": "silu"/"hidden_act": "gelu"/' "$TMP/m/config.json"
expect "gelu is refused by key" 1 "inspect-model: .*config.json: key 'hidden_act' is 'gelu'" -- "$M" inspect-model "$TMP/m"
"$M" inspect-model >/dev/null 2>&1
check "no folder: exit 2" [ $? -eq 2 ]
# --memory: the table from config.json alone (its sums are checked against the engine's allocations in
# test_engine_phases); the shared prompt shrinks the largest step and the shard; bad shapes and options exit 2.
out=$("$M" inspect-model tests/parity/fixtures/llama3-tiny --memory 4x40+8 --lora-r 8 2>&1)
check "--memory: exit 0" [ $? -eq 0 ]
for want in "Engine memory for 4 samples x (40 prompt + 8 completion tokens), bf16 weights, LoRA r 8 on q_proj"             "(160 tokens)" "(40 tokens)" "(192 tokens)" "(75 tokens)" "peak (resident + larger phase)"; do
    check "--memory: '$want'" grep -qF -- "$want" <<<"$out"
done
expect "--memory shape checked" 2 "inspect-model: --memory wants SAMPLESxPROMPT\\+COMPLETION" -- \
    "$M" inspect-model tests/parity/fixtures/llama3-tiny --memory 16x4096
expect "--lora-targets checked" 2 "inspect-model: .*'q_proj,foo'" -- \
    "$M" inspect-model tests/parity/fixtures/llama3-tiny --memory 2x8+4 --lora-targets q_proj,foo
expect "--members-per-shard checked" 2 "inspect-model: --members-per-shard wants a positive integer" -- \
    "$M" inspect-model tests/parity/fixtures/llama3-tiny --memory 2x8+4 --members-per-shard 0
check "--help explains the three headings" bash -c "'$M' inspect-model --help | grep -qF 'NOT READ'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
