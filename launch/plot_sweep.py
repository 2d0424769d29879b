#!/usr/bin/env python3
"""Plot eval loss against learning rate, one line per batch size, from tinh sweep's results.csv.

usage: plot_sweep.py RESULTS.csv OUT.png
Finished trials are filled markers, trials stopped by the median rule hollow ones (their last eval
loss); each line joins the best finished trial at each learning rate for that batch size.
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(csv_path, png):
    rows = [r for r in csv.DictReader(open(csv_path, newline="")) if r["eval_loss"]]
    if not rows:
        sys.exit(f"plot_sweep: {csv_path} has no trial with an eval loss")
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    batches = sorted({int(r["batch"]) for r in rows})
    for k, batch in enumerate(batches):
        color = colors[k % len(colors)]
        best = defaultdict(lambda: float("inf"))
        for r in rows:
            if int(r["batch"]) != batch:
                continue
            lr, loss = float(r["lr"]), float(r["eval_loss"])
            finished = r["status"] == "finished"
            ax.scatter([lr], [loss], color=color, facecolors=color if finished else "none", zorder=3)
            if finished:
                best[lr] = min(best[lr], loss)
        if best:
            xs = sorted(best)
            ax.plot(xs, [best[x] for x in xs], color=color, label=f"batch {batch}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("eval loss (hollow: stopped early)")
    ax.set_title("sweep: eval loss against learning rate")
    ax.grid(True, which="both", alpha=0.3)
    if ax.lines:
        ax.legend()
    fig.tight_layout()
    fig.savefig(png)
    print(f"wrote {png}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
