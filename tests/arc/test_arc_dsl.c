// The ARC grid DSL (tasks/arc/dsl.h): every primitive against hand-worked grids, the runtime's defined failures
// (empty results, out-of-range windows, factor 0, non-colours, the size and step budgets, an output over 30 x 30),
// parse errors with their one-line "line L, column C" messages, canonical printing, and real training tasks
// solved exactly (every train and test pair) by programs written here.
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "tasks/arc/dsl.h"
#include "testing.h"

static arc_dsl_vm *vm;

// "123|456" -> a 2 x 3 grid (rows separated by '|').
static arc_grid grid(const char *s) {
    arc_grid g;
    int rows = 1, cols = (int)strcspn(s, "|");
    for (const char *c = s; *c; c++) rows += *c == '|';
    arc_grid_init(&g, rows, cols, 0);
    int k = 0;
    for (const char *c = s; *c; c++)
        if (*c != '|') g.cells[k++] = (uint8_t)(*c - '0');
    return g;
}

static void show(const arc_grid *g, char *buf, size_t cap) {
    size_t at = 0;
    for (int r = 0; r < g->rows && at + 2 < cap; r++) {
        if (r) buf[at++] = '|';
        for (int c = 0; c < g->cols && at + 2 < cap; c++) buf[at++] = (char)('0' + arc_at(g, r, c));
    }
    buf[at] = 0;
}

// prog on `in` gives `want` ("123|456"), or fails with a message containing `want` when it starts with '!'.
static void expect(const char *prog, const char *in, const char *want) {
    arc_dsl_program p;
    mg_err e = {{0}};
    if (arc_dsl_parse(&p, prog, strlen(prog), &e)) {
        CHECK(0, "%s: does not parse: %s", prog, e.msg);
        return;
    }
    arc_grid g = grid(in), out;
    char got[4096];
    int rc = arc_dsl_run(vm, &p, &g, NULL, &out, &e);
    if (want[0] == '!') {
        CHECK(rc == -1 && strstr(e.msg, want + 1) && !strchr(e.msg, '\n'), "%s on %s: want failure '%s', got %s",
              prog, in, want + 1, rc ? e.msg : "success");
    } else if (rc) {
        CHECK(0, "%s on %s: %s", prog, in, e.msg);
    } else {
        show(&out, got, sizeof got);
        CHECK(!strcmp(got, want), "%s on %s: want %s, got %s", prog, in, want, got);
        arc_grid_free(&out);
    }
    arc_grid_free(&g);
}

static void test_geometry(void) {
    const char *A = "123|456";
    expect("O = rot90(I)", A, "41|52|63");
    expect("O = rot180(I)", A, "654|321");
    expect("O = rot270(I)", A, "36|25|14");
    expect("O = flip_lr(I)", A, "321|654");
    expect("O = flip_ud(I)", A, "456|123");
    expect("O = transpose(I)", A, "14|25|36");
    expect("O = antitranspose(I)", A, "63|52|41");
    expect("O = upscale(I, 2)", A, "112233|112233|445566|445566");
    expect("O = hupscale(I, 2)", A, "112233|445566");
    expect("O = vupscale(I, 2)", A, "123|123|456|456");
    expect("O = upscale(I, 0)", A, "!factor 0 is below 1");
    expect("O = downscale(I, 2)", "1234|5678|9012", "13|91");
    expect("O = downscale(I, 5)", "1234|5678|9012", "1");
    expect("O = downscale(I, 0)", A, "!factor 0 is below 1");
    expect("O = tile(I, 2, 2)", A, "123123|456456|123123|456456");
    expect("O = tile(I, 0, 2)", A, "!repeat count 0 is below 1");
    expect("O = hconcat(I, I)", A, "123123|456456");
    expect("O = vconcat(I, I)", A, "123|456|123|456");
    expect("x = rot90(I)\nO = hconcat(I, x)", A, "!line 2 (hconcat): 2 rows beside 3 rows");
    expect("x = rot90(I)\nO = vconcat(I, x)", A, "!3 columns above 2 columns");
    expect("O = tophalf(I)", A, "123");
    expect("O = bottomhalf(I)", A, "456");
    expect("O = tophalf(I)", "12|34|56", "12");
    expect("O = bottomhalf(I)", "12|34|56", "56");
    expect("O = lefthalf(I)", A, "1|4");
    expect("O = righthalf(I)", A, "3|6");
    expect("O = tophalf(I)", "123", "!empty");
    expect("O = hsplit(I, 2, 1)", "1105220|1105220", "220|220");
    expect("O = hsplit(I, 3, 1)", A, "2|5");
    expect("O = hsplit(I, 2, 0)", A, "1|4");  // 3 = 2 parts of 1 + a separator
    expect("O = hsplit(I, 4, 0)", A, "!a side of 3 does not split into 4 parts");
    expect("O = hsplit(I, 3, 3)", A, "!part 3 of 3 does not exist");
    expect("O = hsplit(I, 0, 0)", A, "!part 0 of 0 does not exist");
    expect("O = vsplit(I, 3, 2)", "12|34|56", "56");
    expect("O = vsplit(I, 2, 1)", "12|34|56|78|90", "78|90");
    expect("O = crop(I, 1, 1, 2, 2)", "1234|5678|9012", "67|01");
    expect("O = crop(I, 2, 2, 2, 2)", "1234|5678|9012", "!window 2x2 at (2, 2) leaves the 3x4 grid");
    expect("O = crop(I, 0, 0, 0, 1)", "1234|5678|9012", "!empty crop 0x1");
    expect("O = trim(I)", "11111|12341|11111", "234");
    expect("O = trim(I)", A, "!a 2x3 grid has no inside to keep");
}

