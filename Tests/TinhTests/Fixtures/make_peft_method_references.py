#!/usr/bin/env python3
"""Per-method reference figures from PEFT: a few AdamW steps of each method on the tiny llama fixture.

Not part of CI (it needs torch, transformers and peft). Run it from the repository root:

    $(bench/peft-env) Tests/TinhTests/Fixtures/make_peft_method_references.py

For each method it writes Tests/TinhTests/Fixtures/peft-methods/<method>/:

    initial/adapter_config.json, initial/adapter_model.safetensors.gz
        the adapter before the first step, as PEFT saves it (gzipped like the family fixtures' weights) (B is drawn at random instead of PEFT's zeros, so
        that A gets a gradient at step 1 and every tensor is tested from the start)
    reference.json
        the batch (tokens, labels already shifted: -100 where no loss), the optimizer settings, the mean
        cross-entropy loss before each step and after the last, and after step 1's backward the L2
        norm of the gradient of every adapter tensor (PEFT's key, without the ".default" segment)

Methods: lora, rslora, dora, loraplus (PEFT's create_loraplus_optimizer, ratio 16), vera (b drawn at random
instead of PEFT's zeros, for the same reason as LoRA's B), and:

    lorafa      PEFT's create_lorafa_optimizer (peft.optimizers): A frozen, B's gradient projected by
                (r/α)²·(A·Aᵀ + 1e-8·I)⁻¹ inside the optimizer, whose Adam is transformers' old AdamW
                ("adamw-hf": denominator √v + ε with v not bias-corrected, step size lr·√(1−β2ᵗ)/(1−β1ᵗ),
                ε 1e-6, its default; betas fixed at (0.9, 0.999)). It computes the projection under bf16
                autocast whenever accelerate's is_bf16_available() is true, which it is on every CPU;
                the script patches that to false, so the reference is float32. Also dumped: B's
                projected gradient at step 1, read back from the optimizer's state (exp_avg_B / (1 − β1)).
    pissa       init_lora_weights="pissa" (exact SVD): A and B are PEFT's own init (not redrawn), the
                base weight becomes the residual (not saved: Tinh computes its own split).
    adalora     AdaLoraConfig init_r 4 → target_r 2, tinit 0, tfinal 0, deltaT 1, total_step 3,
                orth_reg_weight 0.5, betas 0.85; lora_E drawn at random instead of PEFT's zeros (so A and
                B get a loss gradient at step 1). PEFT's forward adds orth_reg_weight·R to the loss when
                labels are given; the script passes them (as shift_labels, already shifted) so that
                PEFT's own forward adds it, and dumps both the cross-entropy ("losses") and PEFT's loss
                with R ("regularized_losses"); the gradients are of the latter. After each optimizer
                step, update_and_allocate(step) (0-based); at each step where it masks (steps 1 and 2
                here) the budget and the masks it sets (rank_pattern) are dumped.
    deltalora   no PEFT implementation: PEFT LoRA with torch AdamW, 4 steps, and after each optimizer
                step t ≥ 1 (0-based) the paper's W ← W + λ·(α/r)·(B′A′ − BA), λ = 2, computed in NumPy
                (float64, added to the float32 W), A, B before and B′, A′ after the step. Dumped besides
                the losses: ‖W − W₀‖_F of every adapted module after the last step.

The loss is averaged over the counted positions, as Tinh's trainer averages it; dropout is 0; AdamW has
weight_decay 0 (torch's default is 0.01, Tinh's 0); lr 1e-2, betas (0.9, 0.999), eps 1e-8 (LoRA-FA: see
above). Everything is seeded: a rerun with the same library versions writes the same files.
"""
import gzip
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import peft
import peft.optimizers.lorafa
import torch
import transformers
from peft import AdaLoraConfig, LoraConfig, VeraConfig, get_peft_model
from peft.optimizers import create_loraplus_optimizer, create_lorafa_optimizer
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
    "lorafa": dict(config=dict(r=4, lora_alpha=8), kind="lorafa"),
    "pissa": dict(config=dict(r=4, lora_alpha=8, init_lora_weights="pissa"), kind="pissa"),
    "adalora": dict(config=dict(init_r=4, target_r=2, lora_alpha=8, tinit=0, tfinal=0, deltaT=1, total_step=STEPS,
                                beta1=0.85, beta2=0.85, orth_reg_weight=0.5), kind="adalora"),
    "deltalora": dict(config=dict(r=4, lora_alpha=8), kind="delta", steps=4, delta_lambda=2.0, delta_start=1),
}

# PEFT's LoRA-FA optimizer projects under bf16 autocast whenever this says bf16 is available (true on
# any CPU): the reference is float32.
peft.optimizers.lorafa.is_bf16_available = lambda *args, **kwargs: False


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


def save_initial(model, out: Path):
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


