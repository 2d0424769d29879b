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
    steps = a.warmup + a.steps
    times, cpu_times, loss_tokens = [], [], 0
    for step in range(steps):
        ids = torch.randint(0, vocab, (a.batch, a.seq), generator=g)
        labels = ids.clone()
        if a.data == "chat":
            labels[:, : a.seq // 2] = -100  # the prompt half carries no loss (the head still runs there)
        t0, c0 = time.perf_counter(), time.process_time()
        out = model(input_ids=ids, labels=labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        if step >= a.warmup:
            times.append(dt)
            cpu_times.append(cpu)
            loss_tokens += int((labels[:, 1:] != -100).sum())
    median = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mine = [median, rss, statistics.median(cpu_times)]
    if world > 1:
        import torch.distributed as dist
        t = torch.tensor(mine, dtype=torch.float64)
        gathered = [torch.zeros_like(t) for _ in range(world)]
        dist.all_gather(gathered, t)
        rows = [x.tolist() for x in gathered]
    else:
        rows = [mine]
    slowest = max(r[0] for r in rows)
    result = {
        "framework": f"torch {torch.__version__} + peft " + __import__("peft").__version__ + (f" DDP×{world}" if world > 1 else ""),
        "world": world, "threads": a.threads, "batch": a.batch, "seq": a.seq, "data": a.data,
        "tokens_per_second": a.batch * a.seq * world / slowest,
        "median_step_seconds": slowest,
        "spread": (max(times) - min(times)) / median,
        "loss_fraction": loss_tokens / (a.steps * a.batch * a.seq),
        "peak_rss_megabytes": sum(r[1] for r in rows),
        # tokens per CPU-second: the step's tokens over the CPU time of every thread of every process
        "tokens_per_cpu_second": a.batch * a.seq * world / sum(r[2] for r in rows),
        "per_rank_peak_rss_megabytes": [r[1] for r in rows],
    }
    if rank == 0:
        if a.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"{result['framework']}: {result['tokens_per_second']:.1f} tokens/s, peak RSS {result['peak_rss_megabytes']:.0f} MB")
    if world > 1:
        import torch.distributed as dist
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
