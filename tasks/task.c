#include "tasks/task.h"

#include <stdlib.h>

void task_score_free_details(task_score *s, int n) {
    for (int i = 0; i < n; i++) {
        free(s[i].detail);
        s[i].detail = NULL;
    }
}
