// libFuzzer target: the bytes of an ARC task file (tasks/arc/task_file.h). A task that is accepted must write back
// to JSON that parses to an equal task, and render a prompt; one that is refused must come with one line naming
// the file.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/arc/prompt.h"
#include "tasks/arc/task_file.h"

#include "tests/fuzz/fuzz_require.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    arc_task t;
    mg_err e = {{0}};
    if (arc_task_parse(&t, (const char *)data, size, "fuzz", "fuzz/task.json", &e)) {
        require(e.msg[0] && !strchr(e.msg, '\n') && !strncmp(e.msg, "fuzz/task.json: ", 16));
        require(t.train == NULL && t.test_inputs == NULL && t.test_outputs == NULL);
        return 0;
    }
    require(t.n_train >= 1 && t.n_test >= 1 && !strcmp(t.id, "fuzz"));
    json_t *j = arc_task_to_json(&t);
    char *text = json_dumps(j, 0);
    json_decref(j);
    require(text != NULL);
    arc_task back;
    mg_err e2 = {{0}};
    require(arc_task_parse(&back, text, strlen(text), "fuzz", "fuzz/back.json", &e2) == 0);
    require(arc_task_equal(&t, &back));
    char *prompt = arc_user_prompt(&t, t.n_test - 1, ARC_CELLS_DIGITS);
    require(strstr(prompt, "Example 1\nInput:\n") != NULL);
    free(prompt);
    free(text);
    arc_task_free(&back);
    arc_task_free(&t);
    return 0;
}