def lora_modules(model):
    """(PEFT module name, LoRA layer) of every adapted Linear, in model order."""
    return [(name, m) for name, m in model.named_modules() if hasattr(m, "lora_A") and "default" in getattr(m, "lora_A", {})]


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
            kind = spec.get("kind", "lora")
            steps = spec.get("steps", STEPS)
            torch.manual_seed(0)
            if kind == "vera":
                adapter = VeraConfig(target_modules=TARGETS, vera_dropout=0.0, **spec["config"])
            elif kind == "adalora":
                # task_type CAUSAL_LM: without a task type get_peft_model makes a plain PeftModel, whose
                # forward calls the transformers model directly and skips AdaLoraModel.forward, the one
                # that adds orth_reg_weight·R to the loss.
                adapter = AdaLoraConfig(target_modules=TARGETS, lora_dropout=0.0, task_type="CAUSAL_LM", **spec["config"])
            else:
                adapter = LoraConfig(target_modules=TARGETS, lora_dropout=0.0, **spec["config"])
            model = get_peft_model(base_model(base_dir), adapter)
            if kind != "pissa":   # PiSSA's A and B are its init; the others' zero B (VeRA's b, AdaLoRA's E) is redrawn
                with torch.no_grad():
                    g = torch.Generator().manual_seed(11)
                    for name, p in model.named_parameters():
                        if "lora_B" in name and kind != "adalora" or "vera_lambda_b" in name or "lora_E" in name:
                            p.copy_(0.1 * torch.randn(p.shape, generator=g))
            out = OUT / method
            save_initial(model, out)
            eps = 1e-8
            if kind == "lorafa":
                eps = 1e-6   # LoraFAOptimizer's default; create_lorafa_optimizer passes none
                opt = create_lorafa_optimizer(model, r=spec["config"]["r"], lora_alpha=spec["config"]["lora_alpha"], lr=LR)
            elif "loraplus_ratio" in spec:
                opt = create_loraplus_optimizer(model, torch.optim.AdamW, lr=LR, loraplus_lr_ratio=spec["loraplus_ratio"],
                                                weight_decay=0.0, eps=1e-8)
            else:
                params = [p for p in model.parameters() if p.requires_grad]
                opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.0, eps=1e-8)
            extra = {}

            def forward():
                """(mean cross-entropy, the loss PEFT trains on): AdaLoRA's forward adds w·R when given labels."""
                if kind == "adalora":
                    outputs = model(input_ids=tokens, labels=labels.reshape(BATCH, SEQ), shift_labels=labels.reshape(BATCH, SEQ))
                    logits = outputs.logits.float().reshape(-1, vocab)
                    return torch.nn.functional.cross_entropy(logits, labels, ignore_index=-100), outputs.loss
                logits = model(input_ids=tokens).logits.float().reshape(-1, vocab)
                loss = torch.nn.functional.cross_entropy(logits, labels, ignore_index=-100)
                return loss, loss

            if kind == "delta":
                modules = lora_modules(model)
                initial_w = {name: m.base_layer.weight.detach().clone() for name, m in modules}
            losses, trained, grad_norms = [], [], {}
            for step in range(steps):
                opt.zero_grad()
                loss, total = forward()
                losses.append(loss.item())
                trained.append(total.item())
                total.backward()
                if step == 0:
                    grad_norms = {canonical(n): p.grad.norm().item() for n, p in model.named_parameters() if p.requires_grad}
                if kind == "delta":
                    before = {name: (m.lora_A["default"].weight.detach().double().numpy().copy(),
                                     m.lora_B["default"].weight.detach().double().numpy().copy()) for name, m in modules}
                opt.step()
                if kind == "lorafa" and step == 0:
                    beta1 = opt.param_groups[0]["betas"][0]
                    extra["projected_grad_norms_after_step_1"] = {
                        canonical(name + ".lora_B.default.weight"): (opt.state[name + ".lora"]["exp_avg_B"] / (1 - beta1)).norm().item()
                        for name, _ in lora_modules(model)}
                if kind == "adalora":
                    model.base_model.update_and_allocate(step)
                    budget, masking = model.base_model.rankallocator.budget_schedule(step)
                    if masking:
                        pattern = model.peft_config["default"].rank_pattern
                        extra.setdefault("budgets", {})[str(step)] = budget
                        extra.setdefault("masks", {})[str(step)] = {"base_model.model." + canonical(k): v for k, v in pattern.items()}
                if kind == "delta" and step >= spec["delta_start"]:
                    with torch.no_grad():
                        for name, m in modules:
                            a0, b0 = before[name]
                            a1 = m.lora_A["default"].weight.detach().double().numpy()
                            b1 = m.lora_B["default"].weight.detach().double().numpy()
                            update = spec["delta_lambda"] * m.scaling["default"] * (b1 @ a1 - b0 @ a0)
                            m.base_layer.weight.add_(torch.from_numpy(update).float())
            with torch.no_grad():
                final, final_trained = (x.item() for x in forward())
            if kind == "delta":
                extra["delta_w_norms"] = {name: (m.base_layer.weight - initial_w[name]).norm().item() for name, m in modules}
            if kind == "adalora":
                extra["regularized_losses"] = trained
                extra["final_regularized_loss"] = final_trained
            reference = {
                "source": f"Tests/TinhTests/Fixtures/make_peft_method_references.py: peft {peft.__version__}, "
                          f"transformers {transformers.__version__}, torch {torch.__version__}; base: families/{FAMILY}",
                "method": method, "peft_config": spec["config"], "loraplus_ratio": spec.get("loraplus_ratio"),
                "targets": TARGETS, "lr": LR, "betas": [0.9, 0.999], "eps": eps, "weight_decay": 0.0,
                "batch": BATCH, "seq": SEQ, "tokens": tokens.flatten().tolist(), "labels": labels.tolist(),
                "losses": losses, "final_loss": final, "grad_norms_after_step_1": grad_norms,
                **{k: spec[k] for k in ("delta_lambda", "delta_start") if k in spec}, **extra,
            }
            (out / "reference.json").write_text(json.dumps(reference, indent=1, sort_keys=True) + "\n")
            print(f"{method:9s} losses {[round(l, 6) for l in losses]} final {final:.6f} tensors {len(grad_norms)}")


if __name__ == "__main__":
    main()
