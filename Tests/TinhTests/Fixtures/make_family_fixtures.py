#!/usr/bin/env python3
"""Builds tiny random-weight models of several architecture families, with their tokenizers and reference figures.

Not part of CI (it needs torch, transformers, tokenizers, sentencepiece, protobuf and gguf). Run it from the
repository root:

    $(bench/peft-env) Tests/TinhTests/Fixtures/make_family_fixtures.py

Nothing is downloaded: every model is built from a config with transformers, every tokenizer is trained here on the
small built-in CORPUS below (byte-level ones with the `tokenizers` library, SentencePiece ones with `sentencepiece`).
Everything is seeded and single-threaded, so a rerun with the same library versions writes byte-identical files
(checked: two runs, same hashes). For each family it writes Tests/TinhTests/Fixtures/families/<family>/:

    config.json, model.safetensors.gz          transformers `save_pretrained` (float32 tensors), gzipped
    tokenizer.json, tokenizer_config.json,     the tokenizer; tokenizer_config.json carries the family's chat_template
    special_tokens_map.json
    tokenizer.model                             (SentencePiece families) the trained sentencepiece model
    reference.json(.gz)                         versions, config, per prompt the token ids, all float32 logits
                                                (6 significant digits) and per position the top-5 ids;
                                                tokenizer_cases (ids, tokens, decoded text), chat_cases
                                                (apply_chat_template text and ids) and, for SentencePiece
                                                families, sentencepiece_cases (sentencepiece's own ids)
    model.gguf.gz                               (llama.cpp architectures) the same weights as F32 in llama.cpp's
                                                tensor names and metadata keys, with the tokenizer and chat template

plus families/llama-sharded/ (the llama model saved in several safetensors shards with model.safetensors.index.json).

Compression: every weight is rounded to a bfloat16 value before saving and before the reference logits are computed
(the files still hold float32), so the weight files gzip about 2x. Weight files are always gzipped (`gzip -9n`, no
name or time stamp), reference.json only when over 100 KB; everything else is plain. Tests/TinhTests/Support/
FamilyFixture.swift unpacks the *.gz files into a temporary directory. Each family directory is 320-480 KB.

Families: llama (Llama 3 style), llama3-scaled (llama3 rope scaling, tied head), mistral (sliding window 8),
qwen2 (q/k/v biases), qwen3 (q/k norms, head_dim 32 != 64/4), gemma2 (soft-capping, query_pre_attn_scalar,
alternating local/global layers, pre/post norms), gemma3 (text-only; local rope base, q/k norms, layer_types),
phi3 (fused qkv_proj and gate_up_proj).

Shapes: hidden 64, 2 layers, 4 heads, 2 KV heads, intermediate 48 (not the 128 first planned: the directories are
dominated by the embedding and by holding every weight twice, safetensors and GGUF, so the MLP was cut to keep
them small; 48 keeps every MLP matrix non-square). Vocabularies: byte-level ones 359-365 tokens (256 byte tokens,
~100 merges, the specials), SentencePiece ones 480 pieces (plus Phi-3's 5 appended tokens). Attention is
transformers' "eager" implementation throughout (Gemma 2's soft-capping needs it). Norm weights and biases are
randomised too (they are initialised to constants), so the fixtures notice a norm that is skipped, mis-shifted
(Gemma's 1 + w) or applied over the wrong axis.

SentencePiece families (mistral, gemma2, gemma3, phi3), made as the real repositories' files were:
  * tokenizer.model: sentencepiece BPE trained on CORPUS (SPM_TRAINER: byte_fallback, identity normalization,
    extra whitespace kept, split digits, whitespace-only pieces), with the family's special pieces: Mistral
    <unk> <s> </s> and [INST] [/INST] as control pieces; Gemma <pad> <eos> <bos> <unk> and <mask>,
    <start_of_turn>, <end_of_turn> as user-defined pieces, no dummy prefix; Phi-3 <unk> <s> </s> (its chat markers
    are added tokens appended after the pieces, as in Phi-3).
  * tokenizer.json: converted from tokenizer.model by transformers (see build_spm): BPE with byte_fallback and
    merges generated from the vocabulary; mistral gets the non-legacy Metaspace pre-tokenizer, gemma the Replace
    normalizer, phi3 the Llama 2 legacy Prepend + Replace normalizer that Phi-3's file has.
  * sentencepiece_cases: sentencepiece's ids for every TOKENIZER_TEXTS entry. tokenizer.json gives the same ids on
    all of them, asserted, with one legitimate exception recorded as tokenizer_json_equal: false: mistral on text
    that starts with a space (" ", "  leading...", "     five...", "    def..."). Metaspace with prepend_scheme
    "first" adds no "▁" to text that already starts with one, while sentencepiece's dummy prefix always adds it
    (" " is "▁" for tokenizers, "▁▁" for sentencepiece). This is how the real Mistral/Llama tokenizer.json behave.
    Phi-3's Prepend normalizer and Gemma's missing dummy prefix have no such gap.

GGUF notes (checked against llama.cpp's convert_hf_to_gguf.py / conversion/*.py, which this script does not use):
  * q_proj/k_proj are permuted (LlamaModel.permute: rows regrouped from HF's rotate-half pairing to llama.cpp's
    interleaved pairs) only for architecture `llama`. HF MistralForCausalLM is converted by LlamaModel, so it is
    architecture `llama` too (there is no separate text `mistral` arch in llama.cpp); Qwen2, Qwen3, Gemma2, Gemma3
    and Phi3 use NeoX-style rope in llama.cpp and are written unpermuted.
  * Gemma RMSNorm computes x * (1 + w); llama.cpp's converter stores w + 1 for every `*norm.weight` (Gemma 2 and
    3, including Gemma 3's q/k norms), so this script does as well.
  * llama3 rope scaling is not a metadata key: the converter writes a `rope_freqs.weight` tensor (head_dim/2 divisors
    of the rope frequencies). It takes original_max_position_embeddings from the top level of config.json with a
    default of 8192; here it is taken from rope_parameters (64), which is what transformers uses.
  * Keys llama.cpp's converter does not write but that this script adds so the file describes the same model as
    config.json: `llama.attention.sliding_window` for mistral (llama.cpp's llama arch ignores sliding windows),
    `gemma2.attention.scale` (1/sqrt(query_pre_attn_scalar); llama.cpp derives it from the model size),
    `gemma3.attention.sliding_window_pattern` (per layer, true = local; llama.cpp's loader, as far as known here and
    not re-checked, hard-codes a period of 6 for Gemma 3 and 2 for Gemma 2) and `gemma2.rope.freq_base` (Gemma2's
    converter writes no rope keys). llama3-scaled gets a GGUF too (llama arch, rope_freqs.weight, no output.weight).
  * Tokenizers: byte-level BPE families are `tokenizer.ggml.model` = "gpt2" with `tokenizer.ggml.pre` "llama-bpe"
    (Llama 3) or "qwen2" (Qwen2 and Qwen3), tokens as in tokenizer.json (byte-level alphabet), merges "a b".
    SentencePiece families are "llama" with pre "default", built from tokenizer.model as llama.cpp's
    _create_vocab_sentencepiece does (gguf_spm_vocab): every piece with sentencepiece's score and type (byte,
    control, unknown, else normal), then every added token of tokenizer_config.json's added_tokens_decoder as
    control (special) with score -1000; plus `tokenizer.ggml.add_space_prefix` (true for mistral and phi3, false
    for Gemma). llama.cpp's SPM tokenizer merges the best-scoring adjacent pair whose concatenation is a piece,
    as sentencepiece does, so GGUF readers are held to sentencepiece_cases.

Checks, all asserted: sentencepiece training is deterministic and puts the special pieces first; transformers and
tokenizers give the same ids for every tokenizer case; tokenizers and sentencepiece agree as described above; the
saved models (and the sharded copy) reload with from_pretrained to bit-identical logits, which match
reference.json's rounded ones; each GGUF read back with gguf.GGUFReader has the planned names and shapes, its
tensors give back the safetensors ones (un-permuting q/k, subtracting Gemma's 1), its token list is the tokenizer's;
and transformers' own GGUF loader reads the same weights back. Arguments: family names to build only those
(default all).
"""
import hashlib
import json
import math
import shutil
import sys
import io
import subprocess
import zlib
from pathlib import Path

