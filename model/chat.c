// Chat prompt formats, spelled out as text with the special tokens inline, exactly as transformers'
// apply_chat_template renders the templates in tests/parity/fixtures/tokenizers/*/tokenizer_config.json.
#include "model/chat.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

chat_format chat_format_detect(const tokenizer *t) {
    if (tokenizer_token_id(t, "<|start_header_id|>") >= 0) return CHAT_LLAMA3;
    if (tokenizer_token_id(t, "<|im_start|>") >= 0) return CHAT_CHATML;
    return CHAT_PLAIN;
}

int chat_format_parse(const char *name, chat_format *out) {
    static const chat_format all[] = {CHAT_PLAIN, CHAT_LLAMA3, CHAT_CHATML};
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, chat_format_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return -1;
}

const char *chat_format_name(chat_format f) {
    switch (f) {
    case CHAT_LLAMA3: return "llama3";
    case CHAT_CHATML: return "chatml";
    default: return "plain";
    }
}

typedef struct {
    char *s;
    size_t len, cap;
} text;

static void put(text *b, const char *s) {
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->cap = 2 * (b->len + n + 1) + 64;
        char *grown = realloc(b->s, b->cap);
        mgCheck(grown != NULL, "out of memory rendering a chat prompt");
        b->s = grown;
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

char *chat_render(chat_format f, const chat_message *msgs, int n, int add_generation_prompt) {
    text b = {0};
    put(&b, f == CHAT_LLAMA3 ? "<|begin_of_text|>" : "");
    for (int i = 0; i < n; i++) {
        const char *role = msgs[i].role ? msgs[i].role : "user";
        const char *content = msgs[i].content ? msgs[i].content : "";
        switch (f) {
        case CHAT_LLAMA3:
            // <|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|>
            put(&b, "<|start_header_id|>");
            put(&b, role);
            put(&b, "<|end_header_id|>\n\n");
            put(&b, content);
            put(&b, "<|eot_id|>");
            break;
        case CHAT_CHATML:  // <|im_start|>ROLE\nCONTENT<|im_end|>\n
            put(&b, "<|im_start|>");
            put(&b, role);
            put(&b, "\n");
            put(&b, content);
            put(&b, "<|im_end|>\n");
            break;
        default:
            if (i) put(&b, "\n\n");
            put(&b, content);
        }
    }
    if (add_generation_prompt) {
        if (f == CHAT_LLAMA3) put(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        if (f == CHAT_CHATML) put(&b, "<|im_start|>assistant\n");
    }
    return b.s;
}