static void test_colours(void) {
    const char *A = "123|456", *F = "012|300", *G = "112|233|333";
    expect("O = replace(I, 2, 0)", A, "103|456");
    expect("O = replace(I, 9, 0)", A, "123|456");
    expect("O = swap(I, 1, 6)", A, "623|451");
    expect("O = recolor(I, 7)", F, "077|700");
    expect("O = keep(I, 3)", F, "000|300");
    expect("O = fill(I, 5)", A, "555|555");
    expect("O = canvas(4, 2, 3)", A, "444|444");
    expect("O = canvas(4, 0, 3)", A, "!empty");
    expect("x = mostcolor(I)\nO = canvas(x, 1, 1)", G, "3");
    expect("x = mostcolor(I)\nO = canvas(x, 1, 1)", "12|21", "1");      // tie: smallest colour
    expect("x = leastcolor(I)\nO = canvas(x, 1, 1)", G, "1");           // 1 and 2 tie at 2 cells
    expect("x = leastcolor(I)\nO = canvas(x, 1, 1)", "55|59", "9");
    expect("x = mostfg(I)\nO = canvas(x, 1, 1)", "0022|0033|0003", "3");
    expect("x = mostfg(I)\nO = canvas(x, 1, 1)", F, "1");
    expect("x = mostfg(I)\nO = canvas(x, 1, 1)", "00|00", "0");
    expect("x = ncolors(I)\nO = canvas(0, 1, x)", G, "000");
    expect("x = height(I)\ny = width(I)\nO = canvas(1, y, x)", A, "11|11|11");
    // A computed integer used as a colour is checked when the program runs.
    expect("x = ncolors(I)\nO = replace(I, x, 0)", "0123456789", "!line 2 (replace): argument 2 is 10, not a colour");
    expect("x = height(I)\nO = fill(I, x)", "1|1|1|1|1|1|1|1|1|1|1|1", "!argument 2 is 12, not a colour");
}

static void test_cells(void) {
    // Two same-shape grids come in side by side: lefthalf and righthalf take them apart.
    const char *two = "1100|1010", *pre = "a = lefthalf(I)\nb = righthalf(I)\n";
    char prog[256];
    // a = "11|10", b = "00|10"
    const char *ops[4] = {"and", "or", "xor", "nor"}, *want[4] = {"00|70", "77|70", "77|00", "00|07"};
    for (int k = 0; k < 4; k++) {
        snprintf(prog, sizeof prog, "%sO = %s(a, b, 7)", pre, ops[k]);
        expect(prog, two, want[k]);
    }
    expect("a = lefthalf(I)\nb = righthalf(I)\nO = nor(a, b, 4)", "1000|0000", "04|44");
    snprintf(prog, sizeof prog, "%sO = cellwise(a, b, 9)", pre);
    expect(prog, "123103|456406", "193|496");
    snprintf(prog, sizeof prog, "%sO = overlay(a, b)", pre);
    expect(prog, "123010|456200", "113|256");
    snprintf(prog, sizeof prog, "%sO = mask(a, b)", pre);
    expect(prog, "123010|456200", "020|400");
    expect("a = tophalf(I)\nb = rot90(I)\nO = cellwise(a, b, 0)", "12|34",
           "!line 3 (cellwise): shapes 1x2 and 2x2 differ");
    const char *H = "0000|0500|0050";
    expect("O = bbox(I, 5)", H, "50|05");
    expect("O = bbox(I, 3)", H, "!no cell has colour 3");
    expect("O = shrink(I, 0)", H, "50|05");
    expect("O = shrink(I, 0)", "00|00", "!every cell has colour 0");
    expect("O = largest(I, 0)", "1100|0002|0022", "02|22");
    expect("O = largest(I, 0)", "1001", "1");            // two of one cell: the first in reading order
    expect("O = largest(I, 0)", "1200|0000|0330", "12"); // 4-connected across colours; diagonals do not join
    expect("O = largest(I, 0)", "10|01", "1");
    expect("O = largest(I, 5)", "55|55", "!every cell has colour 5");
}

