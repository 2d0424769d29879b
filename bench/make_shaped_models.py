#!/usr/bin/env python3
"""Random-weight models in the shapes of real checkpoints, for `tinh bench` at real sizes.

Not part of CI (torch + transformers, and gigabytes of disk). From the repository root:

    $(bench/peft-env) bench/make_shaped_models.py --out ~/.cache/tinh/shaped qwen2.5-0.5b llama-3.2-1b
    .build/release/tinh bench --model ~/.cache/tinh/shaped/qwen2.5-0.5b --threads 1 --batch 4 --seq 128

Each model is transformers' own config for that family with the published sizes (vocabulary,
hidden, intermediate, layers, heads, KV heads, head_dim, RoPE θ and scaling, tied head), random
float32 weights (`from_config`, seeded) and `save_pretrained`. The tokenizer is a byte-level BPE
with no merges (256 byte tokens): speed does not depend on which ids the benchmark feeds, and the
LM head still computes every one of the vocabulary's logits.
"""
import argparse
import sys
from pathlib import Path

SHAPES = {
    # Qwen2.5-0.5B: q/k/v biases, tied head, GQA 14/2.
    "qwen2.5-0.5b": ("qwen2", dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                                   num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                                   rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True)),
    # Llama-3.2-1B: llama3 RoPE scaling, tied head, GQA 32/8, head_dim 64.
    "llama-3.2-1b": ("llama", dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                                   num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
                                   rms_norm_eps=1e-5, tie_word_embeddings=True,
                                   rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=32.0, low_freq_factor=1.0,
                                                        high_freq_factor=4.0, original_max_position_embeddings=8192))),
    # Llama-3.2-3B and Llama-3.1-8B ([4/6]): untied head on 8B.
    "llama-3.2-3b": ("llama", dict(vocab_size=128256, hidden_size=3072, intermediate_size=8192, num_hidden_layers=28,
                                   num_attention_heads=24, num_key_value_heads=8, head_dim=128, max_position_embeddings=131072,
                                   rms_norm_eps=1e-5, tie_word_embeddings=True,
                                   rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=32.0, low_freq_factor=1.0,
                                                        high_freq_factor=4.0, original_max_position_embeddings=8192))),
    "llama-3.1-8b": ("llama", dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                                   num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=131072,
                                   rms_norm_eps=1e-5, tie_word_embeddings=False,
                                   rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0,
                                                        high_freq_factor=4.0, original_max_position_embeddings=8192))),
}


def byte_level_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(sorted(alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    return tok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder that gets one model directory per shape")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                        help="weights as saved; bfloat16 as published checkpoints are (an 8B model in float32 needs 32 GB of RAM to build)")
    parser.add_argument("shapes", nargs="+", choices=sorted(SHAPES))
    args = parser.parse_args()
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    for name in args.shapes:
        model_type, fields = SHAPES[name]
        out = Path(args.out).expanduser() / name
        if (out / "config.json").exists():
            print(f"{out}: exists, kept")
            continue
        out.mkdir(parents=True, exist_ok=True)
        config = transformers.AutoConfig.for_model(model_type, **fields)
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config, torch_dtype=getattr(torch, args.dtype))
        model.save_pretrained(out)
        byte_level_tokenizer().save(str(out / "tokenizer.json"))
        params = sum(p.numel() for p in model.parameters())
        print(f"{out}: {model_type}, {params / 1e6:.0f} M parameters")
        del model


if __name__ == "__main__":
    sys.exit(main())
