#!/usr/bin/env python3
"""Plot eval loss against step for every method from tinh compare-methods' eval_curves.csv."""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(csv_path: str, png_path: str, title: str) -> None:
    curves = defaultdict(list)
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            curves[row["method"]].append((int(row["step"]), float(row["eval_loss"])))
    if not curves:
        sys.exit(f"{csv_path}: no eval points (run with --eval-every)")
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for method, points in curves.items():
        points.sort()
        ax.plot([s for s, _ in points], [l for _, l in points], marker="o", label=method)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("eval loss (mean over held-out loss tokens)")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path)
    print(f"wrote {png_path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "eval loss by method")
