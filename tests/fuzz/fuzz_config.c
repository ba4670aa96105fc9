// libFuzzer target: a run config. Input = YAML text, or "key=value" NUL YAML text to add one --set override
// (the YAML part may hold more NULs). Whatever run_config_read_text accepts (a molecule objective compiled too)
// must dump to YAML that parses back to the same configuration; whatever it rejects must come with one line that
// names the file or the --set argument.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/run_config.h"
#include "coordinator/run_job.h"

#include "tests/fuzz/fuzz_require.h"

// Equal but for the text pointer (the dump's text differs from the input's) and the name.
static int same_config(run_config *a, run_config *b) {
    char *ta = a->text, *tb = b->text;
    a->text = b->text = NULL;
    memset(a->path, 0, sizeof a->path), memset(b->path, 0, sizeof b->path);
    int same = memcmp(a, b, sizeof *a) == 0;
    a->text = ta, b->text = tb;
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    const char *nul = memchr(text, 0, size);
    char *override = NULL;
    size_t len = size;
    if (nul) {
        size_t n = (size_t)(nul - text);
        override = malloc(n + 1);
        memcpy(override, text, n);
        override[n] = 0;
        text = nul + 1, len = size - n - 1;
    }
    const char *ovs[1] = {override};
    run_config c;
    mg_err e = {{0}};
    int rc = run_config_read_text(&c, text, len, "fuzz/run.yaml", ovs, override ? 1 : 0, &e);
    if (rc != 0) {
        require(e.msg[0] && strchr(e.msg, '\n') == NULL);
        require(strncmp(e.msg, "fuzz/run.yaml", 13) == 0 || strncmp(e.msg, "--set ", 6) == 0);
        require(c.text == NULL);
        free(override);
        return 0;
    }
    require(c.text && memcmp(c.text, text, len) == 0 && c.text[len] == 0);
    require(c.model[0] && c.output_dir[0] && c.iterations >= 1 && c.top_k >= 1 && c.lora_r >= 1);
    require(c.top_p > 0 && c.top_p <= 1 && c.epsilon_high >= c.epsilon && !isnan(c.solved_reward));
    require(c.strategy >= STRATEGY_RANDOM && c.strategy <= STRATEGY_MIGRATE && c.lora_target_modules[0]);
    require(memchr(c.prompt, 0, sizeof c.prompt) && memchr(c.target, 0, sizeof c.target));
    // The dump must read back as the same configuration, and dump the same again.
    char *dumped = NULL, *again = NULL;
    size_t dumped_len = 0, again_len = 0;
    FILE *f = open_memstream(&dumped, &dumped_len);
    run_config_dump(&c, f);
    fclose(f);
    run_config d;
    mg_err e2 = {{0}};
    int rc2 = run_config_parse(&d, dumped, dumped_len, "fuzz/dump.yaml", NULL, 0, &e2);
    if (rc2 != 0) fprintf(stderr, "dump does not parse: %s\n%s", e2.msg, dumped);
    require(rc2 == 0);
    require(same_config(&c, &d));
    f = open_memstream(&again, &again_len);
    run_config_dump(&d, f);
    fclose(f);
    require(again_len == dumped_len && memcmp(again, dumped, dumped_len) == 0);
    free(again);
    free(dumped);
    run_config_free(&d);
    run_config_free(&c);
    free(override);
    return 0;
}
