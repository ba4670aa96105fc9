// ARC prompts and programs (tasks/arc/prompt.h, program.h): the user message in both cell formats, word for word;
// the real test input in it (never a test output); the neighborhood prompt; program extraction from completions;
// and the dedup key, with '#' inside string literals kept.
#include <stdlib.h>
#include <string.h>

#include "tasks/arc/program.h"
#include "tasks/arc/prompt.h"
#include "testing.h"

// Two training pairs and one test input, grids small enough to read.
static arc_task small_task(void) {
    arc_task t;
    mg_err e = {{0}};
    const char *json =
        "{\"train\": [{\"input\": [[0, 1], [2, 3]], \"output\": [[4, 5]]},"
        "            {\"input\": [[9]], \"output\": [[8, 7, 6]]}],"
        " \"test\": [{\"input\": [[1, 1, 0]], \"output\": [[3, 3, 3]]}]}";
    int rc = arc_task_parse(&t, json, strlen(json), "small", "small.json", &e);
    CHECK(rc == 0, "%s", e.msg);
    return t;
}

static void test_grid_text(void) {
    arc_grid g;
    arc_grid_init(&g, 2, 3, 0);
    for (int i = 0; i < 6; i++) g.cells[i] = (uint8_t)(i * 2 % 10);  // 0 2 4 / 6 8 0
    char *names = arc_grid_text(&g, ARC_CELLS_NAMES), *digits = arc_grid_text(&g, ARC_CELLS_DIGITS);
    CHECK(!strcmp(names, "Black Red Yellow\nPink Purple Black\n"), "names: '%s'", names);
    CHECK(!strcmp(digits, "024\n680\n"), "digits: '%s'", digits);
    const char *all[10] = {"Black", "Blue", "Red", "Green", "Yellow", "Gray", "Pink", "Orange", "Purple", "Brown"};
    for (int c = 0; c < 10; c++) CHECK(!strcmp(arc_colour_name(c), all[c]), "colour %d", c);
    free(names), free(digits);
    arc_grid_free(&g);
}

static void test_user_prompt(void) {
    arc_task t = small_task();
    char *p = arc_user_prompt(&t, 0, ARC_CELLS_NAMES);
    const char *want =
        "Look at the input and output grids of the examples below and work out the rule that turns each input into "
        "its output. A grid is written one row per line, each cell the name of its colour (Black, Blue, Red, Green, "
        "Yellow, Gray, Pink, Orange, Purple, Brown) with single spaces between cells.\n"
        "\nExample 1\nInput:\nBlack Blue\nRed Green\n\nOutput:\nYellow Gray\n"
        "\nExample 2\nInput:\nBrown\n\nOutput:\nPurple Orange Pink\n"
        "\nHere is the input grid for the test example:\nInput:\nBlue Blue Black\n\n"
        "Write a Python function `transform(input_grid)` that applies the rule to any input grid and returns its "
        "output grid.";
    CHECK(!strcmp(p, want), "names prompt:\n%s", p);
    // The test output ([[3, 3, 3]] = Green Green Green) must not stand where the test input belongs.
    CHECK(!strstr(p, "Green Green Green"), "the test output is in the prompt");
    free(p);
    p = arc_user_prompt(&t, 0, ARC_CELLS_DIGITS);
    CHECK(strstr(p, "each cell a digit from 0 to 9") && strstr(p, "\nExample 1\nInput:\n01\n23\n\nOutput:\n45\n") &&
              strstr(p, "\nExample 2\nInput:\n9\n\nOutput:\n876\n") &&
              strstr(p, "test example:\nInput:\n110\n\nWrite a Python function `transform(") && !strstr(p, "333"),
          "digits prompt:\n%s", p);
    free(p);
    CHECK(strstr(arc_system_prompt(), "Python") && !strchr(arc_system_prompt(), '\n'), "system prompt");
    arc_task_free(&t);
}

static void test_neighbor_prompt(void) {
    arc_task t = small_task();
    const char *prog = "def transform(input_grid):\n    return input_grid";  // no final newline
    char *p = arc_neighbor_prompt(&t, prog, ARC_CELLS_NAMES);
    const char *tail =
        "\nExample 2\nInput:\nBrown\n\nOutput:\nPurple Orange Pink\n"
        "\nHere is my guess for the function:\n```python\ndef transform(input_grid):\n    return input_grid\n```\n\n"
        "Write a variation of this guess that could be the correct rule for every example.";
    size_t n = strlen(p), m = strlen(tail);
    CHECK(n > m && !strcmp(p + n - m, tail), "neighborhood prompt:\n%s", p);
    CHECK(strstr(p, "Example 1\nInput:\nBlack Blue\n") && !strstr(p, "test example"), "neighborhood examples");
    free(p);
    // The program's own final newline is not doubled.
    p = arc_neighbor_prompt(&t, "x = 1\n", ARC_CELLS_DIGITS);
    CHECK(strstr(p, "```python\nx = 1\n```\n\n"), "%s", p);
    free(p);
    arc_task_free(&t);
}

