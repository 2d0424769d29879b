"""Loads a PEFT adapter directory written by Tinh (an export or `tinh adapters merge`) in PEFT over
transformers and compares its logits with `tinh logits --adapter` for the same token ids.
Outside CI (bench/peft-env gives the Python).

    python peft_adapter_check.py --tinh TINH --model HF_DIR --adapter DIR [--adapter DIR ...]
"""
import argparse
import json
import subprocess
import sys
import tempfile

import numpy as np
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

PROMPT = "the quick brown fox jumps over the lazy dog and then some more words follow here"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tinh", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--adapter", action="append", required=True)
    a = p.parse_args()
    torch.set_num_threads(2)
    failed = False
    for adapter in a.adapter:
        with tempfile.NamedTemporaryFile(suffix=".f32") as f:
            out = subprocess.run([a.tinh, "logits", "--model", a.model, "--adapter", adapter, "--prompt", PROMPT,
                                  "--json", "--logits-out", f.name], capture_output=True, text=True, check=True).stdout
            ids = json.loads(out)["token_ids"]
            ours = np.fromfile(f.name, dtype=np.float32).astype(np.float64).reshape(len(ids), -1)
        base = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32)
        model = PeftModel.from_pretrained(base, adapter).eval()
        with torch.no_grad():
            theirs = model(torch.tensor([ids])).logits[0].double().numpy()
        rel = np.linalg.norm(theirs - ours) / np.linalg.norm(ours)
        top = int((theirs.argmax(1) == ours.argmax(1)).sum())
        ok = rel < 1e-4
        failed |= not ok
        print(f"{adapter}: PEFT vs Tinh logits rel L2 {rel:.2e}, top-1 {top}/{len(ids)} {'ok' if ok else 'FAILED'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
