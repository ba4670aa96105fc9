// ARC grids: allocation, comparison, and the JSON form of task files and submissions.
#include "tasks/arc/grid.h"

#include <stdlib.h>
#include <string.h>

void arc_grid_init(arc_grid *g, int rows, int cols, uint8_t fill) {
    mgCheck(rows >= 0 && cols >= 0, "arc_grid_init: negative size");
    size_t n = (size_t)rows * (size_t)cols;
    g->rows = rows, g->cols = cols;
    g->cells = n ? mallocCheck(n) : NULL;
    if (n) memset(g->cells, fill, n);
}

void arc_grid_free(arc_grid *g) {
    free(g->cells);
    memset(g, 0, sizeof *g);
}

void arc_grid_copy(arc_grid *dst, const arc_grid *src) {
    arc_grid_init(dst, src->rows, src->cols, 0);
    if (dst->cells) memcpy(dst->cells, src->cells, (size_t)src->rows * (size_t)src->cols);
}

int arc_grid_equal(const arc_grid *a, const arc_grid *b) {
    if (a->rows != b->rows || a->cols != b->cols) return 0;
    size_t n = (size_t)a->rows * (size_t)a->cols;
    return n == 0 || !memcmp(a->cells, b->cells, n);
}

int arc_grid_from_json(arc_grid *g, const json_t *j, const char *where, mg_err *e) {
    if (!json_is_array(j)) return mg_fail(e, "%s: a grid must be a list of rows", where);
    size_t rows = json_array_size(j);
    if (rows == 0 || rows > ARC_MAX_SIDE)
        return mg_fail(e, "%s: %zu rows (a grid has 1 to %d)", where, rows, ARC_MAX_SIDE);
    const json_t *first = json_array_get(j, 0);
    if (!json_is_array(first)) return mg_fail(e, "%s: row 0 is not a list", where);
    size_t cols = json_array_size(first);
    if (cols == 0 || cols > ARC_MAX_SIDE)
        return mg_fail(e, "%s: row 0 has %zu cells (a row has 1 to %d)", where, cols, ARC_MAX_SIDE);
    arc_grid out;
    arc_grid_init(&out, (int)rows, (int)cols, 0);
    for (size_t r = 0; r < rows; r++) {
        const json_t *row = json_array_get(j, r);
        if (!json_is_array(row) || json_array_size(row) != cols) {
            arc_grid_free(&out);
            if (!json_is_array(row)) return mg_fail(e, "%s: row %zu is not a list", where, r);
            return mg_fail(e, "%s: row %zu has %zu cells, row 0 has %zu (rows must be of one length)", where, r,
                           json_array_size(row), cols);
        }
        for (size_t c = 0; c < cols; c++) {
            const json_t *v = json_array_get(row, c);
            json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
            if (x < 0 || x > 9) {
                arc_grid_free(&out);
                return mg_fail(e, "%s: row %zu, column %zu: a cell must be an integer 0..9", where, r, c);
            }
            arc_set(&out, (int)r, (int)c, (uint8_t)x);
        }
    }
    *g = out;
    return 0;
}

json_t *arc_grid_to_json(const arc_grid *g) {
    json_t *rows = json_array();
    for (int r = 0; r < g->rows; r++) {
        json_t *row = json_array();
        for (int c = 0; c < g->cols; c++) json_array_append_new(row, json_integer(arc_at(g, r, c)));
        json_array_append_new(rows, row);
    }
    return rows;
}
