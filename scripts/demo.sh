#!/usr/bin/env bash
# Installs the Debian dependencies, builds migrate and runs the default job on the bundled model.
# Today the bundled model is the tiny Llama-3-architecture test model (random weights, so its text is noise):
# the run shows the engine end to end (load HF folder, chat template, batched sampling). The Semantle search
# demo with a pretrained bundled model replaces this once the search loop lands.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja >/dev/null
cmake --build build/release -j"$(nproc)"
./build/release/migrate version
./build/release/migrate generate --model tests/parity/fixtures/llama3-tiny --chat \
    --prompt "Name a word close to 'ocean'." -n 4 --temperature 1.0 --top-p 0.95 --max-new-tokens 24 --seed 1
