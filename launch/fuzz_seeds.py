#!/usr/bin/env python3
"""Seed inputs for launch/fuzz that Tinh itself does not write: a small valid GGUF (llama
metadata, a byte-level tokenizer, F32/F16/Q8_0/Q4_0 tensors), JSONL lines of every record kind,
and tokenizer texts. Usage: fuzz_seeds.py KIND OUT_DIR."""
import os, struct, sys

def s(text):
    b = text.encode()
    return struct.pack("<Q", len(b)) + b

def kv(key, vtype, payload):
    return s(key) + struct.pack("<I", vtype) + payload

def gguf(with_tensors=True):
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + [chr(c) for c in range(33, 127)] + ["Ġ", "Ġt", "he"]
    merges = ["Ġ t", "h e"]
    meta = [
        kv("general.architecture", 8, s("llama")),
        kv("general.alignment", 4, struct.pack("<I", 32)),
        kv("llama.embedding_length", 4, struct.pack("<I", 8)),
        kv("llama.block_count", 4, struct.pack("<I", 1)),
        kv("llama.feed_forward_length", 4, struct.pack("<I", 16)),
        kv("llama.attention.head_count", 4, struct.pack("<I", 2)),
        kv("llama.attention.head_count_kv", 4, struct.pack("<I", 1)),
        kv("llama.rope.freq_base", 6, struct.pack("<f", 10000.0)),
        kv("llama.attention.layer_norm_rms_epsilon", 6, struct.pack("<f", 1e-5)),
        kv("tokenizer.ggml.model", 8, s("gpt2")),
        kv("tokenizer.ggml.pre", 8, s("smollm")),
        kv("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, len(tokens)) + b"".join(s(t) for t in tokens)),
        kv("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, len(tokens)) + b"".join(struct.pack("<i", 3 if i < 3 else 1) for i in range(len(tokens)))),
        kv("tokenizer.ggml.merges", 9, struct.pack("<IQ", 8, len(merges)) + b"".join(s(m) for m in merges)),
        kv("tokenizer.ggml.bos_token_id", 4, struct.pack("<I", 1)),
        kv("tokenizer.chat_template", 8, s("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}")),
    ]
    # (name, ne, ggml type, bytes)
    tensors = [
        ("token_embd.weight", [8, 4], 0, struct.pack("<32f", *[i / 32 for i in range(32)])),
        ("output_norm.weight", [8], 1, struct.pack("<8e", *[1.0] * 8)),
        ("blk.0.attn_q.weight", [32, 2], 8, (struct.pack("<e", 0.5) + bytes(range(32))) * 2),   # Q8_0: f16 scale + 32 int8
        ("blk.0.ffn_up.weight", [32, 1], 2, struct.pack("<e", 0.25) + bytes(range(16))),        # Q4_0: f16 scale + 16 nibble bytes
    ] if with_tensors else []
    infos, data = b"", b""
    for name, ne, t, raw in tensors:
        while len(data) % 32: data += b"\0"
        infos += s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne) + struct.pack("<IQ", t, len(data))
        data += raw
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)) + b"".join(meta) + infos
    while len(head) % 32: head += b"\0"
    return head + data

def main():
    kind, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    def put(name, data):
        with open(os.path.join(out, name), "wb") as f: f.write(data if isinstance(data, bytes) else data.encode())
    if kind == "gguf":
        put("tiny.gguf", gguf())
        put("metadata-only.gguf", gguf(with_tensors=False))
    elif kind == "jsonl":
        put("text.jsonl", '{"text": "hello world"}\n{"text": "second line"}\n')
        put("pc.jsonl", '{"prompt": "2+2=", "completion": "4"}\n\n{"prompt": "a", "completion": "b"}\n')
        put("chat.jsonl", '{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello <|im_end|>"}]}\n')
        put("mixed.jsonl", '{"text": "\\u00e9\\ud83d\\ude00"}\n{"messages": [{"role": "user", "content": "x"}]}\nnot json\n')
    elif kind == "tokenizer":
        put("ascii", "The quick brown fox jumps over 1234 lazy dogs.\n\tTabs  and   spaces ")
        put("special", "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<|endoftext|>")
        put("unicode", "Tiếng Việt, 日本語, emoji 😀👍🏽, combining e\u0301, RTL \u05e9\u05dc\u05d5\u05dd")
        put("code", "def f(x):\n    return x**2  # it's, we'll, I'M\r\n")
    else:
        sys.exit(f"unknown seed kind {kind}")

if __name__ == "__main__":
    main()