import numpy as np
import torch
import transformers
import tokenizers
import gguf
import sentencepiece as spm
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

HIDDEN, LAYERS, HEADS, KV_HEADS, INTERMEDIATE = 64, 2, 4, 2, 48
INIT_STD = 0.1
MAX_POSITIONS = 16          # logits are recorded for at most this many leading tokens of each prompt
SHARD_SIZE = "100KB"

# ---------------------------------------------------------------------------------------------------------------
# Text

CORPUS = [
    "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away.",
    "Once upon a time there was a small model that learned to read and write.",
    "Fine-tuning a language model changes its weights a little, step by step.",
    "We train the model on the data, then we test it on new data and compare the loss.",
    "Hello world! How are you today? I am fine, thank you. What is your name?",
    "She said: \"It's not what you think.\" He replied: 'I'll see, we'll see.'",
    "The year 2026 has 365 days; 3.14159 is close to pi and 2.71828 is close to e.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 100 1000 12345 and 99.5 percent.",
    "Tiếng Việt là ngôn ngữ chính thức của Việt Nam.",
    "Xin chào! Bạn khỏe không? Tôi khỏe, cảm ơn bạn.",
    "Tinh chỉnh mô hình ngôn ngữ lớn trên máy tính của bạn.",
    "Chúng tôi huấn luyện mô hình với dữ liệu tiếng Việt và tiếng Anh.",
    "日本語のテキストと中文的句子。世界你好，你好世界。",
    "機械学習は楽しいです。我们喜欢学习语言模型。",
    "Emoji: 🙂 🚀 👍 ❤️ 🎉 and more 🙂🙂.",
    "def add(a, b):\n    return a + b\n",
    "def f(x):\n    if x > 0:\n        return x * 2\n    return -x\n",
    "for i in range(10):\n    print(i, i ** 2)\n",
    "x = [1, 2, 3]; y = {\"a\": 1, \"b\": 2}; z = (x, y)",
    "if (x >= 10) { return -1; } else { return x + 1; }",
    "https://example.com/path?q=1&r=2 and http://localhost:8080/index.html",
    "ALLCAPS TEXT and lowercase text and MiXeD CaSe TeXt.",
    "User: What is 2+2?\nAssistant: 2+2 is 4.\nUser: And 3*3?\nAssistant: 9.",
    "You are a helpful assistant. Answer briefly and clearly.",
]
CORPUS = CORPUS * 4

PROMPTS = [
    "The quick brown fox jumps over the lazy dog.",
    "🙂 世界, Tiếng Việt!",
    "def add(a, b):\n    return a + b  # 42",
]

TOKENIZER_TEXTS = [
    "Hello world",
    "",
    " ",
    "  leading spaces and trailing  ",
    "     five spaces then text",
    "Numbers: 12345 and 3.14159, year 2026",
    "1 22 333 4444 55555 666666 7777777",
    "Tabs\tand\nnewlines\n\n\nend",
    "Tiếng Việt: tinh chỉnh mô hình ngôn ngữ lớn",
    "Xin chào! Bạn khỏe không?",
    "日本語のテキスト 中文的句子",
    "emoji 🙂🚀 👍🏽 family 👨‍👩‍👧 flag 🇻🇳",
    "naïve café – “quotes” — ©®",
    "    def f(x):\n        return x ** 2\n",
    "ALLCAPS lowercase MiXeD",
    "https://example.com/path?q=1&r=2",
    "don't can't it's we'll I'M you'RE",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "x=a_b+c*d/e; if (x >= 10) { return -1; }",
]

CONVERSATIONS = [
    ("system_user_assistant", [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Xin chào! Bạn khỏe không?"},
        {"role": "assistant", "content": "Tôi khỏe, cảm ơn. 🙂"},
    ]),
    ("user_assistant_user", [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "2+2 is 4."},
        {"role": "user", "content": "And 3*3?"},
    ]),
]

# ---------------------------------------------------------------------------------------------------------------
# Chat templates, modelled on the real families' tokenizer_config.json templates.

# Meta-Llama-3-8B-Instruct.
LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

# Qwen2-7B-Instruct (ChatML with a default system message).
QWEN2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Qwen3 (the released template, tools and thinking included).
QWEN3_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}"""

# Mistral-7B-Instruct-v0.3 with its tool-calling branches left out: the system message goes in front of the last
# user message, [INST]/[/INST] are control tokens, assistant turns end with </s>.
MISTRAL_TEMPLATE = r"""{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}