static void expect_extract(const char *what, const char *completion, const char *want) {
    char *got = arc_extract_program(completion);
    int same = want ? got && !strcmp(got, want) : got == NULL;
    CHECK(same, "%s: got '%s', want '%s'", what, got ? got : "(none)", want ? want : "(none)");
    free(got);
}

static void test_extract(void) {
    expect_extract("one python block", "Here:\n```python\ndef transform(g):\n    return g\n```\nDone.",
                   "def transform(g):\n    return g\n");
    expect_extract("the last python block", "```python\na = 1\n```\ntext\n```python\nb = 2\n```\n", "b = 2\n");
    expect_extract("python before plain", "```python\na = 1\n```\n```\nb = 2\n```\n", "a = 1\n");
    expect_extract("the last plain block", "```\na = 1\n```\n```\nb = 2\n```", "b = 2\n");
    expect_extract("other languages skipped", "```\na = 1\n```\n```json\n{}\n```\n", "a = 1\n");
    expect_extract("only another language", "```json\n{}\n```\n", NULL);
    expect_extract("no block", "def transform(g): return g", NULL);
    expect_extract("empty completion", "", NULL);
    expect_extract("an open block does not count", "```python\na = 1\n```\n```python\nb = 2\n", "a = 1\n");
    expect_extract("only an open block", "```python\nb = 2\n", NULL);
    expect_extract("CRLF", "```python\r\na = 1\r\nb = 2\r\n```\r\n", "a = 1\nb = 2\n");
    expect_extract("Python, blanks around fences", "  ```Python  \nx = 3\n  ```  \n", "x = 3\n");
    expect_extract("a fence inside a python block is content", "```python\ns = '''\n```json\n'''\n```\n",
                   "s = '''\n```json\n'''\n");
}

static void expect_key(const char *what, const char *program, const char *want) {
    char *got = arc_program_key(program);
    CHECK(!strcmp(got, want), "%s: got '%s', want '%s'", what, got, want);
    free(got);
}

static void test_key(void) {
    expect_key("comments and blanks", "# header\n\nx = 1  # set x\n\n   \n  y = 2   \n\t# indented\n",
               "x = 1\n  y = 2\n");
    expect_key("# in double quotes", "s = \"a # b\"  # c\n", "s = \"a # b\"\n");
    expect_key("# in single quotes", "s = '#'  # c\n", "s = '#'\n");
    expect_key("escaped quote", "s = \"a \\\" # b\"  # c\nt = 'it\\'s # x'\n",
               "s = \"a \\\" # b\"\nt = 'it\\'s # x'\n");
    expect_key("escaped backslash ends the string", "s = 'a\\\\'  # c\n", "s = 'a\\\\'\n");
    expect_key("empty string then comment", "x = ''  # c\ny = \"\"#d\n", "x = ''\ny = \"\"\n");
    expect_key(
        "triple quotes keep blank lines and #",
        "def f():\n    \"\"\"Doc # not a comment\n\n    it's \"quoted\"   \n    \"\"\"  # comment\n    return 1\n",
        "def f():\n    \"\"\"Doc # not a comment\n\n    it's \"quoted\"   \n    \"\"\"\n    return 1\n");
    expect_key("single-quote triple", "s = '''a\n# b'''\n", "s = '''a\n# b'''\n");
    expect_key("CRLF and CR", "a = 1\r\n\r\nb = 2\rc = 3", "a = 1\nb = 2\nc = 3\n");
    expect_key("only comments", "# a\n   # b\n", "");
    // Programs that differ only in comments, blank lines, trailing blanks and line endings are one key; a
    // difference inside a string is not.
    const char *a = "def transform(g):\n    # copy\n    return g  # same\n",
               *b = "def transform(g):\r\n\r\n    return g\t \r\n# end\r\n",
               *c = "def transform(g):\n    return g  # same\n    s = '# x'\n",
               *d = "def transform(g):\n    return g\n    s = '# y'\n";
    char *ka = arc_program_key(a), *kb = arc_program_key(b), *kc = arc_program_key(c), *kd = arc_program_key(d);
    CHECK(!strcmp(ka, kb), "'%s' vs '%s'", ka, kb);
    CHECK(strcmp(kc, kd) != 0, "a string's content changed the key: '%s'", kc);
    free(ka), free(kb), free(kc), free(kd);
}

int main(void) {
    test_grid_text();
    test_user_prompt();
    test_neighbor_prompt();
    test_extract();
    test_key();
    return test_summary("arc_prompt");
}
