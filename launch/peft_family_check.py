#!/usr/bin/env python3
"""Loads each of Tinh's family LoRA exports (launch/check-peft-families) with PEFT and compares the loss.

Arguments: the export directory (one folder per family with adapter_config.json, adapter_model.safetensors
and tinh_loss.json) and the fixture directory (Tests/TinhTests/Fixtures/families, weights gzipped).
The loss is the mean cross-entropy over the positions whose label is not -100, computed from PEFT's float32
logits exactly as Tinh counts it (labels are already the next tokens: no shift). Exits 1 if any family's
relative difference exceeds 1e-4.
"""
import gzip
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

exports, fixtures = Path(sys.argv[1]), Path(sys.argv[2])
failed = False
for family_dir in sorted(p for p in exports.iterdir() if p.is_dir()):
    family = family_dir.name
    record = json.loads((family_dir / "tinh_loss.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for f in (fixtures / family).iterdir():
            if f.suffix == ".gz":
                with gzip.open(f, "rb") as src, open(base / f.stem, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            else:
                shutil.copy(f, base / f.name)
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, attn_implementation="eager")
        model = PeftModel.from_pretrained(model, family_dir).eval()
        tokens = torch.tensor(record["tokens"]).view(record["batch"], record["seq"])
        labels = torch.tensor(record["labels"])
        with torch.no_grad():
            logits = model(input_ids=tokens).logits.float().reshape(-1, model.config.vocab_size)
            peft_loss = torch.nn.functional.cross_entropy(logits, labels, ignore_index=-100).item()
            with model.disable_adapter():
                base_logits = model(input_ids=tokens).logits.float().reshape(-1, model.config.vocab_size)
                base_loss = torch.nn.functional.cross_entropy(base_logits, labels, ignore_index=-100).item()
    rel = abs(peft_loss - record["loss"]) / abs(record["loss"])
    ok = rel <= 1e-4
    failed |= not ok
    print(f"{family:14s} tinh {record['loss']:.7f}  peft {peft_loss:.7f}  relative {rel:.1e}  "
          f"(base: tinh {record['base_loss']:.7f}, transformers {base_loss:.7f})  {'ok' if ok else 'FAILED'}")
sys.exit(1 if failed else 0)
