// The run configuration: one YAML file (libyaml), validated against a schema, overridable from the command line
// with --set key=value (dotted keys for nested maps: --set lora.r=16). Knob names follow TRL's GRPOConfig where
// TRL has the knob; MiGrATe's group composition (the paper's alpha / beta / gamma) is num_on_policy /
// num_greedy / num_neighborhood, since TRL's `beta` is the KL coefficient.
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

typedef enum {
    STRATEGY_RANDOM = 0,   // sample from the base policy, never train
    STRATEGY_NS,           // neighborhood sampling only, never train
    STRATEGY_OPRO,         // in-context: the prompt lists the top past solutions with scores, never train
    STRATEGY_GRPO,         // on-policy group only
    STRATEGY_GRPO_GREEDY,  // on-policy + greedy archive entries
    STRATEGY_MIGRATE,      // on-policy + greedy + neighborhood
} strategy_kind;

typedef enum { NS_SEED_TOP = 0, NS_SEED_SAMPLE } ns_seed_mode;         // best entry, or uniform over top-k
// search.repeats: a sample repeating an answer already scored enters the group with its reward, not at all, or
// with the group's lowest reward
typedef enum { REPEATS_REWARD = 0, REPEATS_DROP, REPEATS_LOWEST } repeats_mode;
typedef enum { TASK_SEMANTLE = 0, TASK_ORACLE, TASK_MOLECULE, TASK_ARC } task_kind;

#define CFG_STR 1024
#define MAX_STALENESS 8  // training.staleness: groups waiting for their update, at most

