// The ARC part of `migrate sweep --collect`: every element's answers (ELEMENT/arc_result.json, written by the
// ARC task at the end of its run) merged into Kaggle submission files and one score table.
//
// Elements that differ only in their task (task.arc.file, task.arc.id, task.arc.solutions) form one arm (a
// strategy x seed x grid point): each arm gets one submission, DIR/submission.json when the sweep has one arm,
// else DIR/submission_K.json for arm K. A task whose run has not written its answers yet (missing, unfinished,
// failed) is listed on stderr and in the table, and gets a 1x1 black grid for each attempt, so the file still
// names every task as Kaggle requires; the table says how many are such placeholders. Scores are recomputed
// here from the attempts and the task's test outputs (when the task file or the solutions file has them).
#pragma once

typedef struct {
    long index;        // the element's folder DIR/index
    const char *file;  // task.arc.file
    const char *id;    // task.arc.id ("" = the file holds one task)
    const char *solutions;
    const char *arm;   // the element's overrides other than its task and output_dir, as one string
} sweep_arc_element;

// Writes the submissions and DIR/arc_results.md (also printed) and DIR/arc_results.csv. Returns 0 when every task
// of every arm has its answers, 1 when some are placeholders, -1 when a file could not be written or read
// (each reason on stderr, one line).
int sweep_collect_arc(const char *dir, const sweep_arc_element *els, int n);
