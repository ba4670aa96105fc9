// ARC prompts: grids as text and the user, system and neighborhood messages. The wording is this project's own;
// the layout (which parts, in which order, under which labels) follows what the model was trained on.
#include "tasks/arc/prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"

static const char *const colour_names[ARC_COLOURS] = {"Black", "Blue", "Red",    "Green",  "Yellow",
                                                      "Gray",  "Pink", "Orange", "Purple", "Brown"};

const char *arc_colour_name(int colour) {
    mgCheck(colour >= 0 && colour < ARC_COLOURS, "arc_colour_name: a colour is 0..9");
    return colour_names[colour];
}

char *arc_grid_text(const arc_grid *g, arc_cell_format f) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    mgCheck(m != NULL, "out of memory writing a grid");
    for (int r = 0; r < g->rows; r++) {
        for (int c = 0; c < g->cols; c++) {
            int v = arc_at(g, r, c);
            if (f == ARC_CELLS_DIGITS)
                fputc('0' + v, m);
            else
                fprintf(m, "%s%s", c ? " " : "", arc_colour_name(v));
        }
        fputc('\n', m);
    }
    fclose(m);
    return buf;
}

const char *arc_system_prompt(void) {
    return "You are an expert at abstract grid puzzles, and you solve them by writing correct Python code.";
}

// The introduction and the training pairs, shared by both user messages.
static void write_examples(FILE *m, const arc_task *t, arc_cell_format f) {
    if (f == ARC_CELLS_DIGITS)
        fputs(
            "Look at the input and output grids of the examples below and work out the rule that turns each "
            "input into its output. A grid is written one row per line, each cell a digit from 0 to 9 (a colour) "
            "with nothing between cells.\n",
            m);
    else
        fputs(
            "Look at the input and output grids of the examples below and work out the rule that turns each "
            "input into its output. A grid is written one row per line, each cell the name of its colour (Black, "
            "Blue, Red, Green, Yellow, Gray, Pink, Orange, Purple, Brown) with single spaces between cells.\n",
            m);
    for (int i = 0; i < t->n_train; i++) {
        char *in = arc_grid_text(&t->train[i].input, f), *out = arc_grid_text(&t->train[i].output, f);
        fprintf(m, "\nExample %d\nInput:\n%s\nOutput:\n%s", i + 1, in, out);
        free(in), free(out);
    }
}

char *arc_user_prompt(const arc_task *t, int test_index, arc_cell_format f) {
    return arc_user_prompt_as(t, test_index, f, 0);
}

char *arc_user_prompt_as(const arc_task *t, int test_index, arc_cell_format f, int grid_language) {
    mgCheck(test_index >= 0 && test_index < t->n_test, "arc_user_prompt: no such test input");
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    mgCheck(m != NULL, "out of memory writing a prompt");
    write_examples(m, t, f);
    char *in = arc_grid_text(&t->test_inputs[test_index], f);
    fprintf(m, "\nHere is the input grid for the test example:\nInput:\n%s\n%s", in,
            grid_language ? "Write a program in the grid language (docs/arc-dsl.md): one binding per line such as "
                            "`x1 = rot90(I)`, the input grid being I and the last line's value the output grid. Put "
                            "it in a ``` block."
                          : "Write a Python function `transform(input_grid)` that applies the rule to any input "
                            "grid and returns its output grid.");
    free(in);
    fclose(m);
    return buf;
}

char *arc_neighbor_prompt(const arc_task *t, const char *program, arc_cell_format f) {
    return arc_neighbor_prompt_as(t, program, f, 0);
}

char *arc_neighbor_prompt_as(const arc_task *t, const char *program, arc_cell_format f, int grid_language) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    mgCheck(m != NULL, "out of memory writing a prompt");
    write_examples(m, t, f);
    size_t n = strlen(program);
    fprintf(m,
            "\nHere is my guess for the %s:\n```%s\n%s%s```\n\n"
            "Write a variation of this guess that could be the correct rule for every example.",
            grid_language ? "program" : "function", grid_language ? "" : "python", program,
            n && program[n - 1] == '\n' ? "" : "\n");
    fclose(m);
    return buf;
}