{%- for message in loop_messages %}
    {%- if (message["role"] == "user") != (loop.index0 % 2 == 0) %}
        {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST] " + system_message + "\n\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST] " + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif message["role"] == "assistant" %}
        {{- " " + message["content"]|trim + eos_token}}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}
"""

# gemma-2-9b-it (no system role: the template raises).
GEMMA2_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
)

# gemma-3-*-it (the system message is prepended to the first user turn).
GEMMA3_TEMPLATE = r"""{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"""

# Phi-3-mini-4k-instruct.
PHI3_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}"
    "{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}"
    "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}"
)

# Pre-tokenizer split patterns, as in the families' tokenizer.json (Llama 3 groups up to 3 digits, Qwen2 splits digits).
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                  r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                 r"\s*[\r\n]+|\s+(?!\S)|\s+")

LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|finetune_right_pad_id|>", "<|start_header_id|>",
                   "<|end_header_id|>", "<|eot_id|>"]
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QWEN3_PLAIN = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]

# ---------------------------------------------------------------------------------------------------------------
# Families

LLAMA3_TOK = dict(kind="bytelevel", pattern=LLAMA3_PATTERN, nfc=False, ignore_merges=True, merges_target=100,
                  specials=LLAMA3_SPECIALS, plain=[], bos="<|begin_of_text|>", eos="<|eot_id|>",
                  pad="<|finetune_right_pad_id|>", unk=None, add_bos=True, tokenizer_class="PreTrainedTokenizerFast",
                  gguf_pre="llama-bpe", template=LLAMA3_TEMPLATE, marker_text="<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>")
QWEN_TOK = dict(kind="bytelevel", pattern=QWEN2_PATTERN, nfc=True, ignore_merges=False, merges_target=100,
                specials=QWEN_SPECIALS, plain=[], bos=None, eos="<|im_end|>", pad="<|endoftext|>", unk=None,
                add_bos=False, tokenizer_class="Qwen2Tokenizer", gguf_pre="qwen2", template=QWEN2_TEMPLATE,
                marker_text="<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
# SentencePiece trainer settings shared by the SPM families, as in the real models' tokenizer.model (BPE, byte
# fallback, identity normalization, extra spaces kept, digits split, whitespace-only pieces allowed). 480 pieces:
# ~116 characters (character_coverage 0.98 of CORPUS; 0.98 is the trainer's minimum), 256 bytes, the specials and
# ~100 merged pieces.
SPM_TRAINER = dict(model_type="bpe", vocab_size=480, byte_fallback=True, character_coverage=0.98,
                   normalization_rule_name="identity", remove_extra_whitespaces=False, split_digits=True,
                   allow_whitespace_only_pieces=True, split_by_whitespace=True, num_threads=1,
                   shuffle_input_sentence=False, minloglevel=2)
# Gemma: <pad> <eos> <bos> <unk> first, <mask> and the turn markers as user-defined pieces, no dummy prefix.
GEMMA_TOK = dict(kind="spm", style="gemma",
                 spm=dict(pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
                          unk_piece="<unk>", user_defined_symbols=["<mask>", "<start_of_turn>", "<end_of_turn>"],
                          add_dummy_prefix=False),
                 front=["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"],
                 appended=[], bos="<bos>", eos="<eos>", pad="<pad>", unk="<unk>", add_bos=True,
                 tokenizer_class="GemmaTokenizer", gguf_pre="default", add_space_prefix=False,
                 marker_text="<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n")

FAMILIES = [
    dict(name="llama", config="LlamaConfig", arch="llama", permute=True, tok=LLAMA3_TOK,
         cfg=dict(head_dim=16, rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
                  max_position_embeddings=256, rms_norm_eps=1e-5, tie_word_embeddings=False)),
    dict(name="llama3-scaled", config="LlamaConfig", arch="llama", permute=True, tok=LLAMA3_TOK,
         cfg=dict(head_dim=16, rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                                                "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                "original_max_position_embeddings": 64},
                  max_position_embeddings=512, rms_norm_eps=1e-5, tie_word_embeddings=True)),
    dict(name="mistral", config="MistralConfig", arch="llama", permute=True,
         tok=dict(kind="spm", style="mistral",
                  spm=dict(unk_id=0, bos_id=1, eos_id=2, pad_id=-1, control_symbols=["[INST]", "[/INST]"],
                           add_dummy_prefix=True),
                  front=["<unk>", "<s>", "</s>", "[INST]", "[/INST]"],
                  appended=[], bos="<s>", eos="</s>", pad=None, unk="<unk>", add_bos=True,
                  tokenizer_class="LlamaTokenizer", gguf_pre="default", add_space_prefix=True, template=MISTRAL_TEMPLATE,
                  marker_text="[INST] Hi[/INST] Hello</s>"),
         cfg=dict(head_dim=16, sliding_window=8, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                  max_position_embeddings=256, rms_norm_eps=1e-5, tie_word_embeddings=False)),
    dict(name="qwen2", config="Qwen2Config", arch="qwen2", permute=False, tok=QWEN_TOK, bias=True,
         cfg=dict(rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, max_position_embeddings=256,
                  rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False)),
    dict(name="qwen3", config="Qwen3Config", arch="qwen3", permute=False, tok=dict(QWEN_TOK, plain=QWEN3_PLAIN, template=QWEN3_TEMPLATE),
         cfg=dict(head_dim=32, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                  max_position_embeddings=256, rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False)),
    dict(name="gemma2", config="Gemma2Config", arch="gemma2", permute=False, gemma=True, tok=dict(GEMMA_TOK, template=GEMMA2_TEMPLATE),
         cfg=dict(head_dim=32, query_pre_attn_scalar=16, attn_logit_softcapping=2.0, final_logit_softcapping=3.0,
                  sliding_window=8, layer_types=["sliding_attention", "full_attention"],
                  rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                  max_position_embeddings=256, rms_norm_eps=1e-6, tie_word_embeddings=True,
                  hidden_activation="gelu_pytorch_tanh")),
    dict(name="gemma3", config="Gemma3TextConfig", arch="gemma3", permute=False, gemma=True, tok=dict(GEMMA_TOK, template=GEMMA3_TEMPLATE),
         cfg=dict(head_dim=32, query_pre_attn_scalar=32, sliding_window=6,
                  layer_types=["sliding_attention", "full_attention"],
                  rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                                   "full_attention": {"rope_type": "default", "rope_theta": 1000000.0}},
                  max_position_embeddings=256, rms_norm_eps=1e-6, tie_word_embeddings=True,
                  hidden_activation="gelu_pytorch_tanh")),
    dict(name="phi3", config="Phi3Config", arch="phi3", permute=False,
         tok=dict(kind="spm", style="phi3", spm=dict(unk_id=0, bos_id=1, eos_id=2, pad_id=-1, add_dummy_prefix=True),
                  front=["<unk>", "<s>", "</s>"],
                  appended=["<|endoftext|>", "<|assistant|>", "<|system|>", "<|end|>", "<|user|>"],
                  rstrip=["<|assistant|>", "<|system|>", "<|end|>", "<|user|>"],   # as in Phi-3's added tokens
                  bos="<s>", eos="<|endoftext|>", pad="<|endoftext|>", unk="<unk>", add_bos=False,
                  # Phi-3 says LlamaTokenizer, but transformers 5's LlamaTokenizer rebuilds the legacy pipeline
                  # (Prepend/Replace normalizer) its own way and then disagrees with tokenizer.json (" " -> 1 id, not 2).
                  tokenizer_class="PreTrainedTokenizerFast", gguf_pre="default", add_space_prefix=True, template=PHI3_TEMPLATE,
                  marker_text="<|user|>\nHi<|end|>\n<|assistant|>\n"),
         cfg=dict(rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, max_position_embeddings=256,
                  original_max_position_embeddings=256, rms_norm_eps=1e-5, tie_word_embeddings=False,
                  sliding_window=None)),
]

# ---------------------------------------------------------------------------------------------------------------
# Tokenizers


def merge_pairs(tok):
    """The trained BPE model's merges as (left, right) pairs, in rank order."""
    merges = json.loads(tok.to_str())["model"]["merges"]
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in merges]


