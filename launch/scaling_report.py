#!/usr/bin/env python3
"""Turns a launch/scaling sweep (OUT/manifest.tsv + each run's metrics.jsonl and summary.json)
into OUT/scaling.csv and OUT/scaling.md, and prints the Markdown table. Standard library only.

Per run, times are medians over the logged steps after the first (start-up effects), from rank 0.
Efficiency = throughput(p) / (p * throughput(1 rank)) within the same setting, scaling, method and
bucket size: for weak scaling it is T(1)/T(p), for strong scaling T(1)/(p*T(p))."""
import csv
import json
import os
import statistics
import sys

FIELDS = ["setting", "hosts", "bandwidth", "delay_ms", "delay_mode", "scaling", "method", "bucket_mb", "ranks",
          "global_batch", "per_rank_batch", "oversubscribed", "steps", "step_s", "compute_s", "forward_s", "backward_s",
          "allreduce_s", "exposed_comm_s", "optimizer_s", "tokens_per_s", "gradient_bytes", "bytes_per_step",
          "trainable", "speedup", "efficiency", "final_loss", "run_dir"]


def median_after_first(rows, key):
    values = [float(r[key]) for r in rows[1:] if key in r] or [float(r[key]) for r in rows if key in r]
    return statistics.median(values) if values else float("nan")


def run_row(fields):
    (setting, hosts, bandwidth, delay_ms, delay_mode, scaling, method, bucket, ranks, gb, prb, over, run_dir) = fields
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        steps = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    if not steps:
        sys.exit(f"{run_dir}/metrics.jsonl: no steps")
    step_s = median_after_first(steps, "seconds")
    forward, backward = median_after_first(steps, "forward_seconds"), median_after_first(steps, "backward_seconds")
    optimizer, allreduce = median_after_first(steps, "optimizer_seconds"), median_after_first(steps, "allreduce_seconds")
    # Newer trainers log compute and exposed communication themselves (overlapped buckets); older
    # ones all-reduce after backward, so all of the all-reduce is exposed.
    # (their compute_seconds is forward + backward without the communication calls made inside backward).
    if "compute_seconds" in steps[0]:
        compute = median_after_first(steps, "compute_seconds") + optimizer
    else:
        compute = forward + backward + optimizer
    exposed_key = next((k for k in ("exposed_communication_seconds", "exposed_comm_seconds", "exposed_seconds") if k in steps[0]), None)
    exposed = median_after_first(steps, exposed_key) if exposed_key else allreduce
    trainable = int(summary.get("trainableParameters", summary.get("trainable_parameters", 0)))
    return {
        "setting": setting, "hosts": hosts, "bandwidth": bandwidth, "delay_ms": delay_ms, "delay_mode": delay_mode,
        "scaling": scaling, "method": method, "bucket_mb": bucket, "ranks": int(ranks), "global_batch": int(gb),
        "per_rank_batch": int(prb), "oversubscribed": over, "steps": len(steps), "step_s": step_s, "compute_s": compute,
        "forward_s": forward, "backward_s": backward, "allreduce_s": allreduce, "exposed_comm_s": exposed,
        "optimizer_s": optimizer, "tokens_per_s": median_after_first(steps, "tokens_per_second"),
        "gradient_bytes": trainable * 4,
        "bytes_per_step": int(summary.get("bytesAllReducedPerStep", summary.get("bytes_all_reduced_per_step", 0))),
        "trainable": trainable, "final_loss": float(steps[-1]["loss"]), "run_dir": run_dir,
    }


def main(out):
    with open(os.path.join(out, "manifest.tsv")) as f:
        rows = [run_row(line.rstrip("\n").split("\t")) for line in f if line.strip()]
    if not rows:
        sys.exit(f"{out}/manifest.tsv: no runs")
    for r in rows:
        base = [b for b in rows if all(b[k] == r[k] for k in ("setting", "scaling", "method", "bucket_mb")) and b["ranks"] == 1]
        if base and base[0]["tokens_per_s"] > 0:
            r["speedup"] = r["tokens_per_s"] / base[0]["tokens_per_s"]
            r["efficiency"] = r["speedup"] / r["ranks"]
        else:
            r["speedup"] = r["efficiency"] = float("nan")
    rows.sort(key=lambda r: (r["setting"] != "node", r["setting"], r["scaling"], r["method"], r["bucket_mb"], r["ranks"]))
    with open(os.path.join(out, "scaling.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    lines = ["| setting | scaling | method | bucket | ranks | batch (global/rank) | step s | compute s | all-reduce s | exposed comm s "
             "| tokens/s | efficiency | bytes all-reduced/step |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        delay = ""
        if r["delay_mode"] == "simulated":
            delay = f" ({r['delay_ms']} ms SIMULATED)"
        elif r["delay_mode"] == "netem":
            delay = f" ({r['delay_ms']} ms netem)"
        ranks = f"{r['ranks']}" + (" (oversubscribed)" if r["oversubscribed"] == "yes" else "")
        lines.append(f"| {r['setting']}{delay} | {r['scaling']} | {r['method']} | {r['bucket_mb']} | {ranks} "
                     f"| {r['global_batch']}/{r['per_rank_batch']} | {r['step_s']:.3f} | {r['compute_s']:.3f} | {r['allreduce_s']:.4f} "
                     f"| {r['exposed_comm_s']:.4f} | {r['tokens_per_s']:.0f} | {100 * r['efficiency']:.1f}% | {r['bytes_per_step']:,} |")
    table = "\n".join(lines)
    with open(os.path.join(out, "scaling.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    print(f"\nwrote {out}/scaling.csv and {out}/scaling.md")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/scaling")
