#!/usr/bin/env bash
# Installs the Debian dependencies, builds migrate and runs the default job: MiGrATe on a Semantle puzzle with the
# bundled 4M-parameter model (data/models/semantle-tiny, pretrained by `migrate pretrain` on WordNet-derived text) and
# the bundled GloVe-derived word vectors as the oracle. A few minutes on a 2-core CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja >/dev/null
cmake --build build/release -j"$(nproc)"
# --overwrite: running the demo again starts it afresh in runs/semantle-demo instead of refusing the folder that
# the last demo left its checkpoint in (without it, migrate keeps a finished run's checkpoint).
./build/release/migrate run jobs/semantle-demo.yaml --overwrite "$@"