static void test_budgets(void) {
    arc_dsl_program p;
    mg_err e = {{0}};
    arc_grid g = grid("123|456"), out = {0};
    const char *prog = "O = rot90(I)";
    CHECK(arc_dsl_parse(&p, prog, strlen(prog), &e) == 0, "%s", e.msg);
    CHECK(arc_dsl_run(vm, &p, &g, NULL, &out, &e) == 0, "%s", e.msg);
    CHECK(arc_dsl_vm_steps(vm) == 1 + 6 + 6, "rot90 of 2x3 took %ld steps, want 13", arc_dsl_vm_steps(vm));
    arc_grid_free(&out);
    arc_dsl_limits tight = {12, ARC_DSL_MAX_SIDE};
    CHECK(arc_dsl_run(vm, &p, &g, &tight, &out, &e) == -1 && strstr(e.msg, "line 1 (rot90): step budget of 12 spent"),
          "%s", e.msg);
    arc_dsl_limits small = {ARC_DSL_MAX_STEPS, 2};
    CHECK(arc_dsl_run(vm, &p, &g, &small, &out, &e) == -1 && strstr(e.msg, "input: a 2x3 grid is outside"), "%s",
          e.msg);
    arc_grid_free(&g);
    // Intermediate grids may reach 60 x 60, the output only 30 x 30.
    expect("O = upscale(I, 21)", "12|34|56", "!the result would be 63x42, above the 60x60 size budget");
    expect("O = upscale(I, 20)", "12|34|56", "!output: 60x40 is larger than ARC's 30x30");
    expect("x = upscale(I, 20)\nO = downscale(x, 20)", "12|34|56", "12|34|56");
    expect("x = tile(I, 60, 60)\nO = trim(x)", "1", "!output: 58x58 is larger");
    // 32 lines of 60 x 60 grids: over the default step budget.
    char big[4096];
    int at = snprintf(big, sizeof big, "x0 = canvas(1, 60, 60)\n");
    for (int k = 1; k < 31; k++) at += snprintf(big + at, sizeof big - (size_t)at, "x%d = rot90(x%d)\n", k, k - 1);
    snprintf(big + at, sizeof big - (size_t)at, "O = crop(x30, 0, 0, 2, 2)\n");
    expect(big, "0", "!step budget of 200000 spent");
}

// Parsing `prog` fails with exactly `want`.
static void parse_error(const char *prog, const char *want) {
    arc_dsl_program p;
    mg_err e = {{0}};
    int rc = arc_dsl_parse(&p, prog, strlen(prog), &e);
    CHECK(rc == -1 && !strcmp(e.msg, want) && p.n == 0, "%s: want '%s', got '%s'", prog, want, rc ? e.msg : "ok");
}

