// Prompt formats: the Llama-3 header format, ChatML (Qwen2/2.5) and plain text.
#pragma once
#include "model/tokenizer.h"

typedef enum { CHAT_PLAIN = 0, CHAT_LLAMA3, CHAT_CHATML } chat_format;

typedef struct {
    const char *role;     // "system", "user", "assistant"
    const char *content;
} chat_message;

// Picks the format from the tokenizer's special tokens (<|start_header_id|> -> Llama-3, <|im_start|> -> ChatML).
chat_format chat_format_detect(const tokenizer *t);
int chat_format_parse(const char *name, chat_format *out);  // "plain" | "llama3" | "chatml"; -1 if unknown
const char *chat_format_name(chat_format f);
// Renders messages as text with special tokens spelled out, identical to transformers' apply_chat_template
// (tokenize=False) for these families; encode the result with add_special_tokens = 0. Plain: contents joined by
// "\n\n". add_generation_prompt appends the assistant header. Returns a malloc'd string.
char *chat_render(chat_format f, const chat_message *msgs, int n, int add_generation_prompt);