def build_bytelevel(spec):
    """GPT-2 / Llama 3 / Qwen style: split regex, byte-level alphabet, BPE without byte fallback."""
    tok = Tokenizer(models.BPE())
    if spec["nfc"]:
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(spec["pattern"]), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(vocab_size=len(alphabet) + spec["merges_target"], initial_alphabet=alphabet,
                                  min_frequency=2, show_progress=False, special_tokens=[])
    tok.train_from_iterator(CORPUS, trainer)
    if spec["ignore_merges"]:
        j = json.loads(tok.to_str())
        j["model"]["ignore_merges"] = True
        tok = Tokenizer.from_str(json.dumps(j))
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in spec["specials"]])
    if spec["plain"]:
        tok.add_tokens([AddedToken(s, special=False, normalized=False) for s in spec["plain"]])
    if spec["bos"] and spec["add_bos"]:
        bos = spec["bos"]
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1",
                                          special_tokens=[(bos, tok.token_to_id(bos))]),
        ])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def train_spm(spec):
    """A sentencepiece BPE model (tokenizer.model bytes) trained on CORPUS. Single-threaded and unshuffled, so it is
    deterministic; trained twice to make sure."""
    def once():
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(CORPUS), model_writer=buf, **SPM_TRAINER, **spec["spm"])
        return buf.getvalue()
    proto = once()
    assert once() == proto, "sentencepiece training is not deterministic"
    sp = spm.SentencePieceProcessor(model_proto=proto)
    assert [sp.id_to_piece(i) for i in range(len(spec["front"]))] == spec["front"], "special pieces out of place"
    return proto, sp


def build_spm(spec, proto):
    """tokenizer.json from tokenizer.model the way transformers 5 converts it (its SentencePiece extractor, merges
    generated from the vocabulary, then the family tokenizer class's own pipeline):
      mistral: LlamaTokenizer, non-legacy: no normalizer, Metaspace(prepend_scheme "first", split false);
      gemma:   GemmaTokenizer: Replace(" " -> "▁") normalizer, Split(" ", merged_with_previous) (a no-op after it);
      phi3:    the same conversion as mistral, with the Llama 2 legacy normalizer that Phi-3's tokenizer.json has
               (Prepend("▁") + Replace(" " -> "▁"), no pre-tokenizer; written by transformers 4's LlamaConverter,
               which transformers 5 no longer emits) swapped in.
    Then the family's added tokens (Phi-3's chat markers, appended) and a BOS post-processor."""
    import tempfile
    style = spec["style"]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "tokenizer.model"
        path.write_bytes(proto)
        if style == "gemma":
            hf = transformers.GemmaTokenizer.from_pretrained(d, vocab_file=str(path))
        else:
            hf = transformers.LlamaTokenizer.from_pretrained(d, vocab_file=str(path), legacy=False, add_prefix_space=True)
        j = json.loads(hf.backend_tokenizer.to_str())
    assert len(j["model"]["vocab"]) == spm.SentencePieceProcessor(model_proto=proto).get_piece_size()
    assert j["model"]["byte_fallback"] is True
    for t in j["added_tokens"]:
        assert t["id"] < len(j["model"]["vocab"]), f"the conversion added {t['content']!r}"
        if t["content"] in spec["front"]:
            t["special"] = True     # GemmaConverter marks <start_of_turn>/<end_of_turn> special, as Gemma's file has them
    tok = Tokenizer.from_str(json.dumps(j))
    if style == "phi3":
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.pre_tokenizer = None
    rstrip = set(spec.get("rstrip", ()))
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False, rstrip=s in rstrip) for s in spec["appended"]])
    if spec["bos"] and spec["add_bos"]:
        bos = spec["bos"]
        tok.post_processor = processors.TemplateProcessing(single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1",
                                                           special_tokens=[(bos, tok.token_to_id(bos))])
    else:
        tok.post_processor = None
    return tok


def sentencepiece_cases(sp, tok, spec):
    """sentencepiece's own ids for every TOKENIZER_TEXTS entry, and whether tokenizer.json gives the same. Only
    mistral's Metaspace (prepend_scheme "first") may differ, and only on text that starts with a space: Metaspace adds
    no "▁" to text that already starts with one, where sentencepiece's dummy prefix always adds it."""
    cases = []
    for text in TOKENIZER_TEXTS:
        ids = sp.encode(text)
        fast = tok.encode(text, add_special_tokens=False).ids
        same = ids == fast
        if not same:
            assert spec["style"] == "mistral" and text.startswith(" "), f"{spec['style']}: spm {ids} vs tokenizers {fast} on {text!r}"
        cases.append({"text": text, "ids": ids, "pieces": sp.encode_as_pieces(text), "decoded": sp.decode(ids),
                      "tokenizer_json_equal": same})
    return cases


