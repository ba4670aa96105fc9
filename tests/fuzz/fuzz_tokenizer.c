// libFuzzer target for the tokenizer: the input is  tokenizer.json  NUL  text  [NUL  tokenizer_config.json].
// A tokenizer that loads must encode any text (or refuse invalid UTF-8 with a message) and decode any ids,
// including ones it never produces, without crashing, leaking or reading out of bounds.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/chat.h"
#include "model/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *json = (const char *)data;
    const char *sep = memchr(json, '\0', size);
    size_t json_len = sep ? (size_t)(sep - json) : size;
    const char *text = sep ? sep + 1 : "";
    size_t text_len = sep ? size - json_len - 1 : 0;
    const char *config = NULL;
    size_t config_len = 0;
    const char *sep2 = memchr(text, '\0', text_len);
    if (sep2) {
        config = sep2 + 1;
        config_len = text_len - (size_t)(sep2 - text) - 1;
        text_len = (size_t)(sep2 - text);
    }

    tokenizer *t;
    mg_err e;
    if (tokenizer_load_from_memory(&t, json, json_len, config, config_len, "fuzz.json", &e) != 0) return 0;
    for (int special = 0; special < 2; special++) {
        int *ids, n;
        if (tokenizer_encode(t, text, text_len, special, &ids, &n, &e) == 0) {
            free(tokenizer_decode(t, ids, n, special));
            free(ids);
        }
    }
    // Arbitrary ids taken from the text bytes, some out of range.
    int vocab = tokenizer_vocab_size(t), n = (int)(text_len / 2);
    int *ids = malloc(((size_t)n + 1) * sizeof *ids);
    for (int i = 0; i < n; i++) {
        int raw = (unsigned char)text[2 * i] | (unsigned char)text[2 * i + 1] << 8;
        ids[i] = raw % (vocab + 4) - 2;
        (void)tokenizer_is_special(t, ids[i]);
    }
    free(tokenizer_decode(t, ids, n, 0));
    free(tokenizer_decode(t, ids, n, 1));
    free(ids);
    (void)chat_format_detect(t);
    (void)tokenizer_bos_id(t);
    (void)tokenizer_eos_id(t);
    tokenizer_free(t);
    return 0;
}
