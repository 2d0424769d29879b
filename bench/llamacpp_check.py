"""Checks Tinh's GGUF exports with llama.cpp itself (llama-cpp-python, built from its sdist by
bench/llamacpp-check). For each model: trains a few steps of each method with `tinh train`,
exports a LoRA GGUF and merged GGUFs, and compares llama.cpp's logits with `tinh logits` for the
same token ids and adapter. Prints a Markdown table; exits 1 when a check fails.

Checks (issue [5/6]): top-1 equal at every position; F32/F16 within 1e-3 relative L2 (F16 and
BF16 round the merged weights, so their row is reported against that rounding's own expected
size); quantized merges: perplexity on held-out text next to llama.cpp's own quantization of the
same merged F32 model.
"""
import argparse
import ctypes
import gzip
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import llama_cpp

PROMPTS = {
    "smollm2": "<|im_start|>user\nReverse the words: ship bag stone<|im_end|>\n<|im_start|>assistant\nstone / bag / ship<|im_end|>",
    "fixture": "the quick brown fox jumps over the lazy dog and then some more words follow here",
}


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def llama_logits(model, ids, lora=None):
    kw = dict(model_path=model, logits_all=True, n_ctx=max(64, len(ids) + 8), n_threads=2, n_batch=512, verbose=False)
    if lora:
        kw["lora_path"] = lora
    llm = llama_cpp.Llama(**kw)
    llm.eval(ids)
    out = np.asarray(llm.scores[: len(ids)], dtype=np.float64)
    del llm
    return out


def llama_quantize(src, dst, ftype):
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama.cpp could not quantize {src} (ftype {ftype})")


def tinh_logits(tinh, model, prompt, adapter, out):
    cmd = [tinh, "logits", "--model", model, "--prompt", prompt, "--json", "--logits-out", out]
    if adapter:
        cmd += ["--adapter", adapter]
    report = json.loads(run(cmd))
    ids = report["token_ids"]
    return ids, np.fromfile(out, dtype=np.float32).astype(np.float64).reshape(len(ids), -1)


def compare(ref, got):
    """Relative L2 distance, and top-1 agreement as "equal/n": a position where the picks differ
    counts as a tie (listed, not failed) when Tinh's own margin between the two tokens is within
    twice the largest logit deviation at that position, which no implementation can resolve."""
    rel = np.linalg.norm(got - ref) / np.linalg.norm(ref)
    a, b = ref.argmax(1), got.argmax(1)
    equal, ties, hard = int((a == b).sum()), [], 0
    for i in np.nonzero(a != b)[0]:
        margin = ref[i, a[i]] - ref[i, b[i]]
        if margin <= 2 * np.abs(got[i] - ref[i]).max():
            ties.append(f"{margin:.0e}")
        else:
            hard += 1
    text = f"{equal}/{len(a)}" + (f" (+{len(ties)} tie, margin {', '.join(ties)})" if ties else "")
    return rel, (text, hard == 0)


