#!/usr/bin/env python3
"""PyTorch eager reference of the training-step benchmark, for a same-run comparison (tools/bench train).

    torch_ref.py [--batch 128] [--steps 5] [--warmup 1] [--threads 2] [--feature-batch 256] [--precision fp32|bf16]

The same reference (tiny) config as `ldae-train bench`: 32x32x3 images, patch 4 -> 64 tokens of 48 values;
encoder: linear patch embedding 48 -> 192, fixed positional embedding, 12 pre-norm timm Blocks (192, 3 heads,
MLP x4, exact GELU, LayerNorm eps 1e-6), final norm; decoder: 192 -> 128, 4 Blocks (128, 4 heads), norm,
128 -> 48. One step = noisy tokens -> forward -> MSE against the clean tokens -> backward -> grad-norm clip ->
AdamW, fp32 on CPU. Features = the encoder alone on clean tokens, mean-pooled, at --feature-batch, no grad.
--precision bf16: the forward and the loss (and the features) under torch.autocast("cpu", dtype=torch.bfloat16),
PyTorch's mixed precision (bf16 matrix products where oneDNN has them, fp32 master weights and AdamW), the
counterpart of `ldae-train bench --precision bf16`.
Needs torch and timm (exits 3 with a message when they are missing). Ends with one key=value line.
"""
import argparse
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--feature-batch", type=int, default=256)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    a = ap.parse_args()
    try:
        import torch
        from torch import nn
        from timm.models.vision_transformer import Block
    except Exception as e:  # noqa: BLE001 - any import failure means "no reference here"
        print("torch_ref.py: torch/timm not available (%s)" % e, file=sys.stderr)
        sys.exit(3)
    import contextlib
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    def mixed():  # the forward's precision
        if a.precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()
    T, D, W, DW = 64, 48, 192, 128

    def norm(w, **kw):
        return nn.LayerNorm(w, eps=1e-6, **kw)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch_embed = nn.Linear(D, W)
            self.pos_embed = nn.Parameter(torch.zeros(1, T, W), requires_grad=False)
            self.blocks = nn.Sequential(*[Block(W, 3, 4.0, qkv_bias=True, norm_layer=norm) for _ in range(12)])
            self.norm = norm(W)
            self.decoder_embed = nn.Linear(W, DW)
            self.decoder_pos_embed = nn.Parameter(torch.zeros(1, T, DW), requires_grad=False)
            self.decoder_blocks = nn.Sequential(*[Block(DW, 4, 4.0, qkv_bias=True, norm_layer=norm) for _ in range(4)])
            self.decoder_norm = norm(DW)
            self.decoder_pred = nn.Linear(DW, D)

        def forward_encoder(self, x):  # [B, T, D] -> [B, T, W]
            return self.norm(self.blocks(self.patch_embed(x) + self.pos_embed))

        def forward(self, x):          # [B, T, D] -> [B, T, D]
            h = self.decoder_embed(self.forward_encoder(x)) + self.decoder_pos_embed
            return self.decoder_pred(self.decoder_norm(self.decoder_blocks(h)))

    m = Model()
    params = sum(p.numel() for p in m.parameters() if p.requires_grad)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05)
    x0 = torch.rand(a.batch, T, D) * 2 - 1
    times = []
    for s in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        xt = x0 + 0.5 * torch.randn_like(x0)
        with mixed():
            loss = ((m(xt).float() - x0) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        ms = (time.perf_counter() - t0) * 1000
        if s >= a.warmup:
            times.append(ms)
        print("torch: step %d: %.1f ms%s" % (s, ms, " (warmup)" if s < a.warmup else ""), file=sys.stderr)
    times.sort()
    step = times[len(times) // 2]
    xf = torch.rand(a.feature_batch, T, D) * 2 - 1
    ft = []
    with torch.no_grad():
        m.eval()
        for s in range(a.warmup + max(3, a.steps // 2)):
            t0 = time.perf_counter()
            with mixed():
                m.forward_encoder(xf).mean(dim=1)
            if s >= a.warmup:
                ft.append(time.perf_counter() - t0)
    ft.sort()
    fips = a.feature_batch / ft[len(ft) // 2]
    print("torch %s eager %s, %d threads, %d trainable parameters: step %.1f ms (median of %d), features %.1f images/s"
          % (torch.__version__, "fp32" if a.precision == "fp32" else "autocast bf16", a.threads, params, step, len(times), fips),
          file=sys.stderr)
    print("torch_step_ms=%.1f torch_images_per_s=%.1f torch_features_images_per_s=%.1f torch_precision=%s"
          % (step, a.batch / (step / 1000), fips, a.precision))


if __name__ == "__main__":
    main()