typedef struct {
    char path[CFG_STR];  // the YAML file (for messages)
    char *text;          // the YAML text as read (stored in checkpoints)

    // model and policy
    char model[CFG_STR];            // HF folder
    char chat_format[16];           // "auto" | "plain" | "llama3" | "chatml"
    char system_prompt[CFG_STR];    // "" = none

    // task
    task_kind task;
    char target[128];               // semantle: hidden word
    char vectors[CFG_STR];          // semantle: word2vec/GloVe file
    char oracle_command[CFG_STR];   // oracle: command line, split on spaces (quotes allowed)
    int oracle_workers;
    double oracle_timeout;
    double solved_reward;           // oracle: reward that counts as solved
    char candidate_pattern[CFG_STR];  // oracle: PCRE2 pattern that finds the candidate ("" = the first line)
    char candidate_format[CFG_STR];   // oracle: PCRE2 replacement that writes it ("" = $1, or $0 without a group)
    long candidate_lines[2];          // oracle: the file's lines of those two keys when set (0: not from the file)
    char objective[4 * CFG_STR];    // molecule: a predefined objective's name or a composition, as YAML text
    long objective_line;            // molecule: the file's line of the objective's first line (0: not from the file)
    char arc_file[CFG_STR];         // arc: the task file (ARC-AGI repository layout), or a Kaggle challenges file
    char arc_id[CFG_STR];           // arc: the task's id in a Kaggle challenges file ("" = arc_file is one task)
    char arc_solutions[CFG_STR];    // arc: the Kaggle solutions file for arc_id ("" = none)
    char arc_executor[8];           // arc: "dsl" | "python"
    char arc_format[8];             // arc: "colors" | "digits"
    char arc_reward[8];             // arc: "partial" | "strict"
    double arc_timeout;             // arc: python seconds per grid
    int arc_workers;                // arc: python sandbox workers
    char arc_common_py[CFG_STR];    // arc: the user's common.py for python programs ("" = none)
    char prompt[4 * CFG_STR];       // "" = the task's own prompt
    char ns_prompt[4 * CFG_STR];    // "" = the task's own; "{solution}", "{reward}" are replaced
    char opro_prompt[4 * CFG_STR];  // "" = built-in; "{history}" is replaced by the top solutions with scores

    // search
    strategy_kind strategy;
    int num_on_policy;     // alpha
    int num_greedy;        // beta
    int num_neighborhood;  // gamma
    int top_k;             // archive entries NS (and OPRO) draw from
    ns_seed_mode ns_seed;
    repeats_mode repeats;  // how repeated answers enter the GRPO group
    int archive_max_entries;  // 0 = keep every entry; else keep the best N (repeats of dropped ones stay free)
    int stop_when_solved;     // 1: a search ends at its first solution; 0: it spends its whole budget
    int iterations;        // max iterations
    int oracle_budget;     // max oracle calls (0 = unlimited)
    uint64_t seed;

    // sampling
    float temperature;
    float top_p;
    int top_k_sampling;    // YAML key: sampling_top_k
    float min_p;
    int max_completion_length;
    int share_prefix;      // prefill a prompt prefix shared by several samples once
    int train_share_prefix;  // YAML key training.share_prefix: the learner packs a shared prompt once

    // GRPO / optimisation
    float learning_rate;
    int lr_scheduler_type; // model/optimizer.h's lr_schedule: constant, linear, cosine over iterations x num_iterations
    float warmup_ratio;    // share of those steps that ramp the rate up from 0
    float epsilon;         // epsilon_low
    float epsilon_high;
    float beta;            // KL coefficient (k3 estimator against the adapter-disabled base model)
    int loss_type;         // workers/grpo.h's loss_kind: the index of its name in grpo, bnpo, dr_grpo
    int scale_rewards;     // divide advantages by the group std
    int num_iterations;    // optimizer updates per generation batch (TRL's mu)
    int members_per_shard; // group members per forward/backward shard (what learner ranks divide)
    int staleness;         // the update from iteration t's group lands k iterations later (0 = at once)
    float max_grad_norm;
    float weight_decay;
    float adam_beta1, adam_beta2, adam_epsilon;

    // LoRA
    int use_peft;          // 0: train every weight instead (TRL's use_peft; the CPU backend, for small priors)
    int lora_r;
    float lora_alpha;
    char lora_target_modules[256];

    // distributed (mpirun / srun): roles of the ranks
    int rollout_ranks;     // 0 = every compute rank
    int learner_ranks;     // 0 = every compute rank
    int coordinator_only;  // rank 0 only coordinates
    double dist_timeout;   // seconds one rank may wait for the others in one step
    char allreduce[8];     // the learners' gradient sum: "auto" (NCCL on cuda ranks when built with it) | "nccl" | "mpi"

    // where the model runs on each compute rank (coordinator/run_job.c: run_attach_backend)
    char backend[8];       // "cpu" | "cuda"
    char engine_dtype[8];  // "bf16" | "fp32": the weights on the GPU
    int device;            // GPU index; -1 = the rank's local rank modulo the visible GPUs
    int cuda_graphs;       // replay decode steps as CUDA graphs (engine.use_graphs)

    // output
    char output_dir[CFG_STR];   // metrics.jsonl, summary.json, checkpoint.h5
    int save_steps;             // checkpoint every N iterations (0 = only at the end and on a signal)
    int log_every;              // progress line every N iterations
    int threads;                // 0 = all cores
} run_config;

// Defaults: the MiGrATe authors' (LoRA 64/16 on q,k,v,o; KL 0; epsilon 0.2/0.28; no std scaling; temperature 1;
// lr 5e-5; dr_grpo loss) and a small demo-sized search (alpha 8, beta 4, gamma 4, top-k 5, 50 iterations).
void run_config_defaults(run_config *c);
// Loads and validates a YAML file (every check that needs no task; a molecule objective is compiled by
// coordinator/run_job.h's run_config_read, which wraps these two). Unknown key, wrong type or out-of-range value -> -1 with
// "FILE:LINE: key 'training.lr': ..." in e. overrides: "key=value" strings applied after the file, validated
// the same way ("--set key=value: ..." in messages). n_overrides may be 0.
int run_config_load(run_config *c, const char *path, const char *const *overrides, int n_overrides, mg_err *e);
// Same from text in memory (fuzzed); name is used in messages.
int run_config_parse(run_config *c, const char *yaml, size_t len, const char *name, const char *const *overrides,
                     int n_overrides, mg_err *e);
void run_config_free(run_config *c);
// Writes every key with its value, as YAML, to f (for `migrate run --print-config` and the metrics header).
void run_config_dump(const run_config *c, FILE *f);
// The same as text (what checkpoints store and resumes compare). malloc'd.
char *run_config_text(const run_config *c);
const char *strategy_name(strategy_kind s);
int strategy_trains(strategy_kind s);  // grpo, grpo-greedy and migrate update an adapter; the baselines do not
