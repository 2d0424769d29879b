#!/usr/bin/env python3
"""Per-method reference figures from PEFT: 3 AdamW steps of each method on the tiny llama fixture.

Not part of CI (it needs torch, transformers and peft). Run it from the repository root:

    $(bench/peft-env) Tests/TinhTests/Fixtures/make_peft_method_references.py

For each method it writes Tests/TinhTests/Fixtures/peft-methods/<method>/:

    initial/adapter_config.json, initial/adapter_model.safetensors.gz
        the adapter before the first step, as PEFT saves it (gzipped like the family fixtures' weights) (B is drawn at random instead of PEFT's zeros, so
        that A gets a gradient at step 1 and every tensor is tested from the start)
    reference.json
        the batch (tokens, labels already shifted: -100 where no loss), the optimizer settings, the mean
        cross-entropy loss before each of the 3 steps and after the last, and after step 1's backward the L2
        norm of the gradient of every adapter tensor (PEFT's key, without the ".default" segment)

Methods: lora, rslora, dora, loraplus (PEFT's create_loraplus_optimizer, ratio 16), vera (b drawn at random
instead of PEFT's zeros, for the same reason as LoRA's B). The loss is averaged over
the counted positions, as Tinh's trainer averages it; dropout is 0; AdamW has weight_decay 0 (torch's default
is 0.01, Tinh's 0); lr 1e-2, betas (0.9, 0.999), eps 1e-8. Everything is seeded: a rerun with the same library
versions writes the same files.
"""
import gzip
import json
import shutil
import tempfile
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig, VeraConfig, get_peft_model
from peft.optimizers import create_loraplus_optimizer
from transformers import AutoModelForCausalLM

FIXTURES = Path(__file__).resolve().parent
OUT = FIXTURES / "peft-methods"
FAMILY = "llama"
BATCH, SEQ, STEPS, LR = 2, 12, 3, 1e-2
TARGETS = ["q_proj", "v_proj", "down_proj"]

METHODS = {
    "lora": dict(config=dict(r=4, lora_alpha=8)),
    "rslora": dict(config=dict(r=4, lora_alpha=8, use_rslora=True)),
    "dora": dict(config=dict(r=4, lora_alpha=8, use_dora=True)),
    "loraplus": dict(config=dict(r=4, lora_alpha=8), loraplus_ratio=16.0),
    # VeRA: one shared pair of random projections (saved with the adapter), per-module vectors d and b.
    "vera": dict(config=dict(r=16, d_initial=0.1, projection_prng_key=0, save_projection=True), kind="vera"),
}


def base_model(tmp: Path):
    for f in (FIXTURES / "families" / FAMILY).iterdir():
        if f.suffix == ".gz":
            with gzip.open(f, "rb") as src, open(tmp / f.stem, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copy(f, tmp / f.name)
    return AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32, attn_implementation="eager")


def canonical(name: str) -> str:
    # "base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight" -> "...lora_A.weight"
    name = name.replace(".default", "")
    if name.endswith("lora_magnitude_vector.weight"):
        name = name[: -len(".weight")]
    return name


def main():
    OUT.mkdir(exist_ok=True)
    generator = torch.Generator().manual_seed(5)
    with tempfile.TemporaryDirectory() as tmp:
        base_dir = Path(tmp)
        vocab = base_model(base_dir).config.vocab_size
        tokens = torch.randint(0, vocab, (BATCH, SEQ), generator=generator)
        labels = torch.randint(0, vocab, (BATCH * SEQ,), generator=generator)
        labels[torch.arange(BATCH * SEQ) % SEQ < 2] = -100   # a 2-token "prompt" per sequence
        for method, spec in METHODS.items():
            torch.manual_seed(0)
            if spec.get("kind") == "vera":
                adapter = VeraConfig(target_modules=TARGETS, vera_dropout=0.0, **spec["config"])
            else:
                adapter = LoraConfig(target_modules=TARGETS, lora_dropout=0.0, **spec["config"])
            model = get_peft_model(base_model(base_dir), adapter)
            with torch.no_grad():
                g = torch.Generator().manual_seed(11)
                for name, p in model.named_parameters():
                    if "lora_B" in name or "vera_lambda_b" in name:
                        p.copy_(0.1 * torch.randn(p.shape, generator=g))
            out = OUT / method
            shutil.rmtree(out, ignore_errors=True)
            model.save_pretrained(out / "initial")
            (out / "initial" / "README.md").unlink(missing_ok=True)   # PEFT's model card
            # Deterministic files: no temporary path, target_modules sorted (PEFT saves a set's order).
            config_path = out / "initial" / "adapter_config.json"
            saved = json.loads(config_path.read_text())
            saved["base_model_name_or_path"] = f"Tests/TinhTests/Fixtures/families/{FAMILY}"
            saved["target_modules"] = sorted(saved["target_modules"])
            config_path.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
            weights = out / "initial" / "adapter_model.safetensors"
            with open(weights, "rb") as src, gzip.GzipFile(weights.with_suffix(".safetensors.gz"), "wb", mtime=0) as dst:
                shutil.copyfileobj(src, dst)
            weights.unlink()
            params = [p for p in model.parameters() if p.requires_grad]
            if "loraplus_ratio" in spec:
                opt = create_loraplus_optimizer(model, torch.optim.AdamW, lr=LR, loraplus_lr_ratio=spec["loraplus_ratio"],
                                                weight_decay=0.0, eps=1e-8)
            else:
                opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.0, eps=1e-8)

            def loss_fn():
                logits = model(input_ids=tokens).logits.float().reshape(-1, vocab)
                return torch.nn.functional.cross_entropy(logits, labels, ignore_index=-100)

            losses, grad_norms = [], {}
            for step in range(STEPS):
                opt.zero_grad()
                loss = loss_fn()
                losses.append(loss.item())
                loss.backward()
                if step == 0:
                    grad_norms = {canonical(n): p.grad.norm().item() for n, p in model.named_parameters() if p.requires_grad}
                opt.step()
            with torch.no_grad():
                final = loss_fn().item()
            reference = {
                "source": f"Tests/TinhTests/Fixtures/make_peft_method_references.py: peft {peft.__version__}, "
                          f"transformers {transformers.__version__}, torch {torch.__version__}; base: families/{FAMILY}",
                "method": method, "peft_config": spec["config"], "loraplus_ratio": spec.get("loraplus_ratio"),
                "targets": TARGETS, "lr": LR, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0,
                "batch": BATCH, "seq": SEQ, "tokens": tokens.flatten().tolist(), "labels": labels.tolist(),
                "losses": losses, "final_loss": final, "grad_norms_after_step_1": grad_norms,
            }
            (out / "reference.json").write_text(json.dumps(reference, indent=1, sort_keys=True) + "\n")
            print(f"{method:9s} losses {[round(l, 6) for l in losses]} final {final:.6f} tensors {len(grad_norms)}")


if __name__ == "__main__":
    main()