def perplexity(logits, ids):
    x = logits[:-1]
    x = x - x.max(1, keepdims=True)
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    return float(np.exp(-logp[np.arange(len(ids) - 1), ids[1:]].mean()))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tinh", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--fixtures", required=True, help="Tests/TinhTests/Fixtures/families")
    p.add_argument("--models", default="smollm2,llama,qwen2")
    p.add_argument("--methods", default="lora,vera,adalora,pissa")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    tinh, work = a.tinh, a.work
    rows, failures = [], []

    def check(ok, what):
        if not ok:
            failures.append(what)
        return "yes" if ok else "NO"

    data = os.path.join(work, "data")
    if not os.path.exists(os.path.join(data, "train.jsonl")):
        run([tinh, "data", "demo", "--out", data])
    for name in a.models.split(","):
        mdir = os.path.join(work, name)
        os.makedirs(mdir, exist_ok=True)
        if name == "smollm2":
            spec = run([tinh, "fetch", "smollm2"]).strip().splitlines()[-1]
            prompt = PROMPTS["smollm2"]
            # llama.cpp multiplies Q4_1 weights with Q8_1-quantized activations; an F32 copy made by
            # llama.cpp itself isolates the adapter from that.
            base = os.path.join(mdir, "base-f32.gguf")
            if not os.path.exists(base):
                llama_quantize(spec, base, 0)
        else:
            base = os.path.join(mdir, "base.gguf")
            if not os.path.exists(base):
                with gzip.open(os.path.join(a.fixtures, name, "model.gguf.gz")) as f, open(base, "wb") as g:
                    shutil.copyfileobj(f, g)
            spec, prompt = base, PROMPTS["fixture"]
        _, base_tinh = tinh_logits(tinh, base, prompt, None, os.path.join(mdir, "t-base.f32"))
        for method in a.methods.split(","):
            run_dir = os.path.join(mdir, "run-" + method)
            args = ["--method", "lora", "--init", "pissa"] if method == "pissa" else ["--method", method]
            if not os.path.exists(os.path.join(run_dir, "adapter")):
                shutil.rmtree(run_dir, ignore_errors=True)
                run([tinh, "train", "--model", spec, "--data", os.path.join(data, "train.jsonl"), "--out", run_dir,
                     *args, "--targets", "q,k,v,o,gate,up,down", "--steps", "8", "--batch", "4", "--seq", "64",
                     "--lr", "5e-3", "--seed", "1"])
            peft = os.path.join(mdir, "peft-" + method)
            run([tinh, "export", "--run", run_dir, "--out", peft])
            lora = os.path.join(mdir, method + "-lora.gguf")
            run([tinh, "export", "--run", run_dir, "--format", "gguf-lora", "--model", base, "--out", lora])
            ids, ref = tinh_logits(tinh, base, prompt, peft, os.path.join(mdir, "t-" + method + ".f32"))
            effect = np.linalg.norm(ref - base_tinh) / np.linalg.norm(base_tinh)
            got = llama_logits(base, ids, lora)
            rel, (top, ok) = compare(ref, got)
            rows.append((name, method, "LoRA GGUF on F32 base", f"{rel:.2e}", top, f"{effect:.2f}",
                         check(rel < 1e-3 and ok, f"{name} {method} lora")))
            f32 = os.path.join(mdir, f"{method}-merged-f32.gguf")
            run([tinh, "export", "--run", run_dir, "--format", "gguf", "--model", base, "--quant", "f32", "--out", f32])
            rel, (top, ok) = compare(ref, llama_logits(f32, ids))
            rows.append((name, method, "merged F32", f"{rel:.2e}", top, f"{effect:.2f}",
                         check(rel < 1e-3 and ok, f"{name} {method} merged f32")))
            # F16 rounds every merged weight (and llama.cpp rounds the activations to F16 for those
            # products), so its distance to Tinh's F32 logits is that rounding's; the writer itself
            # is checked against llama.cpp's own F16 conversion of the same merged F32 file.
            f16, theirs = os.path.join(mdir, f"{method}-merged-f16.gguf"), os.path.join(mdir, f"{method}-merged-f16-llamacpp.gguf")
            run([tinh, "export", "--run", run_dir, "--format", "gguf", "--model", base, "--quant", "f16", "--out", f16])
            llama_quantize(f32, theirs, 1)
            got, other = llama_logits(f16, ids), llama_logits(theirs, ids)
            rel, (top, ok) = compare(ref, got)
            same, _ = compare(other, got)
            rows.append((name, method, f"merged F16 (vs llama.cpp's F16: {same:.1e})", f"{rel:.2e}", top, f"{effect:.2f}",
                         check(same < 1e-6 and ok, f"{name} {method} merged f16")))
            os.remove(f16)
            os.remove(theirs)
            if method != "lora":
                os.remove(f32)
        # Adapter algebra: the exact sum (cat) of LoRA, VeRA and AdaLoRA (mixed ranks, zero-padded to one).
        trio = [m for m in ["lora", "vera", "adalora"] if m in a.methods.split(",")]
        if len(trio) >= 2:
            combined, lora = os.path.join(mdir, "combined-cat"), os.path.join(mdir, "combined-cat-lora.gguf")
            shutil.rmtree(combined, ignore_errors=True)
            run([tinh, "adapters", "merge", "--model", base, *sum((["--adapter", os.path.join(mdir, "peft-" + m)] for m in trio), []),
                 "--combination", "cat", "--weights", ",".join(["0.5"] * len(trio)), "--out", combined])
            run([tinh, "export", "--model", base, "--adapter", combined, "--format", "gguf-lora", "--out", lora])
            ids, ref = tinh_logits(tinh, base, prompt, combined, os.path.join(mdir, "t-cat.f32"))
            effect = np.linalg.norm(ref - base_tinh) / np.linalg.norm(base_tinh)
            rel, (top, ok) = compare(ref, llama_logits(base, ids, lora))
            rows.append((name, "cat of " + "+".join(trio), "LoRA GGUF on F32 base", f"{rel:.2e}", top, f"{effect:.2f}",
                         check(rel < 1e-3 and ok, f"{name} cat lora")))
        # Quantized merges of the LoRA run: perplexity on held-out text, Tinh's quantizer against llama.cpp's.
        held = [json.loads(l) for l in open(os.path.join(data, "valid.jsonl"))][:40]
        text = "\n".join(e.get("text") or " ".join(m["content"] for m in e.get("messages", [])) for e in held)
        if name != "smollm2":
            text = PROMPTS["fixture"] * 3  # the fixtures have a 256-token context
        f32 = os.path.join(mdir, "lora-merged-f32.gguf")  # kept from the lora method above
        ids, _ = tinh_logits(tinh, base, text, None, os.path.join(mdir, "t-held.f32"))
        ppl_ref = perplexity(llama_logits(f32, ids), ids)
        for quant, ftype in [("q8_0", 7), ("q4_0", 2)]:
            ours = os.path.join(mdir, f"lora-merged-{quant}.gguf")
            theirs = os.path.join(mdir, f"lora-merged-{quant}-llamacpp.gguf")
            run([tinh, "export", "--run", os.path.join(mdir, "run-lora"), "--format", "gguf", "--model", base, "--quant", quant, "--out", ours])
            llama_quantize(f32, theirs, ftype)
            p_ours, p_theirs = perplexity(llama_logits(ours, ids), ids), perplexity(llama_logits(theirs, ids), ids)
            rows.append((name, "lora", f"merged {quant.upper()} ppl (F32 {ppl_ref:.3f})", f"Tinh {p_ours:.3f}",
                         f"llama.cpp {p_theirs:.3f}", f"{len(ids)} tok",
                         check(p_ours - p_theirs <= 0.01 * ppl_ref, f"{name} {quant} ppl")))
            os.remove(ours)
            os.remove(theirs)
    print("| model | method | file | rel. L2 vs tinh logits | top-1 equal | adapter effect | pass |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(f"llama.cpp from llama-cpp-python {llama_cpp.__version__}")
    if failures:
        print("FAILED: " + "; ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
