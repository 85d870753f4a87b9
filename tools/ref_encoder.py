#!/usr/bin/env python3
"""Reference forward of an ldae encoder in pure numpy, following timm's VisionTransformer line by line.

    ref_encoder.py ENTRY SHARDS --out ref.npy [--max-images N]

ENTRY is a zoo version folder (zoo/NAME/vN, with manifest.json and weights.safetensors) or a
weights.safetensors next to a manifest.json. SHARDS is a folder written by ldae-prep (index.json + HDF5 shards).
Writes float32 [N, width] features of the first N images (all by default), as `ldae-zoo features` does
(`--layers L,... --pooling mean|grid2|grid4`: any layer's tokens, pooled as ldae pools them), or with `--logits` a
classifier entry's logits [N, C], as `ldae-zoo predict --out X.npy` writes them.

It reads safetensors with json + numpy and shards with h5py: none of ldae's code. The forward is timm's
VisionTransformer(img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio, class_token=False,
global_pool='avg', fc_norm=False, num_classes=0) in eval mode:
    x = patch_embed.proj(img)              Conv2d(3, W, kernel=p, stride=p) -> flatten(2).transpose(1, 2) [N, T, W]
    x = x + pos_embed                      [1, T, W] (no class token, no prefix tokens)
    for blk in blocks:                     pre-norm, qkv_bias=True, LayerNorm eps 1e-6, exact-erf GELU
        x = x + attn.proj(softmax(q k^T / sqrt(hd)) v)   with q, k, v from attn.qkv(norm1(x))
        x = x + mlp.fc2(gelu(mlp.fc1(norm2(x))))
    x = norm(x)
    features = x.mean(axis=1)              global_pool='avg', fc_norm=Identity, head=Identity
Images are pixel-scaled as ldae trains them: uint8 / 127.5 - 1, NCHW.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np

LN_EPS = 1e-6


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}[info["dtype"]]
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[base + a:base + b], dtype=dt).reshape(info["shape"]).astype(np.float64)
    return out


def load_entry(entry):
    d = entry if os.path.isdir(entry) else os.path.dirname(os.path.abspath(entry))
    with open(os.path.join(d, "manifest.json")) as f:
        manifest = json.load(f)
    weights = entry if entry.endswith(".safetensors") else os.path.join(d, "weights.safetensors")
    return manifest, read_safetensors(weights)


def read_images(shards_dir, max_images=None):
    """Clean images [N, 3, S, S] (float64, pixel-scaled) and labels [N] from an ldae-prep folder."""
    import h5py
    with open(os.path.join(shards_dir, "index.json")) as f:
        index = json.load(f)
    S, p, C = index["image_size"], index["patch_size"], index["channels"]
    g = S // p
    imgs, labels = [], []
    for sh in index["shards"]:
        with h5py.File(os.path.join(shards_dir, sh["file"]), "r") as h:
            patches = h["patches"][...]            # [n, T, D] uint8, T row-major, D = (row, col, channel)
            labels.append(h["labels"][...])
        n = patches.shape[0]
        x = patches.reshape(n, g, g, p, p, C)       # [n, gy, gx, py, px, c]
        x = x.transpose(0, 5, 1, 3, 2, 4)           # [n, c, gy, py, gx, px]
        imgs.append(x.reshape(n, C, S, S))
        if max_images is not None and sum(len(i) for i in imgs) >= max_images:
            break
    x = np.concatenate(imgs)[:max_images].astype(np.float64) / 127.5 - 1.0
    return x, np.concatenate(labels)[:max_images]


def layer_norm(x, w, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + LN_EPS) * w + b


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def linear(x, t, name):
    return x @ t[name + ".weight"].T + t[name + ".bias"]


def encoder_forward(t, cfg, img):
    """timm VisionTransformer.forward_features + forward_head(global_pool='avg') on img [N, 3, S, S]."""
    return encoder_tokens(t, cfg, img, ["final"])["final"].mean(axis=1)


def pool(tokens, cells):
    """ldae's pooling of tokens [N, T, C] (T = G*G row-major): mean (cells 1), or the mean of each cell of a
    cells x cells split, cell j covering rows floor(j G / cells) ..< floor((j + 1) G / cells); [N, cells^2 C]."""
    N, T, C = tokens.shape
    G = int(round(T ** 0.5))
    if cells == 1:
        return tokens.mean(axis=1)
    x = tokens.reshape(N, G, G, C)
    e = [min(G, j * G // cells) for j in range(cells + 1)]
    out = []
    for cy in range(cells):
        for cx in range(cells):
            cell = x[:, e[cy]:e[cy + 1], e[cx]:e[cx + 1], :]
            out.append(cell.mean(axis=(1, 2)) if cell.size else np.zeros((N, C)))
    return np.concatenate(out, axis=1)


def encoder_tokens(t, cfg, img, layers):
    """The tokens [N, T, W] after each layer named ("embed", "1".."depth", "final") of timm's forward_features."""
    N, C, S, _ = img.shape
    p, W, H = cfg["patch_size"], cfg["encoder_width"], cfg["encoder_heads"]
    g = S // p
    # patch_embed: Conv2d(C, W, p, stride p) == per-patch matmul with the weight flattened as (c, i, j)
    cols = img.reshape(N, C, g, p, g, p).transpose(0, 2, 4, 1, 3, 5).reshape(N, g * g, C * p * p)
    x = cols @ t["patch_embed.proj.weight"].reshape(W, C * p * p).T + t["patch_embed.proj.bias"]
    x = x + t["pos_embed"]                                    # [1, T, W]
    taps = {"embed": x}
    T, hd = g * g, W // H
    for i in range(cfg["encoder_depth"]):
        pre = "blocks.%d." % i
        h = layer_norm(x, t[pre + "norm1.weight"], t[pre + "norm1.bias"])
        qkv = linear(h, t, pre + "attn.qkv").reshape(N, T, 3, H, hd).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]                      # [N, H, T, hd]
        a = (q * hd ** -0.5) @ k.transpose(0, 1, 3, 2)
        a = np.exp(a - a.max(-1, keepdims=True))
        a = a / a.sum(-1, keepdims=True)
        o = (a @ v).transpose(0, 2, 1, 3).reshape(N, T, W)
        x = x + linear(o, t, pre + "attn.proj")
        h = layer_norm(x, t[pre + "norm2.weight"], t[pre + "norm2.bias"])
        x = x + linear(gelu(linear(h, t, pre + "mlp.fc1")), t, pre + "mlp.fc2")
        taps[str(i + 1)] = x
    taps["final"] = layer_norm(x, t["norm.weight"], t["norm.bias"])
    return {l: taps[l] for l in layers}


