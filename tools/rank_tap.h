// The Semantle rank of every oracle call of a search, whoever scores it: the built-in task or an external oracle
// that writes the same `info` ("rank N/M" for the target's M nearest words, "found" for the target). `migrate
// ablate` wraps the task in a tap and reads, after the search, the calls it took to first reach a rank.
#pragma once
#include "tasks/task.h"

// A task that forwards every call to `inner` and records the rank of each scored candidate, in scoring order (the
// order the search archives them: call k of the tap is oracle call k). Destroying the tap destroys inner.
task *rank_tap_wrap(task *inner);

// The oracle calls after which a candidate of rank >= rank (or the target) was first scored; -1 if never.
long rank_tap_calls_to(const task *tap, int rank);
