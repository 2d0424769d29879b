#!/usr/bin/env python3
"""Plots of a launch/scaling sweep directory (the projection lines assume per-rank compute stays as
at 1 rank; the crosses use each measured run's own compute, as the model check does):
OUT/scaling.png     throughput and efficiency against ranks (weak and strong scaling)
OUT/split.png       per-step compute and exposed communication per setting, method and ranks
OUT/bytes.png       bytes all-reduced per step per method
OUT/projection.png  per setting: measured all-reduce times beside the alpha-beta fit, and the
                    predicted weak-scaling efficiency to 4096 ranks beside the measured points."""
import csv
import glob
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def label(r):
    delay = ""
    if r["delay_mode"] == "simulated":
        delay = f", {r['delay_ms']} ms SIMULATED"
    bucket = "" if r["bucket_mb"] == "default" else f", bucket {r['bucket_mb']}"
    return f"{r['method']} [{r['setting']}{delay}{bucket}]"


def scaling_plot(rows, out, note):
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), dpi=110)
    for col, scaling in enumerate(["weak", "strong"]):
        series = defaultdict(list)
        for r in rows:
            if r["scaling"] == scaling:
                series[label(r)].append(r)
        for name, rs in sorted(series.items()):
            rs.sort(key=lambda r: int(r["ranks"]))
            x = [int(r["ranks"]) for r in rs]
            axes[0][col].plot(x, [float(r["tokens_per_s"]) for r in rs], marker="o", label=name)
            axes[1][col].plot(x, [100 * float(r["efficiency"]) for r in rs], marker="o", label=name)
            for r in rs:
                if r["oversubscribed"] == "yes":
                    axes[1][col].annotate("oversubscribed", (int(r["ranks"]), 100 * float(r["efficiency"])),
                                          fontsize=7, textcoords="offset points", xytext=(4, -10))
        batch = "fixed per-rank batch" if scaling == "weak" else "fixed global batch"
        axes[0][col].set_title(f"{scaling} scaling ({batch})")
        axes[0][col].set_ylabel("tokens/s (all ranks)")
        axes[1][col].set_ylabel("efficiency % = tok/s(p) / (p · tok/s(1))")
        axes[1][col].axhline(100, color="gray", lw=0.8, ls="--")
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xlabel("ranks")
            ax.set_xscale("log", base=2)
            ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Tinh data-parallel scaling, 1 BLAS thread per rank ({note})", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "scaling.png"))
    plt.close(fig)


def split_plot(rows, out, note):
    rs = [r for r in rows if r["scaling"] == "weak"] or rows
    rs.sort(key=lambda r: (r["setting"], r["method"], r["bucket_mb"], int(r["ranks"])))
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(rs) + 2), 4.5), dpi=110)
    x = range(len(rs))
    compute = [float(r["compute_s"]) for r in rs]
    exposed = [float(r["exposed_comm_s"]) for r in rs]
    ax.bar(x, compute, label="compute (forward, backward, optimizer)")
    ax.bar(x, exposed, bottom=compute, label="exposed communication")
    ax.set_xticks(list(x))
    ax.set_xticklabels([f"{r['method']}\n{r['setting']}\n{r['ranks']}r" + ("*" if r["oversubscribed"] == "yes" else "") for r in rs], fontsize=7)
    ax.set_ylabel("seconds per step (median, rank 0)")
    ax.set_title(f"weak scaling: compute vs exposed communication (* oversubscribed; {note})", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "split.png"))
    plt.close(fig)


def bytes_plot(rows, out, note):
    per_method = {}
    for r in rows:
        per_method[r["method"]] = int(r["bytes_per_step"])
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    names = sorted(per_method, key=per_method.get)
    ax.bar(names, [per_method[m] for m in names])
    for i, m in enumerate(names):
        ax.annotate(f"{per_method[m]:,} B", (i, per_method[m]), ha="center", fontsize=8, textcoords="offset points", xytext=(0, 3))
    ax.set_yscale("log")
    ax.set_ylabel("bytes all-reduced per step per rank")
    ax.set_title(f"gradient all-reduce size by method ({note})", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "bytes.png"))
    plt.close(fig)