def features(t, cfg, img, layers, pooling):
    """ldae-zoo features: each layer's tokens pooled, concatenated in the order given."""
    cells = {"mean": 1, "grid2": 2, "grid4": 4}[pooling]
    tok = encoder_tokens(t, cfg, img, sorted(set(layers)))
    return np.concatenate([pool(tok[l], cells) for l in layers], axis=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("entry")
    ap.add_argument("shards")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-images", type=int, default=None)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--layers", default="final", help="comma-separated: embed, 1..depth, final (default final)")
    ap.add_argument("--pooling", default="mean", choices=["mean", "grid2", "grid4"])
    ap.add_argument("--logits", action="store_true",
                    help="a classifier entry: its logits (the head, head.weight / head.bias, on the features of "
                         "the manifest's classifier.head layers and pooling)")
    a = ap.parse_args()
    manifest, tensors = load_entry(a.entry)
    cfg = manifest["model"]
    if cfg.get("time_cond", "none") != "none":
        sys.exit("ref_encoder.py: error: %s: time_cond %s is not a plain ViT encoder" % (a.entry, cfg["time_cond"]))
    layers, pooling = a.layers.split(","), a.pooling
    if a.logits:
        head = (manifest.get("classifier") or sys.exit("ref_encoder.py: error: %s is not a classifier entry" % a.entry))["head"]
        layers, pooling = head["layers"], head["pooling"]
    img, _ = read_images(a.shards, a.max_images)
    feats = np.concatenate([features(tensors, cfg, img[i:i + a.batch], layers, pooling) for i in range(0, len(img), a.batch)])
    if a.logits:
        feats = feats @ tensors["head.weight"].T + tensors["head.bias"]
    np.save(a.out, feats.astype(np.float32))
    print("wrote %s: float32 %s" % (a.out, list(feats.shape)))


if __name__ == "__main__":
    main()