def save_tokenizer(tok, spec, out):
    """tokenizer.json through transformers, then a classic tokenizer_config.json (chat_template inline, the family's
    tokenizer class and flags) and special_tokens_map.json, which transformers 5 no longer writes itself."""
    kwargs = {k: spec[k] for k in ("bos", "eos", "pad", "unk") if spec.get(k)}
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, chat_template=spec["template"],
                                   **{f"{k}_token": v for k, v in kwargs.items()})
    fast.save_pretrained(out)
    (out / "chat_template.jinja").unlink(missing_ok=True)
    added = {}
    for t in json.loads(tok.to_str())["added_tokens"]:
        added[str(t["id"])] = {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}
    config = {
        "add_bos_token": spec["add_bos"],
        "add_eos_token": False,
        "added_tokens_decoder": added,
        "bos_token": spec.get("bos"),
        "chat_template": spec["template"],
        "clean_up_tokenization_spaces": False,
        "eos_token": spec["eos"],
        "model_max_length": 131072,
        "pad_token": spec.get("pad"),
        "tokenizer_class": spec["tokenizer_class"],
        "unk_token": spec.get("unk"),
    }
    if spec["kind"] == "spm":
        config["legacy"] = False
        config["add_prefix_space"] = None if spec["style"] == "phi3" else spec["add_space_prefix"]
        config["sp_model_kwargs"] = {}
        config["spaces_between_special_tokens"] = False
    if spec["kind"] == "bytelevel" and spec["tokenizer_class"] == "Qwen2Tokenizer":
        config["errors"] = "replace"
        config["split_special_tokens"] = False
    additional = [s for s in (spec.get("specials", []) + spec.get("front", []) + spec.get("appended", []))
                  if s not in kwargs.values()]
    config["additional_special_tokens"] = additional
    config = {k: v for k, v in config.items() if v is not None or k in ("bos_token", "pad_token", "unk_token")}
    write_json(out / "tokenizer_config.json", config, compact=False)
    spec["added_tokens_decoder"] = added
    if spec["kind"] == "spm":
        (out / "tokenizer.model").write_bytes(spec["proto"])
    stmap = {f"{k}_token": {"content": v, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}
             for k, v in kwargs.items()}
    stmap["additional_special_tokens"] = additional
    write_json(out / "special_tokens_map.json", stmap, compact=False)


# ---------------------------------------------------------------------------------------------------------------
# Models


