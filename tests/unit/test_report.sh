#!/usr/bin/env bash
# `migrate report` end to end: pages from a Semantle run and its checkpoint, a small ablation with a sweep, an ARC
# run and a PMO grid, each opened in headless Chromium (tests/unit/report_check.py: every section present, every
# figure an SVG with a data line, each figure's screenshot not blank and in colour). Bad input: an empty folder, a
# metrics.jsonl cut mid-line, two tasks in one call, a checkpoint of an older format, a missing path and no gnuplot
# each give a page with the problem named on it, and the checker fails on a page whose figure is missing or blank.
# The browser part needs chromium (scripts/install-deps.sh); without it the test skips (exit 77) after the rest,
# unless MIGRATE_REQUIRE_BROWSER=1 (CI), where that is a failure. Under the sanitizers the runs are smaller and the
# ARC and PMO inputs and the browser are left out (the page writer is what the sanitizers check here).
# Usage: test_report.sh BUILD_DIR   (run from the repository root)
set -u
M="$1/migrate"
source tests/shell_lib.sh
ASAN=${ASAN_OPTIONS:+1}
has() { grep -q -- "$2" "$1"; }
figures() { grep -o 'id="fig-[a-z]*-[0-9]*"' "$1" | wc -l; }

# ---- inputs ----
Q=(--set threads=1 --quiet)
"$M" run jobs/semantle-demo.yaml --set iterations=4 --set output_dir="$T/run" "${Q[@]}" >/dev/null 2>"$T/run.err" ||
    bad "semantle run: $(tail -2 "$T/run.err")"
"$M" ablate jobs/semantle-demo.yaml --strategies random,migrate --seeds 0,1 --set iterations=3 \
    --set output_dir="$T/abl" --set threads=1 >/dev/null 2>"$T/abl.err" || bad "ablate: $(tail -2 "$T/abl.err")"
{ cat jobs/semantle-demo.yaml; printf 'sweep:\n  grid:\n    strategy: [random, grpo]\n'; } >"$T/sweep.yaml"
"$M" run "$T/sweep.yaml" --set iterations=2 --set output_dir="$T/sw" "${Q[@]}" >/dev/null 2>"$T/sw.err" ||
    bad "sweep: $(tail -2 "$T/sw.err")"
if [ -z "$ASAN" ]; then
    "$M" run jobs/arc-demo.yaml --set iterations=2 --set output_dir="$T/arc" "${Q[@]}" >/dev/null 2>"$T/arc.err" ||
        bad "arc run: $(tail -2 "$T/arc.err")"
    "$M" pmo jobs/molecule-qed.yaml --tasks qed --strategies random,migrate --seeds 0,1 --budget 200 \
        --set output_dir="$T/pmo" --set threads=1 >/dev/null 2>"$T/pmo.err" || bad "pmo: $(tail -2 "$T/pmo.err")"
fi

# ---- pages ----
page() {  # NAME PATH... : writes $T/NAME.html, its stderr in $T/NAME.err
    local name=$1
    shift
    "$M" report "$@" --out "$T/$name.html" 2>"$T/$name.err"
}
page run "$T/run" "$T/run/checkpoint.h5" && [ "$(figures "$T/run.html")" -ge 8 ] && has "$T/run.html" 'id="semantle"' &&
    has "$T/run.html" 'Nothing: every input was read' && ok "run + checkpoint: $(figures "$T/run.html") figures, no notes" ||
    bad "run page: $(cat "$T/run.err")"
[ "$(grep -c 'class="t">migrate</td>' "$T/run.html")" -ge 2 ] && ok "the run and its checkpoint are two rows of group migrate" ||
    bad "run rows: $(grep -c 'class="t">migrate</td>' "$T/run.html")"
page ablsw "$T/abl" "$T/sw" && has "$T/ablsw.html" 'random (3 runs)' && has "$T/ablsw.html" 'grpo (1 run)' &&
    ok "ablation + sweep: random pooled over the ablation's 2 seeds and the sweep's run, the sweep's grpo run beside them" ||
    bad "ablation + sweep page: $(cat "$T/ablsw.err") $(grep -o '<title>[a-z-]* ([0-9]* runs*)</title>' "$T/ablsw.html" | sort -u)"
if [ -z "$ASAN" ]; then
    page arc "$T/arc" && has "$T/arc.html" 'id="arc"' && [ "$(grep -o 'class="g"' "$T/arc.html" | wc -l)" -ge 10 ] &&
        ok "ARC: $(grep -o 'class="g"' "$T/arc.html" | wc -l) grids drawn" || bad "ARC page: $(cat "$T/arc.err")"
    page pmo "$T/pmo" && has "$T/pmo.html" 'REINVENT published AUC' && has "$T/pmo.html" '<td class="t">qed</td>' &&
        ok "PMO: the top-10 curves beside the published AUCs" || bad "PMO page: $(cat "$T/pmo.err")"
fi

