// chat_render against transformers' apply_chat_template: tests/parity/fixtures/tokenizers/chat_cases.json holds
// conversations rendered by transformers (make_tokenizer_fixtures.py) with the templates in each fixture's
// tokenizer_config.json, and their ids; we render the same messages and encode with add_special_tokens = 0.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/chat.h"
#include "testing.h"

#define DIR "tests/parity/fixtures/tokenizers"

static void test_names(void) {
    chat_format f = CHAT_PLAIN;
    CHECK(chat_format_parse("llama3", &f) == 0 && f == CHAT_LLAMA3, "llama3");
    CHECK(chat_format_parse("chatml", &f) == 0 && f == CHAT_CHATML, "chatml");
    CHECK(chat_format_parse("plain", &f) == 0 && f == CHAT_PLAIN, "plain");
    CHECK(chat_format_parse("Llama3", &f) == -1 && chat_format_parse("", &f) == -1 && chat_format_parse(NULL, &f) == -1,
          "unknown names");
    CHECK(strcmp(chat_format_name(CHAT_LLAMA3), "llama3") == 0 && strcmp(chat_format_name(CHAT_CHATML), "chatml") == 0 &&
              strcmp(chat_format_name(CHAT_PLAIN), "plain") == 0,
          "names");
    const char *dirs[] = {DIR "/llama3", DIR "/qwen2", DIR "/gpt2"};
    chat_format want[] = {CHAT_LLAMA3, CHAT_CHATML, CHAT_PLAIN};
    for (int i = 0; i < 3; i++) {
        tokenizer *t;
        mg_err e = {{0}};
        if (tokenizer_load(&t, dirs[i], &e)) {
            CHECK(0, "%s", e.msg);
            continue;
        }
        CHECK(chat_format_detect(t) == want[i], "detect %s", dirs[i]);
        tokenizer_free(t);
    }
}

static void test_render_basics(void) {
    chat_message m[] = {{"system", "S"}, {"user", "U"}};
    char *s = chat_render(CHAT_LLAMA3, m, 2, 1);
    CHECK(strcmp(s, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user"
                    "<|end_header_id|>\n\nU<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n") == 0,
          "llama3: %s", s);
    free(s);
    s = chat_render(CHAT_CHATML, m, 2, 1);
    CHECK(strcmp(s, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n") == 0,
          "chatml: %s", s);
    free(s);
    s = chat_render(CHAT_PLAIN, m, 2, 1);
    CHECK(strcmp(s, "S\n\nU") == 0, "plain: %s", s);
    free(s);
    s = chat_render(CHAT_CHATML, NULL, 0, 0);
    CHECK(s && s[0] == '\0', "no messages");
    free(s);
}

static void test_against_transformers(void) {
    json_error_t jerr;
    json_t *cases = json_load_file(DIR "/chat_cases.json", 0, &jerr);
    CHECK(cases != NULL, "%s: %s", DIR "/chat_cases.json", jerr.text);
    if (!cases) return;
    tokenizer *toks[3] = {0};
    const char *families[] = {"llama3", "qwen2", "gpt2"};
    for (int i = 0; i < 3; i++) {
        char path[128];
        mg_err e = {{0}};
        snprintf(path, sizeof path, DIR "/%s", families[i]);
        CHECK(tokenizer_load(&toks[i], path, &e) == 0, "%s", e.msg);
    }
    int text_ok = 0, ids_ok = 0, n = 0;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        chat_format f = CHAT_PLAIN;
        chat_format_parse(json_string_value(json_object_get(c, "format")), &f);
        json_t *msgs = json_object_get(c, "messages");
        int nm = (int)json_array_size(msgs);
        chat_message *m = calloc((size_t)nm + 1, sizeof *m);
        for (int k = 0; k < nm; k++) {
            m[k].role = json_string_value(json_object_get(json_array_get(msgs, (size_t)k), "role"));
            m[k].content = json_string_value(json_object_get(json_array_get(msgs, (size_t)k), "content"));
        }
        char *text = chat_render(f, m, nm, json_is_true(json_object_get(c, "add_generation_prompt")));
        const char *want = json_string_value(json_object_get(c, "text"));
        n++;
        if (strcmp(text, want) == 0) text_ok++;
        else fprintf(stderr, "case %zu: rendered\n%s\n--- transformers:\n%s\n", i, text, want);

        const char *family = json_string_value(json_object_get(c, "family"));
        tokenizer *t = NULL;
        for (int k = 0; k < 3; k++)
            if (strcmp(family, families[k]) == 0) t = toks[k];
        int *ids = NULL, count = 0;
        mg_err e = {{0}};
        json_t *want_ids = json_object_get(c, "ids");
        if (t && tokenizer_encode(t, text, strlen(text), 0, &ids, &count, &e) == 0 &&
            (size_t)count == json_array_size(want_ids)) {
            int same = 1;
            for (int k = 0; k < count; k++) same &= ids[k] == json_integer_value(json_array_get(want_ids, (size_t)k));
            ids_ok += same;
        }
        free(ids);
        free(text);
        free(m);
    }
    printf("chat: %d/%d renders equal transformers' apply_chat_template, %d/%d token ids equal\n", text_ok, n, ids_ok,
           n);
    CHECK(n >= 20 && text_ok == n && ids_ok == n, "chat parity");
    for (int k = 0; k < 3; k++) tokenizer_free(toks[k]);
    json_decref(cases);
}

int main(void) {
    test_names();
    test_render_basics();
    test_against_transformers();
    return test_summary("test_chat");
}
