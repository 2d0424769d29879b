#!/usr/bin/env python3
"""Plot training loss, eval loss, learning rate and tokens/s against step for one or more tinh runs.

usage: plot_runs.py OUT.png RUN_DIR [RUN_DIR...]
Reads RUN_DIR/metrics.jsonl (one line per step) and RUN_DIR/eval.jsonl (one line per evaluation).
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_jsonl(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line cut by a crash: skip it
    return rows


def number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def main(png, runs):
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), dpi=110)
    panels = [(axes[0][0], "training loss"), (axes[0][1], "eval loss"), (axes[1][0], "learning rate"), (axes[1][1], "tokens / s")]
    plotted = 0
    labels = [os.path.basename(os.path.normpath(r)) for r in runs]
    if len(set(labels)) < len(labels):  # e.g. sweep trials, each in NAME/run: name them by their parent too
        labels = [os.path.join(*os.path.normpath(r).split(os.sep)[-2:]) for r in runs]
    for run, label in zip(runs, labels):
        steps = read_jsonl(os.path.join(run, "metrics.jsonl"))
        evals = read_jsonl(os.path.join(run, "eval.jsonl"))
        if not steps and not evals:
            print(f"plot_runs: {run}: no metrics.jsonl or eval.jsonl, skipped", file=sys.stderr)
            continue
        plotted += 1
        x = [s["step"] + 1 for s in steps]
        axes[0][0].plot(x, [number(s.get("loss")) for s in steps], label=label)
        axes[1][0].plot(x, [number(s.get("lr")) for s in steps], label=label)
        axes[1][1].plot(x, [number(s.get("tokens_per_second")) for s in steps], label=label)
        if evals:
            axes[0][1].plot([e["step"] + 1 for e in evals], [number(e.get("loss")) for e in evals], marker="o", label=label)
    if plotted == 0:
        sys.exit("plot_runs: none of the run directories has metrics.jsonl or eval.jsonl")
    for ax, title in panels:
        ax.set_title(title)
        ax.set_xlabel("optimizer step")
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "no data (eval needs --eval-every or a final eval)", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(png)
    print(f"wrote {png}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
