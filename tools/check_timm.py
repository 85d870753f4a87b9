#!/usr/bin/env python3
"""Check that a zoo entry loads into timm and gives what ldae computes.

    tools/check_timm.py NAME[@vN] SHARDS [--zoo DIR] [--max-images 64] [--ldae-zoo PATH] [--tol 1e-4]

1. loads zoo/NAME/vN/weights.safetensors into timm.models.vision_transformer.VisionTransformer(img_size, patch_size,
   in_chans=3, embed_dim, depth, num_heads, mlp_ratio, class_token=False, global_pool='avg', fc_norm=False,
   num_classes) with load_state_dict(strict=True): the encoder tensors (every name not starting with "decoder"),
   num_classes 0; for a classifier entry with the pooled head also head.weight / head.bias, num_classes = C;
2. runs it (eval mode, float32) on the first N clean images of SHARDS (pixel-scaled x/127.5 - 1, NCHW) and compares
   with `ldae-zoo features NAME SHARDS --layers final --pooling mean` (a classifier: `ldae-zoo predict --out X.npy`,
   the logits);
3. exports the entry (`ldae-zoo export`) and compares the export's `ldae_features.ldae_features(model, x)` (the
   recommended readout, issue 24) with `ldae-zoo features NAME SHARDS` (its default: the recommended features), and
   for a classifier the export's `ldae_logits(model, x)` with the predicted logits.
Each comparison passes when max |timm - ldae| <= tol * max(1, max |ldae|).

Exit status: 0 when everything matches (or when torch/timm are not installed: it prints "skipped: ..."), 1 on a
mismatch or an error. Without torch, tools/ref_encoder.py is the numpy-only equivalent (tested by the suite). Images
are read with h5py; a Python with torch but without h5py asks $LDAE_H5_PYTHON (default /usr/bin/python3) for them.
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
    from ref_encoder import read_safetensors

    entry = resolve(zoo_root(a.zoo), a.ref)
    with open(os.path.join(entry, "manifest.json")) as f:
        manifest = json.load(f)
    cfg, cls = manifest["model"], manifest.get("classifier")
    if cfg.get("time_cond", "none") != "none":
        fail("%s: time_cond is %s: the encoder is not a plain timm ViT" % (entry, cfg["time_cond"]))
    pooled = cls is not None and cls["head"]["kind"] == "pooled"

    model = VisionTransformer(img_size=cfg["image_size"], patch_size=cfg["patch_size"], in_chans=cfg["channels"],
                              embed_dim=cfg["encoder_width"], depth=cfg["encoder_depth"], num_heads=cfg["encoder_heads"],
                              mlp_ratio=cfg["mlp_ratio"], class_token=False, global_pool="avg", fc_norm=False,
                              num_classes=cls["head"]["classes"] if pooled else 0)
    tensors = read_safetensors(os.path.join(entry, "weights.safetensors"))
    state = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in tensors.items()
             if not k.startswith("decoder") and (pooled or not k.startswith("head."))}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        fail("%s: timm refuses the weights: %s" % (entry, str(e).replace("\n", " ")))
    model.eval()

    img = read_images_anywhere(a.shards, a.max_images)
    x = torch.from_numpy(img.astype(np.float32))
    with torch.no_grad():
        ref = model(x).numpy()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        def ldae(*args):
            cmd = [ldae_zoo_binary(a.ldae_zoo)] + list(args) + (["--zoo", a.zoo] if a.zoo else [])
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                fail("ldae-zoo %s failed: %s" % (args[0], r.stderr.strip()))
        n = str(len(img))
        if pooled:
            ldae("predict", a.ref, a.shards, "--out", os.path.join(tmp, "logits.npy"), "--max-images", n)
            logits = np.load(os.path.join(tmp, "logits.npy"))
            ok &= compare("timm VisionTransformer(num_classes=%d) logits" % logits.shape[1], ref, logits, a.tol)
        else:   # timm's own output, whatever the entry recommends
            ldae("features", a.ref, a.shards, "--out", os.path.join(tmp, "final.npy"), "--max-images", n,
                 "--layers", "final", "--pooling", "mean", "--no-flip-tta")
            ok &= compare("timm VisionTransformer features (final, mean)", ref, np.load(os.path.join(tmp, "final.npy")), a.tol)
        # the export's ldae_features.py: the recommended readout in one call (and a classifier's logits)
        export = os.path.join(tmp, "export")
        ldae("export", a.ref, "--out", export)
        ldae("features", a.ref, a.shards, "--out", os.path.join(tmp, "rec.npy"), "--max-images", n)
        sys.path.insert(0, export)
        import ldae_features as lf
        m = lf.load_model(export)
        with torch.no_grad():
            ok &= compare("export's ldae_features(model, x) (layers %s, %s pooling%s)" % (",".join(lf.LAYERS), lf.POOLING,
                          ", flip-averaged" if lf.FLIP_TTA else ""), lf.ldae_features(m, x).numpy(), np.load(os.path.join(tmp, "rec.npy")), a.tol)
            if cls is not None:
                if not pooled:
                    ldae("predict", a.ref, a.shards, "--out", os.path.join(tmp, "logits.npy"), "--max-images", n)
                ok &= compare("export's ldae_logits(model, x) (%s head)" % lf.HEAD, lf.ldae_logits(m, x).numpy(),
                              np.load(os.path.join(tmp, "logits.npy")), a.tol)
    if not ok:
        fail("%s: timm and ldae differ (above)" % entry)
    print("ok: %s loads into timm VisionTransformer (strict) and matches, export included (timm %s)" % (entry, timm.__version__))
    return 0


def compare(what, theirs, ours, tol):
    """max |timm - ldae| <= tol * max(1, max |ldae|); prints one line."""
    import numpy as np
    if theirs.shape != ours.shape:
        print("MISMATCH %s: shape timm %s, ldae %s" % (what, theirs.shape, ours.shape))
        return False
    diff, scale = float(np.abs(theirs - ours).max()), max(1.0, float(np.abs(ours).max()))
    good = diff <= tol * scale
    print("%s %s: %d x %d, max |timm - ldae| = %.3g (tolerance %g x %g)" % ("ok" if good else "MISMATCH", what, ours.shape[0],
                                                                           ours.shape[1], diff, tol, scale))
    return good


def read_images_anywhere(shards, n):
    """ref_encoder.read_images (h5py); without h5py here, a Python that has it writes them as .npy."""
    import numpy as np
    from ref_encoder import read_images
    try:
        return read_images(shards, n)[0]
    except ImportError:
        py = os.environ.get("LDAE_H5_PYTHON", "/usr/bin/python3")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "img.npy")
            code = ("import sys; sys.path.insert(0, %r); import numpy as np; from ref_encoder import read_images; "
                    "np.save(%r, read_images(%r, %d)[0])" % (HERE, out, shards, n))
            r = subprocess.run([py, "-c", code], capture_output=True, text=True)
            if r.returncode != 0:
                fail("no h5py here, and %s could not read the shards either (set LDAE_H5_PYTHON): %s" % (py, r.stderr.strip()))
            return np.load(out)


if __name__ == "__main__":
    sys.exit(main())
