// Pretraining learns: a tiny model on a small repetitive corpus must cut its loss well below the uniform-guess
// loss, the run must be reproducible, and a bad corpus line is an error naming file and line.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testing.h"
#include "tools/pretrain/pretrainer.h"

static int saves;
static int count_save(model *m, int step, void *ctx) {
    (void)m, (void)step, (void)ctx;
    saves++;
    return 0;
}

static void write_corpus(const char *path, int bad_line) {
    FILE *f = fopen(path, "w");
    const char *docs[] = {"the sea is deep and blue", "a cat sat on the mat", "ocean waves meet the shore",
                          "the sun rises in the east", "words close to sea: ocean, water, tide"};
    for (int i = 0; i < 60; i++) fprintf(f, "{\"text\": \"%s\"}\n", docs[i % 5]);
    if (bad_line) fprintf(f, "{\"txt\": 3}\n");
    fclose(f);
}

int main(void) {
    char dir[] = "/tmp/migrate_pretrain_XXXXXX", path[256];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/corpus.jsonl", dir);
    write_corpus(path, 0);
    tokenizer *tok;
    mg_err e;
    if (tokenizer_load(&tok, "tests/parity/fixtures/llama3-tiny", &e)) {
        CHECK(0, "%s", e.msg);
        return test_summary("test_pretrain");
    }
    hf_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.architecture, sizeof c.architecture, "LlamaForCausalLM");
    c.vocab_size = 2048, c.hidden_size = 32, c.intermediate_size = 64, c.num_hidden_layers = 2;
    c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 8, c.max_position_embeddings = 64;
    c.rms_norm_eps = 1e-5f, c.rope_theta = 10000, c.tie_word_embeddings = 1, c.bos_token_id = -1, c.pad_token_id = -1;
    corpus train;
    CHECK(corpus_load(&train, path, tok, 2039, 64, &e) == 0, "%s", e.msg);
    CHECK(train.n_docs == 60, "docs %d", train.n_docs);
    pretrain_params p;
    pretrain_params_default(&p);
    p.steps = 40, p.batch_tokens = 256, p.learning_rate = 1e-2f, p.warmup_steps = 5, p.eval_every = 0, p.seed = 3;
    float final_w[2];
    double before = 0, after = 0;
    for (int run = 0; run < 2; run++) {
        model m;
        model_init_random(&m, &c, 42);
        if (run == 0) before = corpus_loss(&m, &train, 256);
        saves = 0;
        CHECK(pretrain_run(&m, &train, NULL, &p, NULL, count_save, NULL, &e) == 0, "%s", e.msg);
        after = corpus_loss(&m, &train, 256);
        final_w[run] = m.params[m.n_params / 2];
        CHECK(saves == 1, "saved %d times", saves);
        model_free(&m);
    }
    printf("  loss %.3f -> %.3f (uniform guess %.3f)\n", before, after, log(2048.0));
    CHECK(after < 0.5 * before, "pretraining did not learn: %.3f -> %.3f", before, after);
    CHECK(final_w[0] == final_w[1], "two runs with the same seed differ");
    corpus_free(&train);
    write_corpus(path, 1);
    CHECK(corpus_load(&train, path, tok, 2039, 64, &e) == -1 && strstr(e.msg, ":61:") && strstr(e.msg, "text"),
          "bad line accepted or badly reported: %s", e.msg);
    unlink(path);
    rmdir(dir);
    tokenizer_free(tok);
    return test_summary("test_pretrain");
}
