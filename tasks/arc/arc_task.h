// One ARC task as a search task (tasks/task.h): the model writes programs, each is run on the task's training
// inputs and rewarded by how close its outputs come to the training outputs (tasks/arc/reward.h). Candidates are
// Python programs run in the sandbox (tasks/arc/sandbox.h) or programs of the grid language (tasks/arc/dsl.h) run
// in this process. The test outputs are never read here: the reward only looks at the training pairs. Each
// scored program also runs on the test inputs; its outputs there are its score's detail (tasks/arc/outcome.h),
// which the search keeps in the archive and in checkpoints, and the task's report chooses the answers from them.
#pragma once
#include "tasks/arc/prompt.h"
#include "tasks/arc/reward.h"
#include "tasks/task.h"

typedef enum { ARC_EXEC_PYTHON = 0, ARC_EXEC_DSL } arc_executor;

typedef struct {
    const char *file;          // repository-layout task file, or a Kaggle challenges file when kaggle_id is set
    const char *kaggle_id;     // NULL: `file` holds one task
    const char *solutions;     // Kaggle solutions file (NULL: none); only with kaggle_id
    arc_executor executor;
    arc_cell_format format;    // grids in the prompts
    int strict;                // 1: 1 per exact training pair; 0: partial credit
    double timeout_s;          // python: wall clock per grid (0: the sandbox's default)
    int workers;               // python: sandbox workers (0: 1)
    const char *common_py;     // python: importable as `common` (NULL or "": none)
    const char *python;        // python: the interpreter (NULL: ARC_DEFAULT_PYTHON)
} arc_task_config;

// Loads the task and, for python, opens the sandbox (its start check runs a program, so a missing numpy or
// seccomp is reported here). NULL with the reason in e.
int arc_task_create(task **out, const arc_task_config *cfg, mg_err *e);
