#!/usr/bin/python3
"""The l-DAE paper's Table 1 (deconstruction path) and Table 2 (tokenizer x latent size) at CPU scale, from the
results of `tools/sweep tools/sweeps/cifar10-path.json` and `tools/sweep tools/sweeps/cifar10-tokenizers.json`.

    tools/paper_tables.py [--path-dir sweeps/cifar10-path] [--tok-dir sweeps/cifar10-tokenizers] [--figure PNG]

Prints two markdown tables (validation split, best layer of the token-mean readout, mean over the seeds done, the
seeds' values in brackets, the paper's ImageNet number beside each row) and draws validation linear-probe accuracy
against d, one line per tokenizer (k-NN dashed), into --figure (default docs/figures/cifar10-tokenizers.png) when
matplotlib imports. Only the Python standard library is needed for the tables.
"""
import argparse, glob, json, os, statistics

PATH_ROWS = [  # (run prefix, the change, paper ImageNet linear probe after that step)
    ("dit-cc", "DiT-style start: noise target, DDPM schedule + input scaling, adaLN t, pixel noise, unweighted loss, **class-conditioned**", "57.5"),
    ("dit", "remove class conditioning", "62.5"),
    ("linear-sched", "DDPM schedule -> gamma^2 linear 1..0 (the paper's new schedule; its VQGAN-loss steps between, 58.4 and 59.0, have no pixel-space counterpart)", "63.4"),
    ("pca", "noise in the patch-PCA latent (d 16), input by inverse PCA", "65.1 (patch PCA)"),
    ("clean", "predict the clean image (residual weight 0.1)", "62.4"),
    ("no-scaling", "gamma = 1: sigma linear 0..sqrt 2, no input scaling", "63.6"),
    ("weighting", "loss weight 1/(1 + sigma^2)", "-"),
    ("ldae", "no timestep conditioning = the l-DAE recipe of this study", "(paper keeps t)"),
]
PAPER_T2 = {"conv-vae": {8: 54.5, 16: 63.4, 32: 62.8}, "patch-vae": {8: 58.3, 16: 64.9, 32: 64.8},
            "patch-ae": {8: 59.9, 16: 64.7, 32: 64.6}, "pca": {8: 56.0, 16: 63.4, 32: 65.1}}
TOKENIZERS = ["pca", "patch-ae", "patch-vae", "conv-vae"]


def load(d):
    out = {}
    for p in glob.glob(os.path.join(d, "results", "*.json")):
        r = json.load(open(p))
        out[r["name"]] = r
    return out


def cell(rs, key):
    if not rs:
        return "(to run)"
    vals = [100 * (r["best_linear"]["linear"] if key == "linear" else r["best_knn"]["knn"]) for r in rs]
    m = statistics.mean(vals)
    return f"{m:.1f}" + (f" ({', '.join(f'{v:.1f}' for v in vals)})" if len(vals) > 1 else " (1 seed)")


def pair(rs):
    """'linear (seeds) / k-NN' for one table cell."""
    if not rs:
        return "(to run)"
    return f"{cell(rs, 'linear')} / {statistics.mean(100 * r['best_knn']['knn'] for r in rs):.1f}"


def seeds(res, prefix):
    return [res[k] for k in sorted(res) if k.rsplit("-s", 1)[0] == prefix]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--path-dir", default="sweeps/cifar10-path")
    ap.add_argument("--tok-dir", default="sweeps/cifar10-tokenizers")
    ap.add_argument("--figure", default="docs/figures/cifar10-tokenizers.png")
    a = ap.parse_args()
    path, tok = load(a.path_dir), load(a.tok_dir)
    print("Table 1 at CPU scale: each row adds its change to the row above (validation top-1, %; mean of seeds (each seed)).\n")
    print("| step | change | linear | k-NN | CPU-min | paper (ImageNet linear) |")
    print("|---|---|---|---|---|---|")
    for pre, change, paper in PATH_ROWS:
        rs = seeds(path, pre)
        cpu = f"{statistics.mean(r['cpu_minutes'] for r in rs):.1f}" if rs else "-"
        print(f"| {pre} | {change} | {cell(rs, 'linear')} | {cell(rs, 'knn')} | {cpu} | {paper} |")
    print("\nTable 2 at CPU scale: validation linear / k-NN top-1 (%), mean of seeds (each seed); paper: ImageNet linear probe.\n")
    print("| tokenizer | d = 8 | d = 16 | d = 32 | paper d = 8 / 16 / 32 |")
    print("|---|---|---|---|---|")
    pts = {}
    for t in TOKENIZERS:
        cells = []
        for d in (8, 16, 32):
            rs = seeds(tok, f"{t}-d{d}")
            cells.append(pair(rs))
            if rs:
                pts.setdefault(t, []).append((d, statistics.mean(100 * r["best_linear"]["linear"] for r in rs),
                                              statistics.mean(100 * r["best_knn"]["knn"] for r in rs)))
        p = PAPER_T2[t]
        print(f"| {t} | " + " | ".join(cells) + f" | {p[8]} / {p[16]} / {p[32]} |")
    rs = seeds(tok, "pixel")
    print(f"| pixel (no latent, D = 48) | {pair(rs)} | | | far below (a pixel DAE ~ 24) |")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"\n(no figure: python3-matplotlib is not installed)")
        return
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, t in enumerate(TOKENIZERS):
        if t not in pts:
            continue
        xs, lin, knn = zip(*pts[t])
        ax.plot(xs, lin, "o-", color=f"C{i}", label=f"{t} linear")
        ax.plot(xs, knn, "s--", color=f"C{i}", alpha=0.6, label=f"{t} k-NN")
    if rs:
        ax.axhline(statistics.mean(100 * r["best_linear"]["linear"] for r in rs), color="gray", lw=1, label="pixel linear")
    ax.set_xscale("log", base=2); ax.set_xticks([8, 16, 32]); ax.set_xticklabels(["8", "16", "32"])
    ax.set_xlabel("latent dimension d per 4x4 patch"); ax.set_ylabel("validation top-1 (%), best layer")
    ax.set_title("CIFAR-10, vit96, 1,000 steps: tokenizer x d (mean of seeds)", fontsize=9)
    ax.grid(alpha=0.3); ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    os.makedirs(os.path.dirname(a.figure) or ".", exist_ok=True)
    fig.savefig(a.figure + ".tmp.png", dpi=110); os.replace(a.figure + ".tmp.png", a.figure)
    print(f"\nwrote {a.figure}")


if __name__ == "__main__":
    main()