static void test_parse_errors(void) {
    parse_error("O = rot91(I)", "line 1, column 5: unknown primitive 'rot91'");
    parse_error("O = rot90(I, I)", "line 1, column 14: rot90 takes 1 argument");
    parse_error("O = crop(I, 1)", "line 1, column 14: crop takes 5 arguments");
    parse_error("O = rot90()", "line 1, column 11: rot90 takes 1 argument");
    parse_error("x1 = mostcolor(I)\nO = rot90(x1)", "line 2, column 11: rot90 wants a grid here, not an integer");
    parse_error("O = replace(I, I, 0)", "line 1, column 16: replace wants a colour here, not a grid");
    parse_error("O = rot90(3)", "line 1, column 11: rot90 wants a grid here, not the integer 3");
    parse_error("O = rot90(x1)", "line 1, column 11: 'x1' is used before it is defined");
    parse_error("x1 = rot90(x1)", "line 1, column 12: 'x1' is used before it is defined");
    parse_error("O = upscale(I, 07)", "line 1, column 16: bad literal '07' (integers are 0..60, no leading zeros)");
    parse_error("O = upscale(I, 2x)", "line 1, column 16: bad literal '2x' (integers are 0..60, no leading zeros)");
    parse_error("O = upscale(I, 61)", "line 1, column 16: literal 61 is above 60");
    parse_error("O = upscale(I, 99999999999999999999)", "line 1, column 16: literal 99999999999999999999 is above 60");
    parse_error("O = replace(I, 12, 0)", "line 1, column 16: colour 12 is outside 0..9");
    parse_error("O = upscale(I, -1)", "line 1, column 16: expected an argument, found '-1'");
    parse_error("", "line 1, column 1: empty program (no instruction lines)");
    parse_error("# a comment\n\n   \n", "line 1, column 1: empty program (no instruction lines)");
    parse_error("x = rot90(I)\nx = rot90(x)", "line 2, column 1: 'x' is already bound on line 1");
    parse_error("I = rot90(I)", "line 1, column 1: I is the input and cannot be bound");
    parse_error("O = mostcolor(I)",
                "line 1, column 1: the last line gives an integer (mostcolor), a program must end in a grid");
    parse_error("O : rot90(I)", "line 1, column 3: expected '=', found ':'");
    parse_error("O = rot90 I", "line 1, column 11: expected '(', found 'I'");
    parse_error("O = rot90(I) x", "line 1, column 14: unexpected 'x' after ')'");
    parse_error("O = rot90(I", "line 1, column 12: expected ',' or ')', found 'end of line'");
    parse_error("= rot90(I)", "line 1, column 1: expected a name, found '='");
    parse_error("abcdefghijklmnopq = rot90(I)", "line 1, column 1: name longer than 16 characters");
    parse_error("O = 5", "line 1, column 5: expected a primitive, found '5'");
    char nul[] = "O = rot90(I)\nO2 = rot\0(I)";
    arc_dsl_program p;
    mg_err e = {{0}};
    CHECK(arc_dsl_parse(&p, nul, sizeof nul - 1, &e) == -1 &&
              !strcmp(e.msg, "line 2, column 9: NUL byte in the program"),
          "%s", e.msg);
    char big[4096];
    int at = 0;
    int at32 = 0;
    for (int k = 0; k < 33; k++) {
        if (k == 32) at32 = at;
        at += snprintf(big + at, sizeof big - (size_t)at, "x%d = rot90(I)\n", k);
    }
    parse_error(big, "line 33, column 1: program longer than 32 instruction lines");
    big[at32] = 0;  // 32 lines parse
    CHECK(arc_dsl_parse(&p, big, strlen(big), &e) == 0 && p.n == 32, "32 lines: %s", e.msg);
}

static void test_canonical(void) {
    const char *a = "# mirror and join\nleft = flip_lr(I)   # comment\n\n\t both=hconcat( I ,left )\r\n";
    const char *b = "x1 = flip_lr(I)\nO = hconcat(I, x1)\n";
    arc_dsl_program p, q;
    mg_err e = {{0}};
    char ta[ARC_DSL_TEXT_MAX], tb[ARC_DSL_TEXT_MAX];
    CHECK(arc_dsl_parse(&p, a, strlen(a), &e) == 0, "%s", e.msg);
    int n = arc_dsl_format(&p, ta, sizeof ta);
    CHECK(n == (int)strlen(b) && !strcmp(ta, b), "canonical text '%s'", ta);
    CHECK(arc_dsl_parse(&q, ta, strlen(ta), &e) == 0, "%s", e.msg);
    arc_dsl_format(&q, tb, sizeof tb);
    CHECK(!strcmp(ta, tb) && !memcmp(&p.code[0].op, &q.code[0].op, 1), "reparse: '%s'", tb);
    char small[8];
    CHECK(arc_dsl_format(&p, small, sizeof small) == n && !strcmp(small, "x1 = fl"), "truncated format: %s", small);
    const char *c = "x1 = flip_lr(I)\nO = hconcat(x1, I)\n";  // another program, another text
    CHECK(arc_dsl_parse(&q, c, strlen(c), &e) == 0, "%s", e.msg);
    arc_dsl_format(&q, tb, sizeof tb);
    CHECK(strcmp(ta, tb) != 0, "different programs print the same");
    CHECK(arc_dsl_prim_count() >= 30 && !strcmp(arc_dsl_prim_name(0), "rot90") && !arc_dsl_prim_name(-1),
          "%d primitives", arc_dsl_prim_count());
}

