#!/usr/bin/env python3
"""Check that a zoo entry's encoder loads into timm and gives the features ldae computes.

    tools/check_timm.py NAME[@vN] SHARDS [--zoo DIR] [--max-images 64] [--ldae-zoo PATH] [--tol 1e-4]

1. loads zoo/NAME/vN/weights.safetensors (encoder tensors: every name not starting with "decoder") into
   timm.models.vision_transformer.VisionTransformer(img_size, patch_size, in_chans=3, embed_dim, depth, num_heads,
   mlp_ratio, class_token=False, global_pool='avg', fc_norm=False, num_classes=0) with load_state_dict(strict=True);
2. runs it (eval mode, float32) on the first N clean images of SHARDS (pixel-scaled x/127.5 - 1, NCHW);
3. runs `ldae-zoo features NAME SHARDS --max-images N` and compares: max |timm - ldae| <= --tol.

Exit status: 0 when the features match (or when torch/timm are not installed: it prints "skipped: ..."),
1 on a mismatch or an error. Without torch, tools/ref_encoder.py is the numpy-only equivalent (tested by the suite).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)


def fail(msg):
    print("check_timm.py: error: " + msg, file=sys.stderr)
    sys.exit(1)


def zoo_root(explicit):
    if explicit:
        return explicit
    if os.environ.get("LDAE_ZOO"):
        return os.environ["LDAE_ZOO"]
    return os.path.join(REPO, "zoo")


def resolve(root, ref):
    name, _, ver = ref.partition("@")
    d = os.path.join(root, name)
    versions = sorted(int(v[1:]) for v in os.listdir(d) if v.startswith("v") and v[1:].isdigit()) if os.path.isdir(d) else []
    if not versions:
        fail("%s: no model '%s' in the zoo" % (root, name))
    if ver:
        v = int(ver.lstrip("v")) if ver.lstrip("v").isdigit() else -1
        if v not in versions:
            fail("%s: model '%s' has no version '%s' (versions: %s)" % (root, name, ver, ", ".join("v%d" % x for x in versions)))
    else:
        v = versions[-1]
    return os.path.join(d, "v%d" % v)


def ldae_zoo_binary(explicit):
    if explicit:
        return explicit
    for c in ("release", "debug"):
        p = os.path.join(REPO, ".build", c, "ldae-zoo")
        if os.access(p, os.X_OK):
            return p
    p = shutil.which("ldae-zoo")
    if p:
        return p
    fail("cannot find the ldae-zoo executable (swift build, or pass --ldae-zoo PATH)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ref", help="NAME or NAME@vN")
    ap.add_argument("shards", help="a folder written by ldae-prep")
    ap.add_argument("--zoo", default=None)
    ap.add_argument("--max-images", type=int, default=64)
    ap.add_argument("--ldae-zoo", default=None, help="path of the ldae-zoo executable")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()

    try:
        import torch
        import timm
        from timm.models.vision_transformer import VisionTransformer
    except ImportError as e:
        print("skipped: torch/timm not installed (%s); tools/ref_encoder.py is the numpy-only check" % e)
        return 0
    import numpy as np
    from ref_encoder import read_images, read_safetensors

    entry = resolve(zoo_root(a.zoo), a.ref)
    with open(os.path.join(entry, "manifest.json")) as f:
        cfg = json.load(f)["model"]
    if cfg.get("time_cond", "none") != "none":
        fail("%s: time_cond is %s: the encoder is not a plain timm ViT" % (entry, cfg["time_cond"]))

    model = VisionTransformer(img_size=cfg["image_size"], patch_size=cfg["patch_size"], in_chans=cfg["channels"],
                              embed_dim=cfg["encoder_width"], depth=cfg["encoder_depth"], num_heads=cfg["encoder_heads"],
                              mlp_ratio=cfg["mlp_ratio"], class_token=False, global_pool="avg", fc_norm=False,
                              num_classes=0)
    tensors = read_safetensors(os.path.join(entry, "weights.safetensors"))
    state = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in tensors.items()
             if not k.startswith("decoder")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        fail("%s: timm refuses the encoder weights: %s" % (entry, str(e).replace("\n", " ")))
    model.eval()

    img, _ = read_images(a.shards, a.max_images)
    with torch.no_grad():
        ref = model(torch.from_numpy(img.astype(np.float32))).numpy()

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "features.npy")
        cmd = [ldae_zoo_binary(a.ldae_zoo), "features", a.ref, a.shards, "--out", out, "--max-images", str(len(img)),
               "--layers", "final", "--pooling", "mean", "--no-flip-tta"]   # timm's own output, whatever the entry recommends
        if a.zoo:
            cmd += ["--zoo", a.zoo]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            fail("ldae-zoo features failed: " + r.stderr.strip())
        ours = np.load(out)

    if ours.shape != ref.shape:
        fail("shape mismatch: ldae %s, timm %s" % (ours.shape, ref.shape))
    diff = float(np.abs(ours - ref).max())
    print("timm %s: %d images, %d features, max |timm - ldae| = %.3g (tolerance %g)"
          % (timm.__version__, ref.shape[0], ref.shape[1], diff, a.tol))
    if not diff <= a.tol:
        fail("features differ from timm's by %.3g > %g" % (diff, a.tol))
    print("ok: %s loads into timm VisionTransformer (strict) and matches" % entry)
    return 0


if __name__ == "__main__":
    sys.exit(main())
