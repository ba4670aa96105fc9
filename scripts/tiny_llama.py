"""The config.json of the small Llama models this repo pretrains (the Semantle demo model, the SMILES prior):
one place for the fields transformers' LlamaConfig writes, and the parameter count of such a model."""


def llama_config(vocab_size, hidden, mlp, layers, heads, kv_heads, head_dim, eot_id=0, max_positions=256):
    """A LlamaForCausalLM config with tied embeddings, RoPE theta 10,000 (no scaling) and bos = eos = eot_id."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": eot_id,
        "eos_token_id": eot_id,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": mlp,
        "max_position_embeddings": max_positions,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "num_key_value_heads": kv_heads,
        "pad_token_id": None,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": None,
        "rope_theta": 10000.0,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": vocab_size,
    }


def parameter_count(c):
    """Parameters of LlamaForCausalLM with this config (tied embeddings counted once)."""
    C, F, L = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    D, Hq, Hkv = c["head_dim"], c["num_attention_heads"], c["num_key_value_heads"]
    attention = C * Hq * D + 2 * C * Hkv * D + Hq * D * C
    mlp = 3 * C * F
    per_layer = attention + mlp + 2 * C  # two RMSNorm weights
    embed = c["vocab_size"] * C * (1 if c["tie_word_embeddings"] else 2)
    return embed + L * per_layer + C  # final norm