// Real training tasks, each with a program that must be exact on every train and test pair.
static const struct {
    const char *id, *prog;
} tasks[] = {
    {"67a3c6ac", "O = flip_lr(I)"},
    {"68b16354", "O = flip_ud(I)"},
    {"74dd1130", "O = transpose(I)"},
    {"3c9b0459", "O = rot180(I)"},
    {"6150a2bd", "O = rot180(I)"},
    {"ed36ccf7", "O = rot270(I)"},
    {"9172f3a0", "O = upscale(I, 3)"},
    {"c59eb873", "O = upscale(I, 2)"},
    {"b1948b0a", "O = replace(I, 6, 2)"},
    {"a416b8f3", "O = hconcat(I, I)"},
    {"c8f0f002", "O = replace(I, 7, 5)"},
    {"d511f180", "O = swap(I, 5, 8)"},
    {"d10ecb37", "O = crop(I, 0, 0, 2, 2)"},
    {"4c4377d9", "x1 = flip_ud(I)\nO = vconcat(x1, I)"},
    {"6fa7a44f", "x1 = flip_ud(I)\nO = vconcat(I, x1)"},
    {"8be77c9e", "x1 = flip_ud(I)\nO = vconcat(I, x1)"},
    {"6d0aefbc", "x1 = flip_lr(I)\nO = hconcat(I, x1)"},
    {"c9e6f938", "x1 = flip_lr(I)\nO = hconcat(I, x1)"},
    {"5614dbcf", "x1 = replace(I, 5, 0)\nO = downscale(x1, 3)"},
    {"5582e5ca", "x1 = mostcolor(I)\nO = fill(I, x1)"},
    {"2dee498d", "O = hsplit(I, 3, 0)"},
    {"f25ffba3", "x1 = bottomhalf(I)\nx2 = flip_ud(x1)\nO = vconcat(x2, x1)"},
    {"3af2c5a8", "x1 = flip_lr(I)\nx2 = hconcat(I, x1)\nx3 = flip_ud(x2)\nO = vconcat(x2, x3)"},
    {"62c24649", "x1 = flip_lr(I)\nx2 = hconcat(I, x1)\nx3 = flip_ud(x2)\nO = vconcat(x2, x3)"},
    {"67e8384a", "x1 = flip_lr(I)\nx2 = hconcat(I, x1)\nx3 = flip_ud(x2)\nO = vconcat(x2, x3)"},
    {"46f33fce", "x1 = crop(I, 1, 1, 9, 9)\nx2 = downscale(x1, 2)\nO = upscale(x2, 4)"},
    {"aabf363d", "x1 = leastcolor(I)\nx2 = replace(I, x1, 0)\nx3 = leastcolor(x2)\nO = replace(x2, x3, x1)"},
    {"0d3d703e", "x1 = swap(I, 3, 4)\nx2 = swap(x1, 1, 5)\nx3 = swap(x2, 2, 6)\nO = swap(x3, 8, 9)"},
    {"f76d97a5", "x1 = replace(I, 5, 0)\nx2 = mostfg(x1)\nx3 = replace(I, x2, 0)\nO = replace(x3, 5, x2)"},
    {"46442a0e", "x1 = rot90(I)\nx2 = hconcat(I, x1)\nx3 = rot270(I)\nx4 = rot180(I)\nx5 = hconcat(x3, x4)\n"
                 "O = vconcat(x2, x5)"},
    {"7fe24cdd", "x1 = rot90(I)\nx2 = hconcat(I, x1)\nx3 = rot270(I)\nx4 = rot180(I)\nx5 = hconcat(x3, x4)\n"
                 "O = vconcat(x2, x5)"},
    {"0520fde7", "x1 = hsplit(I, 2, 0)\nx2 = hsplit(I, 2, 1)\nO = and(x1, x2, 2)"},
    {"8d5021e8", "x1 = flip_lr(I)\nx2 = hconcat(x1, I)\nx3 = flip_ud(x2)\nx4 = vconcat(x3, x2)\nO = vconcat(x4, x3)"},
    {"007bbfb7", "x1 = upscale(I, 3)\nx2 = tile(I, 3, 3)\nO = mask(x2, x1)"},
    {"a68b268e", "x1 = vsplit(I, 2, 0)\nx2 = vsplit(I, 2, 1)\nx3 = hsplit(x1, 2, 0)\nx4 = hsplit(x1, 2, 1)\n"
                 "x5 = hsplit(x2, 2, 0)\nx6 = hsplit(x2, 2, 1)\nx7 = overlay(x6, x5)\nx8 = overlay(x7, x4)\n"
                 "O = overlay(x8, x3)"},
    {"99b1bc43", "x1 = vsplit(I, 2, 0)\nx2 = vsplit(I, 2, 1)\nO = xor(x1, x2, 3)"},
    {"6430c8c4", "x1 = vsplit(I, 2, 0)\nx2 = vsplit(I, 2, 1)\nO = nor(x1, x2, 3)"},
    {"94f9d214", "x1 = vsplit(I, 2, 0)\nx2 = vsplit(I, 2, 1)\nO = nor(x1, x2, 2)"},
    {"fafffa47", "x1 = vsplit(I, 2, 0)\nx2 = vsplit(I, 2, 1)\nO = nor(x1, x2, 2)"},
    {"ce4f8723", "x1 = vsplit(I, 2, 0)\nx2 = vsplit(I, 2, 1)\nO = or(x1, x2, 3)"},
    {"3428a4f5", "x1 = vsplit(I, 2, 0)\nx2 = vsplit(I, 2, 1)\nO = xor(x1, x2, 3)"},
    {"dae9d2b5", "x1 = hsplit(I, 2, 0)\nx2 = hsplit(I, 2, 1)\nO = or(x1, x2, 6)"},
    {"1cf80156", "O = shrink(I, 0)"},
    {"28bf18c6", "x1 = shrink(I, 0)\nO = hconcat(x1, x1)"},
    {"be94b721", "O = largest(I, 0)"},
};

