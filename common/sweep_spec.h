// A sweep: one run config and axes (a config key with a list of values); one search per point of their product.
// The axes come from the config's top-level `sweep:` section and from the command line:
//
//   sweep:
//     targets: [ocean, river, music]   # task.target
//     objectives: [median1, qed]       # task.objective (molecule tasks: predefined names)
//     seeds: [0, 1]                    # seed
//     arc_ids_from: FILE               # task.arc.id: every task id of an ARC challenges file (sorted)
//     strategies: [migrate, grpo]      # strategy
//     grid:                            # any other key, as --set names it
//       training.learning_rate: [5.0e-5, 1.0e-4]
//     sbatch_args: "--partition=cpu --time=01:00:00"
//     max_parallel: 0                  # at most this many elements run at once (0 = no limit)
//
// Every list may also be a comma string ("ocean,river"). Elements enumerate the product with the first axis
// slowest, in the order strategies, targets / objectives / ARC tasks, seeds, then grid keys as written.
#pragma once
#include <stddef.h>

#include "common/error.h"

#define SWEEP_MAX_AXES 16

typedef struct {
    char key[128];  // config key: "task.target", "seed", "strategy", "training.learning_rate"
    char **values;  // malloc'd
    int n;
} sweep_axis;

typedef struct {
    char *run_text;  // the config file with its sweep: section blanked, lines kept: the run config of every element
    size_t run_len;
    sweep_axis axes[SWEEP_MAX_AXES];
    int n_axes;
    char sbatch_args[1024];
    int max_parallel;
} sweep_spec;

// Reads CONFIG and its sweep: section (if any). Errors: "CONFIG:LINE: sweep.KEY: ...".
int sweep_spec_load(sweep_spec *s, const char *path, mg_err *e);
// Sets the values of key's axis from a comma list (a command-line option), replacing those the file gave.
int sweep_spec_set_axis(sweep_spec *s, const char *key, const char *list, mg_err *e);
// Number of elements (1 with no axes), or -1 with e set when the product exceeds max.
long sweep_spec_count(const sweep_spec *s, long max, mg_err *e);
// Element i's value on axis a.
const char *sweep_spec_value(const sweep_spec *s, long i, int a);
void sweep_spec_free(sweep_spec *s);

// Element i's overrides of the run config, in manifest order: the --set options given for every element (sets),
// "KEY=VALUE" per axis, then "output_dir=DIR/i". Both `migrate sweep` (one Slurm array element per manifest line)
// and `migrate run SWEEP.yaml` (all elements in one job) parse an element's config from these, so element i is
// the same search either way. Fills *kv with malloc'd strings (sweep_overrides_free); returns how many.
int sweep_element_overrides(const sweep_spec *s, const char *const *sets, int n_sets, long i, const char *dir,
                            char ***kv);
void sweep_overrides_free(char **kv, int n);
// The text of DIR/manifest.tsv (malloc'd): a comment naming config, then per element its index and its overrides
// (sweep_element_overrides), tab-separated. tools/sweep_collect.c reads it back.
char *sweep_manifest_text(const sweep_spec *s, const char *config, const char *const *sets, int n_sets, long count,
                          const char *dir);
