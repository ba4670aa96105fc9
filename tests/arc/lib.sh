# Sourced by the ARC shell tests (not a test: no test_ prefix). arc_tiny_config prints the run config they share:
# the tiny fixture model (its 256-token context holds tasks of 2 x 2 grids), grid-language programs, digits, a
# group of 2 on-policy + 1 greedy + 1 neighborhood, 12-token completions, LoRA r 4.
#   arc_tiny_config MODEL_DIR OUTPUT_DIR TASK_FILE SEED ITERATIONS > run.yaml
arc_tiny_config() {
    cat <<EOF2
model: $1
seed: $4
strategy: migrate
iterations: $5
output_dir: $2
threads: 1
task:
  type: arc
  arc:
    file: $3
    executor: dsl
    format: digits
search:
  num_on_policy: 2
  num_greedy: 1
  num_neighborhood: 1
sampling:
  max_completion_length: 12
lora:
  r: 4
  alpha: 8
EOF2
}

# mpirun as root with oversubscription; under ASan, Open MPI's plugins stay loaded so tests/lsan.supp knows its
# leaks (as tests/mpi/mpi_env.sh).
arc_mpi_env() {
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
    export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_btl=self,vader
    if [ -n "${ASAN_OPTIONS:-}" ]; then
        export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0" OMPI_MCA_mca_base_component_disable_dlclose=1
    fi
}

fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

# kill9_until_done DIR CONFIG [--set ...]: runs `migrate run CONFIG` into DIR (resuming DIR/checkpoint.h5 once there
# is one), kills it with kill -9 as soon as a new checkpoint appears, and starts again, until a run completes.
# Needs M. Sets kills and finished (1 when the last run completed with status 0).
kill9_until_done() {
    local d=$1 config=$2 pid before
    shift 2
    kills=0 finished=0
    for _ in $(seq 1 20); do
        local resume=()
        [ -f "$d/checkpoint.h5" ] && resume=(--resume "$d/checkpoint.h5")
        "$M" run "$config" "${resume[@]}" --set output_dir="$d" "$@" --quiet >"$d.log" 2>&1 &
        pid=$!
        before=$(stat -c %Y.%s "$d/checkpoint.h5" 2>/dev/null || echo none)
        for _ in $(seq 1 1000); do  # until a new checkpoint is there (or the run ended)
            [ "$(stat -c %Y.%s "$d/checkpoint.h5" 2>/dev/null || echo none)" != "$before" ] && break
            kill -0 $pid 2>/dev/null || break
            sleep 0.02
        done
        if kill -9 $pid 2>/dev/null; then wait $pid 2>/dev/null; kills=$((kills + 1))
        else wait $pid && finished=1 || bad "kill -9: a run failed: $(tail -3 "$d.log")"; break; fi
    done
}
