// libFuzzer target: what `migrate report` parses from files a run, an ablation or a sweep left, perhaps cut short
// or damaged. Input = metrics.jsonl text, then optionally NUL and CSV text. The metrics parser keeps only JSON
// object lines and describes the first dropped one in a note of one line; the CSV parser splits every row into
// NUL-terminated fields that lie inside the text; a curve built from the metrics answers lookups anywhere.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/report/report.h"

#include "tests/fuzz/fuzz_require.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    const char *nul = memchr(text, 0, size);
    size_t metrics_len = nul ? (size_t)(nul - text) : size;

    report_metrics m = {0};
    char note[300];
    report_metrics_parse(&m, text, metrics_len, "metrics.jsonl", note, sizeof note);
    size_t lines = 1;
    for (size_t i = 0; i < metrics_len; i++) lines += text[i] == '\n';
    require((size_t)m.n <= lines);
    require(!strchr(note, '\n') && strlen(note) < sizeof note);
    report_curve c = {0};
    for (int i = 0; i < m.n; i++)
        if (isfinite(m.col[RM_ORACLE_CALLS][i])) report_curve_add(&c, (double)i, m.col[RM_ORACLE_CALLS][i]);
    require(isnan(report_curve_at(&c, -1.0)));
    if (c.n) require(report_curve_at(&c, 1e300) == c.y[c.n - 1]);
    report_curve_free(&c);
    report_metrics_free(&m);

    if (nul) {
        size_t len = size - metrics_len - 1;
        char *csv_text = malloc(len + 1);
        memcpy(csv_text, nul + 1, len);
        csv_text[len] = 0;
        size_t visible = strlen(csv_text);
        report_csv csv;
        int rows = report_csv_parse(&csv, csv_text);
        require(rows == csv.n && rows >= 0);
        for (int i = 0; i < csv.n; i++)
            for (int j = 0; csv.rows[i][j]; j++)
                require(csv.rows[i][j] >= csv.text && csv.rows[i][j] <= csv.text + visible);
        if (csv.n) report_csv_column(&csv, "strategy");
        report_csv_free(&csv);
    }
    return 0;
}