def family_seed(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def build_model(fam, tok):
    spec = fam["tok"]
    ids = lambda s: tok.token_to_id(s) if s else None   # noqa: E731
    cfg_cls = getattr(transformers, fam["config"])
    cfg = cfg_cls(vocab_size=tok.get_vocab_size(), hidden_size=HIDDEN, intermediate_size=INTERMEDIATE,
                  num_hidden_layers=LAYERS, num_attention_heads=HEADS, num_key_value_heads=KV_HEADS,
                  initializer_range=INIT_STD, bos_token_id=ids(spec["bos"]), eos_token_id=ids(spec["eos"]),
                  pad_token_id=ids(spec.get("pad")), dtype="float32", **fam["cfg"])
    if fam["name"] == "qwen2":
        assert cfg.to_dict().get("use_sliding_window") is False
    cfg._attn_implementation = "eager"
    torch.manual_seed(family_seed(fam["name"]))
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    # Norm weights and biases start as constants: randomise them (seeded) so they matter.
    g = torch.Generator().manual_seed(family_seed(fam["name"]) + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                noise = 0.2 * torch.randn(p.shape, generator=g)
                p.copy_(noise if fam.get("gemma") else 1.0 + noise)
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        # Every weight a bfloat16 value (still stored as float32): the files compress about 2x, and the logits are
        # those of these rounded weights.
        for p in model.parameters():
            p.data = p.data.to(torch.bfloat16).to(torch.float32)
    return model


def save_model(model, out, **kw):
    import inspect
    if "safe_serialization" in inspect.signature(model.save_pretrained).parameters:
        kw["safe_serialization"] = True     # transformers 4; 5 always writes safetensors
    model.save_pretrained(out, **kw)


def logits_of(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].float()


def sig6(x):
    return float(f"{x:.6g}")


# ---------------------------------------------------------------------------------------------------------------
# GGUF


def permute(w, n_head, n_head_kv):
    """llama.cpp's LlamaModel.permute: HF rotate-half row order -> llama.cpp's interleaved pairs."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head, n_head_kv):
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama3_rope_factors(rope, head_dim):
    """The divisors llama.cpp's converter writes as rope_freqs.weight for rope_type llama3."""
    base = rope["rope_theta"]
    freqs = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    factor, low, high = rope["factor"], rope["low_freq_factor"], rope["high_freq_factor"]
    old = rope["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    out = []
    for f in freqs.tolist():
        wavelen = 2 * math.pi / f
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def gguf_vocab(tok, spec):
    """tokens, token types, scores (SPM) or merges (gpt2) as llama.cpp's converter lays them out."""
    j = json.loads(tok.to_str())
    n = tok.get_vocab_size()
    inv = {i: s for s, i in tok.get_vocab(with_added_tokens=True).items()}
    tokens = [inv[i] for i in range(n)]
    added = {t["id"]: t for t in j["added_tokens"]}
    T = gguf.TokenType
    types, scores = [], []
    if spec["kind"] == "bytelevel":
        for i in range(n):
            if i in added:
                types.append(T.CONTROL if added[i]["special"] else T.USER_DEFINED)
            else:
                types.append(T.NORMAL)
        merges = [" ".join(m) for m in merge_pairs(tok)]
        return tokens, [int(t) for t in types], None, merges
    return gguf_spm_vocab(spec, n)


def gguf_spm_vocab(spec, n):
    """llama.cpp's _create_vocab_sentencepiece: every piece of tokenizer.model with its score and type (unknown,
    control, unused, byte, else normal: user-defined pieces count as normal here), then each entry of
    tokenizer_config.json's added_tokens_decoder overrides its id as control (special) or user-defined, score -1000."""
    sp = spm.SentencePieceProcessor(model_proto=spec["proto"])
    T = gguf.TokenType
    tokens, scores, types = [f"[PAD{i}]" for i in range(n)], [-10000.0] * n, [T.UNUSED] * n
    for i in range(sp.get_piece_size()):
        tokens[i], scores[i] = sp.id_to_piece(i), sp.get_score(i)
        types[i] = (T.UNKNOWN if sp.is_unknown(i) else T.CONTROL if sp.is_control(i) else T.UNUSED if sp.is_unused(i)
                    else T.BYTE if sp.is_byte(i) else T.NORMAL)
    for key, data in spec["added_tokens_decoder"].items():
        i = int(key)
        special = data["special"] or (data["content"].startswith("<|") and data["content"].endswith("|>"))
        tokens[i] = data["content"] if special else data["content"].replace("▁", " ")
        types[i], scores[i] = (T.CONTROL if special else T.USER_DEFINED), -1000.0
    return tokens, [int(t) for t in types], scores, None


def write_gguf(fam, model_dir, tok, path):
    """F32 GGUF from the saved model.safetensors, in llama.cpp's names and keys. Returns {gguf name: (hf name, how)}."""
    from safetensors.torch import load_file
    config = json.loads((model_dir / "config.json").read_text())
    spec = fam["tok"]
    arch = fam["arch"]
    A = getattr(gguf.MODEL_ARCH, arch.upper())
    tmap = gguf.get_tensor_name_map(A, config["num_hidden_layers"])
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(f"tinh-{fam['name']}-fixture")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_block_count(config["num_hidden_layers"])
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(config["hidden_size"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_head_count(config["num_attention_heads"])
    w.add_head_count_kv(config["num_key_value_heads"])
    w.add_layer_norm_rms_eps(config["rms_norm_eps"])
    rope = config["rope_parameters"]
    full_rope = rope.get("full_attention", rope)
    w.add_rope_freq_base(full_rope["rope_theta"])
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    if "head_dim" in config:
        w.add_key_length(config["head_dim"])
        w.add_value_length(config["head_dim"])
    if arch == "llama":
        w.add_vocab_size(config["vocab_size"])
        w.add_rope_dimension_count(head_dim)
        if config.get("sliding_window"):
            w.add_sliding_window(config["sliding_window"])      # not written by llama.cpp's converter
    if arch == "gemma2":
        w.add_attn_logit_softcapping(config["attn_logit_softcapping"])
        w.add_final_logit_softcapping(config["final_logit_softcapping"])
        w.add_sliding_window(config["sliding_window"])
        w.add_float32(gguf.Keys.Attention.SCALE.format(arch=arch), 1.0 / math.sqrt(config["query_pre_attn_scalar"]))
    if arch == "gemma3":
        if config.get("final_logit_softcapping"):
            w.add_final_logit_softcapping(config["final_logit_softcapping"])
        w.add_sliding_window(config["sliding_window"])
        w.add_rope_freq_base_swa(rope["sliding_attention"]["rope_theta"])
        w.add_sliding_window_pattern([t == "sliding_attention" for t in config["layer_types"]])
    if arch == "phi3":
        w.add_rope_scaling_orig_ctx_len(config["original_max_position_embeddings"])
        w.add_rope_dimension_count(int(full_rope.get("partial_rotary_factor", 1.0) * config["hidden_size"]) // config["num_attention_heads"])
        w.add_sliding_window(config.get("sliding_window") or 0)

    tokens, types, scores, merges = gguf_vocab(tok, spec)
    w.add_tokenizer_model("gpt2" if spec["kind"] == "bytelevel" else "llama")
    if spec.get("gguf_pre"):
        w.add_tokenizer_pre(spec["gguf_pre"])
    w.add_token_list(tokens)
    w.add_token_types(types)
    if scores is not None:
        w.add_token_scores(scores)
    if merges is not None:
        w.add_token_merges(merges)
    if spec.get("bos"):
        w.add_bos_token_id(tok.token_to_id(spec["bos"]))
    w.add_eos_token_id(tok.token_to_id(spec["eos"]))
    if spec.get("unk"):
        w.add_unk_token_id(tok.token_to_id(spec["unk"]))
    if spec.get("pad"):
        w.add_pad_token_id(tok.token_to_id(spec["pad"]))
    w.add_add_bos_token(spec["add_bos"])
    w.add_add_eos_token(False)
    if spec["kind"] == "spm":
        w.add_add_space_prefix(spec["add_space_prefix"])
    w.add_chat_template(spec["template"])

    tensors = load_file(str(model_dir / "model.safetensors"))
    n_head, n_kv = config["num_attention_heads"], config["num_key_value_heads"]
    plan = {}
    for hf_name in sorted(tensors):
        t = tensors[hf_name].float()
        name = tmap.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        assert name is not None, f"{fam['name']}: no GGUF name for {hf_name}"
        how = "copy"
        if fam["permute"] and hf_name.endswith(("q_proj.weight", "q_proj.bias")):
            t, how = permute(t, n_head, n_head), "permute_q"
        elif fam["permute"] and hf_name.endswith(("k_proj.weight", "k_proj.bias")):
            t, how = permute(t, n_head, n_kv), "permute_k"
        elif fam.get("gemma") and hf_name.endswith("norm.weight"):
            t, how = t + 1.0, "plus_one"
        w.add_tensor(name, np.ascontiguousarray(t.numpy().astype(np.float32)))
        plan[name] = (hf_name, how, list(t.shape))
    if full_rope.get("rope_type") == "llama3":
        factors = llama3_rope_factors(full_rope, head_dim)
        w.add_tensor("rope_freqs.weight", factors)
        plan["rope_freqs.weight"] = (None, "llama3_rope_factors", list(factors.shape))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return plan, tensors


def check_gguf(fam, path, plan, tensors, tok):
    r = gguf.GGUFReader(str(path))
    arch = r.fields["general.architecture"].contents()
    assert arch == fam["arch"], (arch, fam["arch"])
    n_head = r.fields[f"{arch}.attention.head_count"].contents()
    n_kv = r.fields[f"{arch}.attention.head_count_kv"].contents()
    names = {t.name for t in r.tensors}
    assert names == set(plan), (sorted(names ^ set(plan)))
    for t in r.tensors:
        hf_name, how, shape = plan[t.name]
        data = np.array(t.data).reshape(list(reversed([int(x) for x in t.shape])))
        assert list(data.shape) == shape, (t.name, data.shape, shape)
        assert [int(x) for x in t.shape] == list(reversed(shape)), (t.name, t.shape, shape)
        if hf_name is None:
            continue
        hf = tensors[hf_name].float().numpy()
        if how == "permute_q":
            back = unpermute(torch.from_numpy(data.copy()), n_head, n_head).numpy()
        elif how == "permute_k":
            back = unpermute(torch.from_numpy(data.copy()), n_head, n_kv).numpy()
        elif how == "plus_one":
            back = data - 1.0
            assert np.array_equal(data, (torch.from_numpy(hf) + 1.0).numpy()), t.name
            continue
        else:
            back = data
        assert np.array_equal(back, hf), f"{fam['name']}: {t.name} does not give back {hf_name}"
        if how.startswith("permute"):
            assert not np.array_equal(data, hf), f"{t.name}: permutation was the identity"
    toks = r.fields["tokenizer.ggml.tokens"].contents()
    assert toks == [tok.id_to_token(i) for i in range(tok.get_vocab_size())], "GGUF token list"
    return {
        "architecture": arch,
        "tensors": {t.name: [int(x) for x in t.shape] for t in r.tensors},
        "tensor_source": {k: {"hf": v[0], "transform": v[1]} for k, v in plan.items()},
        "metadata": {f.name: summarise_field(f) for f in r.fields.values() if not f.name.startswith("GGUF.")},
    }


def check_gguf_with_transformers(fam, out):
    """Independent reader: transformers' own GGUF loader (which undoes llama.cpp's q/k permutation and Gemma's
    norm shift) must give back the safetensors weights. The config comes from config.json, since transformers maps
    only some GGUF keys (not head_dim, sliding windows, rope scaling, softcaps); for mistral, whose config
    model_type transformers' GGUF loader does not accept, the GGUF is read as the llama model it is."""
    from transformers import AutoConfig
    kw = dict(dtype=torch.float32, attn_implementation="eager")
    try:
        g = AutoModelForCausalLM.from_pretrained(out, gguf_file="model.gguf", config=AutoConfig.from_pretrained(out), **kw)
    except NotImplementedError:
        g = AutoModelForCausalLM.from_pretrained(out, gguf_file="model.gguf", **kw)
    ref = AutoModelForCausalLM.from_pretrained(out, **kw).state_dict()
    got = g.state_dict()
    worst = 0.0
    for k, v in ref.items():
        assert got[k].shape == v.shape, (fam["name"], k)
        worst = max(worst, (got[k] - v).abs().max().item())
    # (w + 1) - 1 in float32 is w to within half an ulp of 1; everything else must be exact.
    assert worst <= (2.0 ** -24 if fam.get("gemma") else 0.0), f"{fam['name']}: transformers reads the GGUF off by {worst}"
    return worst


def summarise_field(f):
    v = f.contents()
    if isinstance(v, list) and len(v) > 8:
        return {"array_length": len(v), "first": v[:4]}
    if isinstance(v, str) and len(v) > 200:
        return {"string_length": len(v), "sha256": hashlib.sha256(v.encode()).hexdigest()}
    return v


# ---------------------------------------------------------------------------------------------------------------
# Reference


def dumps(obj, level=0):
    """JSON with one-space indentation, but lists of scalars (a row of logits, a token id list) on one line."""
    pad, inner = " " * level, " " * (level + 1)
    if isinstance(obj, dict) and obj:
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {dumps(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return "[\n" + ",\n".join(inner + dumps(v, level + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":") if isinstance(obj, list) else None)


def write_json(path, doc, compact=True):
    tmp = path.with_suffix(path.suffix + ".tmp")
    text = dumps(doc) if compact else json.dumps(doc, indent=1, ensure_ascii=False)
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)


def tokenizer_cases(tok, hf_tok, spec):
    cases = []
    for text in TOKENIZER_TEXTS + [spec["marker_text"]]:
        enc = tok.encode(text, add_special_tokens=False)
        hf_ids = hf_tok(text, add_special_tokens=False)["input_ids"]
        assert hf_ids == enc.ids, f"transformers and tokenizers disagree on {text!r}: {hf_ids} vs {enc.ids}"
        cases.append({"text": text, "ids": enc.ids, "tokens": enc.tokens,
                      "decoded": tok.decode(enc.ids, skip_special_tokens=False)})
    with_special = tok.encode(TOKENIZER_TEXTS[0], add_special_tokens=True).ids
    return cases, {"text": TOKENIZER_TEXTS[0], "ids_with_special_tokens": with_special}


def chat_cases(hf_tok):
    cases = []
    for name, messages in CONVERSATIONS:
        for gen in (False, True):
            case = {"name": name, "messages": messages, "add_generation_prompt": gen}
            try:
                text = hf_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)
                case["text"] = text
                case["ids"] = hf_tok(text, add_special_tokens=False)["input_ids"]
            except Exception as e:   # e.g. Gemma 2 rejects a system message
                case["error"] = str(e)
            cases.append(case)
    return cases


def derived_config(model):
    c = model.config
    d = {"model_type": c.model_type, "architectures": [type(model).__name__], "vocab_size": c.vocab_size,
         "hidden_size": c.hidden_size, "intermediate_size": c.intermediate_size,
         "num_hidden_layers": c.num_hidden_layers, "num_attention_heads": c.num_attention_heads,
         "num_key_value_heads": c.num_key_value_heads,
         "head_dim": getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads,
         "rms_norm_eps": c.rms_norm_eps, "tie_word_embeddings": c.tie_word_embeddings,
         "rope_parameters": getattr(c, "rope_parameters", None),
         "max_position_embeddings": c.max_position_embeddings,
         "hidden_act": getattr(c, "hidden_act", None) or getattr(c, "hidden_activation", None),
         "bos_token_id": c.bos_token_id, "eos_token_id": c.eos_token_id, "pad_token_id": c.pad_token_id}
    for k in ("sliding_window", "layer_types", "query_pre_attn_scalar", "attn_logit_softcapping",
              "final_logit_softcapping", "attention_bias", "original_max_position_embeddings", "use_sliding_window"):
        if hasattr(c, k):
            d[k] = getattr(c, k)
    return d


def prompt_cases(model, tok):
    out, raw = [], []
    for text in PROMPTS:
        ids = tok.encode(text, add_special_tokens=False).ids
        inp = ids[:MAX_POSITIONS]
        logits = logits_of(model, inp)
        raw.append((inp, logits))
        top = torch.topk(logits.double(), 5, dim=-1)
        srt = torch.sort(logits.double(), dim=-1, descending=True).values
        out.append({
            "text": text, "token_ids": ids, "input_ids": inp, "truncated": len(ids) > len(inp),
            "logits": [[sig6(v) for v in row] for row in logits.tolist()],
            "top5_ids": top.indices.tolist(),
            "top5_logits": [[sig6(v) for v in row] for row in top.values.tolist()],
            "top2_gap": [sig6(v) for v in (srt[:, 0] - srt[:, 1]).tolist()],
            "l2": [sig6(v) for v in logits.double().norm(dim=-1).tolist()],
        })
    return out, raw


def check_reload(path, raw, written, what):
    reloaded = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
    reloaded.eval()
    for (inp, logits), case in zip(raw, written):
        again = logits_of(reloaded, inp)
        assert torch.equal(again, logits), f"{what}: reloaded logits differ"
        stored = torch.tensor(case["logits"], dtype=torch.float64)
        err = (stored - again.double()).abs().max().item()
        assert err <= 5e-6 * max(1.0, again.abs().max().item()), f"{what}: written logits off by {err}"


def dir_size(d):
    return sum(f.stat().st_size for f in d.iterdir() if f.is_file())


def make_family(fam, root):
    out = root / fam["name"]
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    spec = fam["tok"]
    sp = None
    if spec["kind"] == "spm":
        spec["proto"], sp = train_spm(spec)
    tok = build_bytelevel(spec) if spec["kind"] == "bytelevel" else build_spm(spec, spec["proto"])
    save_tokenizer(tok, spec, out)
    hf_tok = AutoTokenizer.from_pretrained(out)
    print("   transformers tokenizer class:", type(hf_tok).__name__, flush=True)
    model = build_model(fam, tok)
    save_model(model, out)

    prompts, raw = prompt_cases(model, tok)
    tcases, with_special = tokenizer_cases(tok, hf_tok, spec)
    doc = {
        "source": (f"Tests/TinhTests/Fixtures/make_family_fixtures.py: transformers {transformers.__version__}, "
                   f"torch {torch.__version__}, tokenizers {tokenizers.__version__}, gguf {gguf_version()}; "
                   "random weights (seeded), float32, eager attention; token ids without special tokens"),
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                     "tokenizers": tokenizers.__version__, "gguf": gguf_version(), "python": sys.version.split()[0]},
        "family": fam["name"],
        "seed": family_seed(fam["name"]),
        "config": derived_config(model),
        "tokenizer": {"kind": "byte-level BPE" if spec["kind"] == "bytelevel" else "sentencepiece-style BPE (byte_fallback)",
                      "vocab_size": tok.get_vocab_size(), "bos": spec.get("bos"), "eos": spec["eos"],
                      "pad": spec.get("pad"), "unk": spec.get("unk"), "add_bos_token": spec["add_bos"],
                      "special_tokens": {s: tok.token_to_id(s) for s in
                                         spec.get("specials", []) + spec.get("front", []) + spec.get("appended", [])},
                      "encode_with_special_tokens": with_special},
        "max_positions": MAX_POSITIONS,
        "prompts": prompts,
        "tokenizer_cases": tcases,
        "chat_cases": chat_cases(hf_tok),
    }
    if sp is not None:
        doc["sentencepiece_cases"] = sentencepiece_cases(sp, tok, spec)
        doc["tokenizer"]["sentencepiece"] = {"pieces": sp.get_piece_size(), "add_dummy_prefix": spec["spm"]["add_dummy_prefix"],
                                             "trainer": {k: v for k, v in SPM_TRAINER.items() if k != "minloglevel"}}
    check_reload(out, raw, prompts, fam["name"])
    if fam.get("arch"):
        plan, tensors = write_gguf(fam, out, tok, out / "model.gguf")
        doc["gguf"] = check_gguf(fam, out / "model.gguf", plan, tensors, tok)
        doc["gguf"]["permuted_qk"] = fam["permute"]
        doc["gguf"]["transformers_reads_back_max_abs_diff"] = check_gguf_with_transformers(fam, out)
    write_json(out / "reference.json", doc)
    compress(out)

    if fam["name"] == "llama":
        sharded = root / "llama-sharded"
        if sharded.exists():
            shutil.rmtree(sharded)
        sharded.mkdir()
        save_model(model, sharded, max_shard_size=SHARD_SIZE)
        for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(out / f, sharded / f)
        index = json.loads((sharded / "model.safetensors.index.json").read_text())
        shards = sorted(set(index["weight_map"].values()))
        assert len(shards) >= 2, shards
        check_reload(sharded, raw, prompts, "llama-sharded")
        write_json(sharded / "reference.json", {"family": "llama-sharded", "same_as": "../llama/reference.json",
                                                "shards": shards, "source": doc["source"]})
        compress(sharded)
    return out


def compress(d):
    """Weights (and a large reference.json) as deterministic gzip (-n: no name or time stamp), replacing the file;
    FamilyFixture.swift unpacks every *.gz."""
    for f in sorted(d.iterdir()):
        weights = f.name == "model.gguf" or (f.name.startswith("model") and f.name.endswith(".safetensors"))
        if weights or (f.name == "reference.json" and f.stat().st_size > 100_000):
            subprocess.run(["gzip", "-9nf", str(f)], check=True)


def gguf_version():
    try:
        from importlib.metadata import version
        return version("gguf")
    except Exception:
        return "?"


def main():
    here = Path(__file__).resolve().parent
    root = here / "families"
    root.mkdir(exist_ok=True)
    only = set(sys.argv[1:])
    dirs = []
    for fam in FAMILIES:
        if only and fam["name"] not in only:
            continue
        print(f"== {fam['name']}", flush=True)
        dirs.append(make_family(fam, root))
        if fam["name"] == "llama":
            dirs.append(root / "llama-sharded")
    print("\nsizes:")
    total = 0
    for d in dirs:
        size = dir_size(d)
        total += size
        files = ", ".join(f"{f.name} {f.stat().st_size // 1024} KB" for f in sorted(d.iterdir()))
        print(f"  {d.name:15s} {size / 1024:7.1f} KB   ({files})")
    print(f"  {'total':15s} {total / 1024:7.1f} KB")


if __name__ == "__main__":
    main()