# ---- --watch: follows a live run to its end ----
"$M" run jobs/semantle-demo.yaml --set iterations=6 --set output_dir="$T/live" "${Q[@]}" >/dev/null 2>&1 &
live=$!
for _ in $(seq 600); do [ -s "$T/live/metrics.jsonl" ] && break; sleep 0.1; done
timeout 300 "$M" report "$T/live" --watch 1 --out "$T/live.html" 2>"$T/live.err"
rc=$?
wait $live
renders=$(grep -c '^migrate report: wrote' "$T/live.err")
[ $rc = 0 ] && [ "$renders" -ge 2 ] && ! has "$T/live.html" 'http-equiv="refresh"' &&
    grep -q '<td>no</td>' "$T/live.html" && has "$T/live.html" 'id="fig-best-1"' &&
    ok "--watch: $renders renders while the run went, then a final page without the reload tag" ||
    bad "--watch: exit $rc, $renders renders: $(tail -2 "$T/live.err")"

# ---- bad input ----
mkdir "$T/empty"
page empty "$T/empty" && has "$T/empty.html" 'an empty folder' && has "$T/empty.err" 'an empty folder' &&
    ok "empty folder: named on the page and on stderr" || bad "empty folder: $(cat "$T/empty.err")"
cp -r "$T/run" "$T/cut" && rm -f "$T/cut/summary.json" && head -c -40 "$T/run/metrics.jsonl" >"$T/cut/metrics.jsonl"
page cut "$T/cut" && has "$T/cut.html" 'line 4: not a JSON object (a truncated last line' &&
    has "$T/cut.html" 'id="fig-best-1"' && has "$T/cut.html" '>running</td>' &&
    ok "cut metrics.jsonl: the last line dropped and named, the 3 before it drawn, the run shown as running" ||
    bad "cut metrics: $(cat "$T/cut.err")"
if [ -z "$ASAN" ]; then
    page mixed "$T/run" "$T/arc" && has "$T/mixed.html" 'runs of different tasks in one report' &&
        has "$T/mixed.html" 'oracle calls (semantle ocean)' && has "$T/mixed.html" 'oracle calls (arc 3c9b0459)' &&
        ok "two tasks in one call: each its own figure, and the page says why" || bad "mixed: $(cat "$T/mixed.err")"
fi
page old tests/unit/fixtures/checkpoint-format1.h5 && has "$T/old.html" 'checkpoint format version 1' &&
    ok "an older checkpoint format: $(head -1 "$T/old.err" | cut -c1-110)..." || bad "old checkpoint: $(cat "$T/old.err")"
page gone "$T/no-such-run" && has "$T/gone.html" 'cannot read it' && ok "a missing path is named" ||
    bad "missing path: $(cat "$T/gone.err")"
"$M" report --bogus >/dev/null 2>"$T/opt.err"
[ $? = 2 ] && has "$T/opt.err" "unknown option '--bogus'" && ok "a bad option: exit 2, one line" ||
    bad "bad option: $(cat "$T/opt.err")"
MIGRATE_GNUPLOT=/nonexistent/gnuplot page nognuplot "$T/run" && has "$T/nognuplot.html" 'class="plot missing"' &&
    has "$T/nognuplot.html" "gnuplot not found" && has "$T/nognuplot.html" 'class="t">migrate</td>' &&
    ok "no gnuplot: the page is written, each figure named as not drawn, the tables kept" ||
    bad "no gnuplot: $(head -3 "$T/nognuplot.err")"

# ---- in the browser ----
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$ASAN" ]; then
    echo "browser checks skipped under the sanitizers"
elif [ -z "$CHROMIUM" ]; then
    if [ "${MIGRATE_REQUIRE_BROWSER:-0}" = 1 ]; then bad "MIGRATE_REQUIRE_BROWSER=1 but chromium is not installed"
    else echo "skipped: chromium not installed (scripts/install-deps.sh)"; [ $fails = 0 ] && exit 77; fi
else
    check() { python3 tests/unit/report_check.py --chromium "$CHROMIUM" "$@"; }
    check "$T/run.html" --sections summary,best-so-far,origins,training,semantle,notes --min-figures 8 || bad "run page"
    check "$T/ablsw.html" --sections summary,best-so-far,origins,training,semantle,notes --min-figures 5 || bad "ablation page"
    check "$T/arc.html" --sections summary,best-so-far,origins,training,arc,notes --min-figures 5 || bad "ARC page"
    check "$T/pmo.html" --sections summary,best-so-far,pmo,notes --min-figures 1 || bad "PMO page"
    # the checker must fail a page whose figures are missing, or drawn but invisible
    check "$T/nognuplot.html" --min-figures 1 >"$T/neg1.out" && bad "the checker passed a page with no figures drawn" ||
        ok "checker fails a page without figures: $(head -1 "$T/neg1.out" | cut -c1-100)"
    sed 's#</style>#figure.plot svg{visibility:hidden}</style>#' "$T/pmo.html" >"$T/hidden.html"
    check "$T/hidden.html" --sections summary >"$T/neg2.out" && bad "the checker passed a page whose figure is blank" ||
        ok "checker fails a blank figure: $(grep -m1 blank "$T/neg2.out" | cut -c1-110)"
fi
exit $((fails > 0))
