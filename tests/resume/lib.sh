# Shared by the resume tests (sourced with the build folder as $1): the build's migrate, a scratch folder removed
# at exit (with any run left in it), ok/fail counting, and the small demo search they run: a rank-8 adapter and 8
# samples per iteration, checkpointed every iteration, quick under ASan too. "State" = `migrate inspect --digest`
# (archive, adapter, AdamW moments, counters) plus metrics.jsonl without timings.
BUILD=${1:?build dir}
M="$BUILD/migrate"
T=$(mktemp -d)
trap 'pkill -9 -f "$T/" 2>/dev/null; rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
SMALL=(jobs/semantle-demo.yaml --quiet --set save_steps=1 --set sampling.max_completion_length=8 --set threads=2
       --set lora.r=8 --set search.num_on_policy=4 --set search.num_neighborhood=2 --set search.num_greedy=2)
metrics_of() { sed -E 's/,"tokens_per_second".*$//' "$1/metrics.jsonl"; }
digest_of() { "$M" inspect --digest "$1/checkpoint.h5" 2>&1; }
