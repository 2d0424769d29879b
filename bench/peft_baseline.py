#!/usr/bin/env python3
"""PyTorch + PEFT baseline for `tinh bench`: the same GGUF, batch, seq, method (LoRA on q,v), threads
and data kind, timed the same way (training steps after warm-up, median tokens/s, peak RSS).

Run through bench/compare (which makes the venv). Under torchrun (WORLD_SIZE > 1) it trains with
DistributedDataParallel over gloo, each process with --batch sequences per step.
"""
import argparse, json, os, resource, statistics, sys, time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="a .gguf file (transformers dequantizes it to float32) or a Hugging Face model directory")
    p.add_argument("--batch", type=int, default=4, help="sequences per process per step")
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16)
    p.add_argument("--targets", default="q,v")
    p.add_argument("--data", choices=["text", "chat"], default="text")
    p.add_argument("--batches", help="a directory of `tinh bench --batches-out`: train on exactly Tinh's examples of each step, "
                                     "padded to the longest of the step (as DataCollatorForSeq2Seq / padding=True), pad and prompt labels -100")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()

    import torch
    torch.set_num_threads(a.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group("gloo")
    from transformers import AutoModelForCausalLM
    from peft import LoraConfig, get_peft_model

    path = os.path.abspath(a.model)
    if os.path.isdir(path):
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    else:
        model = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path),
                                                     dtype=torch.float32)
    names = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj", "gate": "gate_proj", "up": "up_proj", "down": "down_proj"}
    config = LoraConfig(r=a.rank, lora_alpha=a.alpha, lora_dropout=0.0,
                        target_modules=[names[t] for t in a.targets.split(",")], task_type="CAUSAL_LM")
    model = get_peft_model(model, config)
    model.train()
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    params = [q for q in model.parameters() if q.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)

    vocab = model.module.config.vocab_size if world > 1 else model.config.vocab_size
    g = torch.Generator().manual_seed(rank)
    replay = load_replay(a.batches, rank, world) if a.batches else None
    steps = a.warmup + a.steps
    if replay is not None and len(replay) < steps:
        sys.exit(f"--batches {a.batches} has {len(replay)} steps; --warmup + --steps needs {steps}")
    times, cpu_times, loss_tokens, real_tokens, positions, losses = [], [], 0, 0, 0, []
    for step in range(steps):
        mask = None
        if replay is not None:
            ids, labels, mask, real = padded(replay[step])
        else:
            ids = torch.randint(0, vocab, (a.batch, a.seq), generator=g)
            labels = ids.clone()
            real = a.batch * a.seq
            if a.data == "chat":
                labels[:, : a.seq // 2] = -100  # the prompt half carries no loss (the head still runs there)
        t0, c0 = time.perf_counter(), time.process_time()
        out = model(input_ids=ids, labels=labels, attention_mask=mask)
        losses.append(float(out.loss))
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        if step >= a.warmup:
            times.append(dt)
            cpu_times.append(cpu)
            loss_tokens += int((labels[:, 1:] != -100).sum())
            real_tokens += real
            positions += ids.numel()
    median = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Replayed steps differ in size: their real tokens over their total time (as tinh bench does for a data file).
    mine = [median, rss, statistics.median(cpu_times), real_tokens, sum(times), sum(cpu_times), positions, loss_tokens]
    if world > 1:
        import torch.distributed as dist
        t = torch.tensor(mine, dtype=torch.float64)
        gathered = [torch.zeros_like(t) for _ in range(world)]
        dist.all_gather(gathered, t)
        rows = [x.tolist() for x in gathered]
    else:
        rows = [mine]
    slowest = max(r[0] for r in rows)
    if replay is not None:
        total_real = sum(r[3] for r in rows)
        tokens_per_second = total_real / max(r[4] for r in rows)
        tokens_per_cpu_second = total_real / sum(r[5] for r in rows)
        pad_share = 1 - total_real / sum(r[6] for r in rows)
        loss_fraction = sum(r[7] for r in rows) / total_real
    else:
        tokens_per_second = a.batch * a.seq * world / slowest
        tokens_per_cpu_second = a.batch * a.seq * world / sum(r[2] for r in rows)
        pad_share = 0.0
        loss_fraction = loss_tokens / (a.steps * a.batch * a.seq)
    result = {
        "framework": f"torch {torch.__version__} + peft " + __import__("peft").__version__ + (f" DDP×{world}" if world > 1 else ""),
        "world": world, "threads": a.threads, "batch": a.batch, "seq": a.seq, "data": a.data,
        "tokens_per_second": tokens_per_second,
        "pad_share": pad_share,
        "median_step_seconds": slowest,
        "spread": (max(times) - min(times)) / median,
        "loss_fraction": loss_fraction,
        "peak_rss_megabytes": sum(r[1] for r in rows),
        # tokens per CPU-second: the step's tokens over the CPU time of every thread of every process
        "tokens_per_cpu_second": tokens_per_cpu_second,
        "per_rank_peak_rss_megabytes": [r[1] for r in rows],
        # this process's mean loss per step (warm-up included); under DDP rank 0's share of the batch
        "losses": losses,
    }
    if rank == 0:
        if a.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"{result['framework']}: {result['tokens_per_second']:.1f} tokens/s, peak RSS {result['peak_rss_megabytes']:.0f} MB")
    if world > 1:
        import torch.distributed as dist
        dist.destroy_process_group()


def load_replay(directory, rank, world):
    """Tinh's examples per step: under DDP this process's rank file (Tinh's ranks have the same
    examples); in one process, every rank's examples of a step together (the global batch)."""
    files = sorted((f for f in os.listdir(directory) if f.startswith("rank-") and f.endswith(".json")),
                   key=lambda f: int(f[5:-5]))
    loaded = [json.load(open(os.path.join(directory, f))) for f in files]
    if not loaded:
        sys.exit(f"--batches {directory}: no rank-R.json files")
    if world > 1:
        if len(loaded) != world:
            sys.exit(f"--batches {directory} holds {len(loaded)} ranks' examples; this DDP job has {world}")
        return [s for s in loaded[rank]["steps"]]
    steps = []
    for k in range(min(len(f["steps"]) for f in loaded)):
        steps.append({"examples": [e for f in loaded for e in f["steps"][k]["examples"]],
                      "real_tokens": sum(f["steps"][k]["real_tokens"] for f in loaded)})
    return steps


def padded(step):
    """One step's examples as a batch padded on the right to its longest example: input_ids,
    labels (-100 on pad and outside the loss), attention_mask, and Tinh's count of real tokens."""
    import torch
    examples = step["examples"]
    width = max(len(e["ids"]) for e in examples)
    ids = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e["ids"])
        ids[row, :n] = torch.tensor(e["ids"])
        labels[row, :n] = torch.where(torch.tensor(e["loss"], dtype=torch.bool), ids[row, :n], -100)
        mask[row, :n] = 1
    return ids, labels, mask, step["real_tokens"]


if __name__ == "__main__":
    sys.exit(main())
