#!/usr/bin/python3
"""The l-DAE paper's Table 1 (deconstruction path) and Table 2 (tokenizer x latent size) at CPU scale, from the
results of `tools/sweep tools/sweeps/cifar10-path.json` and `tools/sweep tools/sweeps/cifar10-tokenizers.json`.

    tools/paper_tables.py [--path-dir sweeps/cifar10-path] [--tok-dir sweeps/cifar10-tokenizers] [--figure PNG]
                          [--readme README.md]

Prints two markdown tables (validation split, mean over the seeds done, the seeds' values in brackets, the paper's
ImageNet number beside each row), each with two readouts: the best layer of the token-mean readout, and the readout
the zoo entry recommends (block 3, 4 x 4 grid pooling: the sweeps' "readout" results). Draws validation accuracy
against d, one line per tokenizer (k-NN dashed), one panel per readout, into --figure (default
docs/figures/cifar10-tokenizers.png) when matplotlib imports. --readme replaces the text between the markers
`<!-- paper-tables: generated ... -->` and `<!-- /paper-tables-generated -->` in that file (atomically).
Only the Python standard library is needed for the tables.
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


def value(r, key, readout):
    """Top-1 (%) of one run: best layer of the token-mean readout, or the zoo readout (None when not evaluated)."""
    if readout:
        return 100 * r["readout"][key] if r.get("readout") else None
    return 100 * (r["best_linear"]["linear"] if key == "linear" else r["best_knn"]["knn"])


def cell(rs, key, readout=False):
    rs = [r for r in rs if value(r, key, readout) is not None]
    if not rs:
        return "(to run)"
    vals = [value(r, key, readout) for r in rs]
    m = statistics.mean(vals)
    return f"{m:.1f}" + (f" ({', '.join(f'{v:.1f}' for v in vals)})" if len(vals) > 1 else " (1 seed)")


def pair(rs, readout=False):
    """'linear (seeds) / k-NN' for one table cell."""
    rs = [r for r in rs if value(r, "linear", readout) is not None]
    if not rs:
        return "(to run)"
    return f"{cell(rs, 'linear', readout)} / {statistics.mean(value(r, 'knn', readout) for r in rs):.1f}"


def mean(rs, key, readout):
    vals = [v for v in (value(r, key, readout) for r in rs) if v is not None]
    return statistics.mean(vals) if vals else None


def seeds(res, prefix):
    return [res[k] for k in sorted(res) if k.rsplit("-s", 1)[0] == prefix]


def tables(path, tok):
    """The markdown of both tables, and the figure's points {readout: {tokenizer: [(d, linear, knn)]}}."""
    out = ["Table 1 at CPU scale: each row adds its change to the row above. Validation top-1 (%), mean of seeds (each "
           "seed); \"best layer\": the best layer of the token-mean readout; \"zoo readout\": block 3 with 4 x 4 grid "
           "pooling, the readout the zoo entry recommends.\n",
           "| step | change | best layer: linear | k-NN | zoo readout: linear | k-NN | CPU-min | paper (ImageNet linear) |",
           "|---|---|---|---|---|---|---|---|"]
    for pre, change, paper in PATH_ROWS:
        rs = seeds(path, pre)
        cpu = f"{statistics.mean(r['cpu_minutes'] for r in rs):.1f}" if rs else "-"
        out.append(f"| {pre} | {change} | {cell(rs, 'linear')} | {cell(rs, 'knn')} | {cell(rs, 'linear', True)} | "
                   f"{cell(rs, 'knn', True)} | {cpu} | {paper} |")
    pts = {False: {}, True: {}}
    for readout, title in ((False, "best layer, token-mean readout"), (True, "zoo readout (block 3, 4 x 4 grid pooling)")):
        out += ["", f"Table 2 at CPU scale, {title}: validation linear / k-NN top-1 (%), mean of seeds (each seed); "
                    "paper: ImageNet linear probe.\n",
                "| tokenizer | d = 8 | d = 16 | d = 32 | paper d = 8 / 16 / 32 |", "|---|---|---|---|---|"]
        for t in TOKENIZERS:
            cells = []
            for d in (8, 16, 32):
                rs = seeds(tok, f"{t}-d{d}")
                cells.append(pair(rs, readout))
                if mean(rs, "linear", readout) is not None:
                    pts[readout].setdefault(t, []).append((d, mean(rs, "linear", readout), mean(rs, "knn", readout)))
            p = PAPER_T2[t]
            out.append(f"| {t} | " + " | ".join(cells) + f" | {p[8]} / {p[16]} / {p[32]} |")
        rs = seeds(tok, "pixel")
        out.append(f"| pixel (no latent, D = 48) | {pair(rs, readout)} | | | far below (a pixel DAE ~ 24) |")
        pts[readout]["pixel"] = mean(rs, "linear", readout)
    return "\n".join(out), pts


def figure(pts, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "(no figure: python3-matplotlib is not installed)"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, readout, title in ((axes[0], False, "best layer, token-mean"), (axes[1], True, "block 3, 4x4 grid pooling")):
        for i, t in enumerate(TOKENIZERS):
            if t not in pts[readout]:
                continue
            xs, lin, knn = zip(*pts[readout][t])
            ax.plot(xs, lin, "o-", color=f"C{i}", label=f"{t} linear")
            ax.plot(xs, knn, "s--", color=f"C{i}", alpha=0.6, label=f"{t} k-NN")
        if pts[readout].get("pixel") is not None:
            ax.axhline(pts[readout]["pixel"], color="gray", lw=1, label="pixel linear")
        ax.set_xscale("log", base=2); ax.set_xticks([8, 16, 32]); ax.set_xticklabels(["8", "16", "32"])
        ax.set_xlabel("latent dimension d per 4x4 patch"); ax.set_ylabel("validation top-1 (%)")
        ax.set_title(f"CIFAR-10, vit96, 1,000 steps, mean of seeds: {title}", fontsize=9)
        ax.grid(alpha=0.3); ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path + ".tmp.png", dpi=110); os.replace(path + ".tmp.png", path)
    return f"wrote {path}"


def replace_block(readme, text):
    begin, end = "<!-- paper-tables: generated by tools/paper_tables.py -->", "<!-- /paper-tables-generated -->"
    s = open(readme).read()
    if begin not in s or end not in s:
        raise SystemExit(f"paper_tables: {readme}: the markers {begin} and {end} are not both there")
    i, j = s.index(begin) + len(begin), s.index(end)
    tmp = readme + ".tmp"
    open(tmp, "w").write(s[:i] + "\n" + text + "\n" + s[j:])
    os.replace(tmp, readme)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--path-dir", default="sweeps/cifar10-path")
    ap.add_argument("--tok-dir", default="sweeps/cifar10-tokenizers")
    ap.add_argument("--figure", default="docs/figures/cifar10-tokenizers.png")
    ap.add_argument("--readme", help="replace the generated block of this file with the tables")
    a = ap.parse_args()
    text, pts = tables(load(a.path_dir), load(a.tok_dir))
    print(text)
    print("\n" + figure(pts, a.figure))
    if a.readme:
        replace_block(a.readme, text)
        print(f"updated {a.readme}")


if __name__ == "__main__":
    main()
