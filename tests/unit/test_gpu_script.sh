#!/usr/bin/env bash
# tests/gpu/run.sh's own logic, on a machine without a GPU: syntax (bash -n, shellcheck where installed), the
# dry run's stage list, a run whose stages fail, hang past their timeout or run out of the deadline (faked), with
# the real parity program where the build has it (it must report "no CUDA device" as a skip), and the summary table
# from bench_cuda's own output (the emulated build, --tiny) beside a PyTorch file at half its speed.
set -uo pipefail
build=${1:?usage: test_gpu_script.sh BUILD_DIR}
cd "$(dirname "$0")/../.." || exit 1
passed=0 failed=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $what"; fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check "bash -n run.sh" bash -n tests/gpu/run.sh
check "bash -n pack.sh" bash -n tests/gpu/pack.sh
if command -v shellcheck >/dev/null; then
  check "shellcheck" shellcheck tests/gpu/run.sh tests/gpu/pack.sh tests/unit/test_gpu_script.sh
fi

# The dry run lists every stage in order, with its timeout, and runs nothing.
had_build=$(test -e build/gpu-run && echo yes || echo no)
tests/gpu/run.sh --dry-run >"$tmp/dry.txt" 2>&1
check "dry run exits 0" test $? -eq 0
check "dry run builds nothing" test "$(test -e build/gpu-run && echo yes || echo no)" = "$had_build"
order=$(awk '$1 == "stage" { printf "%s ", $2 }' "$tmp/dry.txt")
check "dry run stage order (got: $order)" \
  test "$order" = "env prepare parity bench torch nccl memcheck search graphs arc big "
check "dry run prints the summary last" grep -q "^==================== summary" "$tmp/dry.txt"

# A faked run: bench fails, torch hangs past its timeout, the deadline then skips the rest but big, which runs after
# the deadline on its own time (and fails here); parity is real.
t0=$SECONDS
tests/gpu/run.sh --out "$tmp/run" --deadline 14 --build "$build" \
  --fake env=ok,prepare=ok,bench=fail,torch=hang,nccl=ok,memcheck=ok,graphs=ok,big=fail >"$tmp/run.txt" 2>&1
rc=$? elapsed=$((SECONDS - t0))
status() { awk -F'\t' -v s="$1" '$1 == s { print $2 }' "$tmp/run/stages.tsv"; }
check "faked run exits 0 (rc $rc)" test "$rc" -eq 0
check "faked run stays within its deadline (${elapsed}s)" test "$elapsed" -le 20
check "env ok" test "$(status env)" = ok
check "bench failure recorded" test "$(status bench)" = "FAILED (exit 1)"
check "torch hang recorded as a timeout ($(status torch))" grep -q "^torch	TIMEOUT after" "$tmp/run/stages.tsv"
check "nccl skipped at the deadline ($(status nccl))" test "$(status nccl)" = "skipped (deadline)"
check "big runs after the deadline ($(status big))" test "$(status big)" = "FAILED (exit 1)"
# The arc stage: a failure and a hang are recorded; with less than its 120 s minimum left it is skipped.
tests/gpu/run.sh --out "$tmp/arc" --deadline 140 --big 0 --only arc --fake arc=fail >"$tmp/arc.txt" 2>&1
check "arc failure recorded ($(awk -F'\t' '$1 == "arc" { print $2 }' "$tmp/arc/stages.tsv"))" \
  test "$(awk -F'\t' '$1 == "arc" { print $2 }' "$tmp/arc/stages.tsv")" = "FAILED (exit 1)"
tests/gpu/run.sh --out "$tmp/arcok" --deadline 140 --big 0 --only arc --fake arc=ok >"$tmp/arcok.txt" 2>&1
check "arc ok recorded" test "$(awk -F'\t' '$1 == "arc" { print $2 }' "$tmp/arcok/stages.tsv")" = ok
check "arc skipped at the deadline ($(status arc))" test "$(status arc)" = "skipped (deadline)"
tests/gpu/run.sh --out "$tmp/nobig" --deadline 5 --big 0 --fake env=ok,prepare=ok >"$tmp/nobig.txt" 2>&1
check "--big 0 leaves the big stage out" test "$(awk -F'\t' '$1 == "big"' "$tmp/nobig/stages.tsv")" = ""
if [ -x "$build/tests/test_cuda_parity" ]; then
  check "the real parity program skips without a GPU ($(status parity))" test "$(status parity)" = "skipped (no GPU)"
  check "parity printed 'no CUDA device'" grep -q "^no CUDA device" "$tmp/run.txt"
fi
check "run.log holds the output" grep -q "==== bench" "$tmp/run/run.log"
check "summary is the last section" test "$(grep -n '^====' "$tmp/run.txt" | tail -1 | cut -d: -f2)" = \
  "==================== summary ===================="

# The table, from the benchmark program's real output (emulated kernels, tiny shapes) and a PyTorch file at half
# its speed: every row must show a speedup of 2.00x.
if [ -x "$build/bench_cuda_emu" ]; then
  mkdir -p "$tmp/table"
  "$build/bench_cuda_emu" --tiny --tsv "$tmp/table/bench_cuda.tsv" >"$tmp/bench.txt" 2>&1
  check "bench_cuda_emu --tiny runs" test $? -eq 0
  rows=$(grep -vc '^#' "$tmp/table/bench_cuda.tsv")
  check "bench_cuda_emu wrote 6 rows (got $rows)" test "$rows" -eq 6  # 2 models x (2 decode batches + grpo)
  awk -F'\t' 'BEGIN { OFS = "\t" } /^#/ { next } { $6 = $6 / 2; print }' "$tmp/table/bench_cuda.tsv" \
    >"$tmp/table/bench_torch.tsv"
  printf 'parity\tok\t3\n' >"$tmp/table/stages.tsv"
  tests/gpu/run.sh --table-only "$tmp/table" >"$tmp/table.txt"
  n2=$(grep -c ' 2.00x ' "$tmp/table.txt")
  check "table: 6 rows at 2.00x (got $n2)" test "$n2" -eq 6
  check "table: stage line" grep -q "parity *ok" "$tmp/table.txt"
  check "table: grpo row" grep -q "qwen *grpo_step" "$tmp/table.txt"
  # The ARC table from bench_cuda_emu --arc (mini shape) and a PyTorch file at twice its shared times: PyTorch /
  # shared is 2.00x (the decode step is left out: in emulation it may fall below the prefill's noise).
  "$build/bench_cuda_emu" --arc --tiny --tsv "$tmp/table/bench_arc.tsv" >"$tmp/arc_bench.txt" 2>&1
  check "bench_cuda_emu --arc --tiny runs" test $? -eq 0
  rows=$(grep -vc '^#' "$tmp/table/bench_arc.tsv")
  check "bench_cuda_emu --arc wrote 6 rows (got $rows)" test "$rows" -eq 6
  awk -F'\t' 'BEGIN { OFS = "\t" } /^#/ { print; next }
    $2 ~ /_shared$/ { $2 = $2; sub(/_shared$/, "_pytorch", $2); $5 = 2 * $5; $7 = 2 * $7; print }' \
    "$tmp/table/bench_arc.tsv" >"$tmp/table/bench_arc_torch.tsv"
  tests/gpu/run.sh --table-only "$tmp/table" >"$tmp/table.txt"
  check "ARC table: prefill and update at 2.00x" \
    test "$(grep -cE '^  (prefill s|update s) .* 2[.]00x ' "$tmp/table.txt")" -eq 2
  check "ARC table: the update's shards" grep -q "update shared: *members_per_shard 4" "$tmp/table.txt"
fi
echo "test_gpu_script: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