// 1 when prog is exact on every pair of the task file.
static int solves(const char *id, const char *prog) {
    char path[256];
    snprintf(path, sizeof path, "data/arc-agi-1/training/%s.json", id);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    CHECK(root != NULL, "%s: %s", path, jerr.text);
    if (!root) return 0;
    arc_dsl_program p;
    mg_err e = {{0}};
    int ok = arc_dsl_parse(&p, prog, strlen(prog), &e) == 0, pairs = 0;
    CHECK(ok, "%s: %s", id, e.msg);
    const char *split[2] = {"train", "test"};
    for (int s = 0; s < 2 && ok; s++) {
        json_t *list = json_object_get(root, split[s]);
        for (size_t i = 0; i < json_array_size(list) && ok; i++) {
            json_t *pair = json_array_get(list, i);
            arc_grid in, want, got;
            if (arc_grid_from_json(&in, json_object_get(pair, "input"), path, &e) ||
                arc_grid_from_json(&want, json_object_get(pair, "output"), path, &e)) {
                CHECK(0, "%s", e.msg);
                ok = 0;
                break;
            }
            if (arc_dsl_run(vm, &p, &in, NULL, &got, &e)) {
                fprintf(stderr, "  %s %s[%zu]: %s\n", id, split[s], i, e.msg);
                ok = 0;
            } else {
                if (!arc_grid_equal(&got, &want)) fprintf(stderr, "  %s %s[%zu]: wrong grid\n", id, split[s], i);
                ok = arc_grid_equal(&got, &want);
                arc_grid_free(&got);
                pairs++;
            }
            arc_grid_free(&in);
            arc_grid_free(&want);
        }
    }
    json_decref(root);
    return ok && pairs > 0;
}

static void test_tasks(void) {
    int n = (int)(sizeof tasks / sizeof tasks[0]), solved = 0;
    for (int k = 0; k < n; k++) {
        int ok = solves(tasks[k].id, tasks[k].prog);
        CHECK(ok, "%s is not solved by its program", tasks[k].id);
        solved += ok;
    }
    printf("  %d of %d training tasks solved exactly (every train and test pair)\n", solved, n);
    CHECK(solved >= 15, "only %d tasks solved", solved);
}

int main(void) {
    vm = arc_dsl_vm_new();
    test_geometry();
    test_colours();
    test_cells();
    test_budgets();
    test_parse_errors();
    test_canonical();
    test_tasks();
    arc_dsl_vm_free(vm);
    return test_summary("arc_dsl");
}
