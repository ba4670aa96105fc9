#!/usr/bin/env bash
# The README's report screenshot (docs/img/report-demo.png): the demo run (as scripts/demo.sh runs it, without the
# install and build), its page by `migrate report`, and the top of that page in headless Chromium.
#   scripts/report_screenshot.sh [BUILD_DIR]     (default build/release; run from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build/release}
"$B/migrate" run jobs/semantle-demo.yaml --overwrite --quiet
"$B/migrate" report runs/semantle-demo --out runs/semantle-demo/report.html --title "migrate report: the Semantle demo"
P=$(mktemp -d)
trap 'rm -rf "$P"' EXIT
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$P" --window-size=1000,1250 \
    --force-device-scale-factor=0.8 --screenshot=docs/img/report-demo.png \
    "file://$PWD/runs/semantle-demo/report.html" 2>/dev/null
ls -l docs/img/report-demo.png
