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