def projection_plot(rows, out, note):
    dirs = sorted(glob.glob(os.path.join(out, "projection-*")))
    dirs = [d for d in dirs if os.path.isdir(d) and os.path.exists(os.path.join(d, "projection.csv"))]
    if not dirs:
        return False
    fig, axes = plt.subplots(len(dirs), 2, figsize=(13, 4.6 * len(dirs)), dpi=110, squeeze=False)
    for i, d in enumerate(dirs):
        setting = os.path.basename(d)[len("projection-"):]
        fit = read(os.path.join(d, "fit.csv"))
        ax = axes[i][0]
        by_ranks = defaultdict(list)
        for p in fit:
            by_ranks[int(p["ranks"])].append(p)
        for ranks, ps in sorted(by_ranks.items()):
            ps.sort(key=lambda p: int(p["bytes"]))
            b = [int(p["bytes"]) for p in ps]
            line, = ax.plot(b, [float(p["predicted_s"]) * 1e6 for p in ps], ls="-", label=f"α–β model, {ranks} ranks")
            ax.plot(b, [float(p["measured_s"]) * 1e6 for p in ps], ls="", marker="o", color=line.get_color(), label=f"measured, {ranks} ranks")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("bytes per rank")
        ax.set_ylabel("all-reduce µs")
        ax.set_title(f"{setting}: all-reduce time", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)

        ax = axes[i][1]
        proj = read(os.path.join(d, "projection.csv"))
        simulated = any(float(p["simulated_latency_ms"]) > 0 for p in proj)
        series = defaultdict(list)
        for p in proj:
            series[(p["method"], p["link"])].append(p)
        colors = {}
        for (method, link), ps in sorted(series.items()):
            ps.sort(key=lambda p: int(p["ranks"]))
            color = colors.setdefault(method, f"C{len(colors)}")
            style = {"fitted": "-", "1 Gbit/s": "--", "10 Gbit/s": "-.", "100 Gbit/s": ":"}.get(link, "-")
            ax.plot([int(p["ranks"]) for p in ps], [100 * float(p["efficiency"]) for p in ps], ls=style, color=color,
                    label=f"{method}, {link} (predicted)")
        for method, color in colors.items():
            measured = [r for r in rows if r["setting"] == setting and r["scaling"] == "weak" and r["method"] == method]
            measured.sort(key=lambda r: int(r["ranks"]))
            if measured:
                ax.plot([int(r["ranks"]) for r in measured], [100 * float(r["efficiency"]) for r in measured], ls="", marker="o",
                        color=color, label=f"{method}, measured weak")
                # The model at the measured points: each run's own compute + modelled all-reduces.
                one = [float(r["step_s"]) for r in measured if int(r["ranks"]) == 1]
                checks = [c for c in read(os.path.join(d, "check.csv")) if c["scaling"] == "weak" and c["method"] == method]
                if one and checks:
                    ax.plot([int(c["ranks"]) for c in checks], [100 * one[0] / float(c["predicted_step_s"]) for c in checks],
                            ls="", marker="x", markersize=9, color=color, label=f"{method}, model with the run's own compute")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("ranks")
        ax.set_ylabel("weak-scaling efficiency %")
        ax.set_ylim(0, 105)
        title = f"{setting}: predicted weak scaling (no overlap)"
        if simulated:
            title += " — latency SIMULATED"
        ax.set_title(title, fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
    fig.suptitle(f"Tinh scaling projection ({note})", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "projection.png"))
    plt.close(fig)
    return True


def main(out, note):
    rows = read(os.path.join(out, "scaling.csv"))
    if not rows:
        sys.exit(f"{out}/scaling.csv: no runs")
    scaling_plot(rows, out, note)
    split_plot(rows, out, note)
    bytes_plot(rows, out, note)
    made = ["scaling.png", "split.png", "bytes.png"] + (["projection.png"] if projection_plot(rows, out, note) else [])
    print("wrote " + ", ".join(os.path.join(out, m) for m in made))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/scaling", sys.argv[2] if len(sys.argv) > 2 else "")
