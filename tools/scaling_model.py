#!/usr/bin/env python3
"""The step-time model of data-parallel ldae-train at N nodes (docs/scaling.md), from measured figures.

    tools/scaling_model.py --params 6.2e6 --ms-per-image 23.2 [--cores 2] [--node-cores 32] [--batch 128 ...]

A step on N ranks = the compute of one rank's batch b (measured here: ms per image on this machine's cores, scaled
linearly to a node's cores, which is optimistic) + one allreduce of the flat float32 gradient (S = 4 x params
bytes), modelled as a ring: 2 (N - 1) / N x S / bandwidth + 2 (N - 1) x latency. No overlap of the allreduce with
the backward pass is assumed (ldae reduces after the backward), so the fractions are upper bounds of the waste.
Prints one markdown table per link (10 Gbit/s Ethernet, 100 Gbit/s InfiniBand-class).
"""
import argparse

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--params", type=float, required=True, help="model parameters (the gradient has as many floats)")
ap.add_argument("--ms-per-image", type=float, required=True, help="measured training-step ms per image on --cores cores")
ap.add_argument("--cores", type=int, default=2, help="cores of the measurement")
ap.add_argument("--node-cores", type=int, default=32, help="cores of one cluster node (one rank per node)")
ap.add_argument("--batch", type=int, nargs="+", default=[128, 16], help="per-rank batch sizes to model")
ap.add_argument("--nodes", type=int, nargs="+", default=[8, 64, 512])
a = ap.parse_args()

size = 4 * a.params
links = [("10 Gbit/s Ethernet (latency 20 us)", 10e9 / 8, 20e-6), ("100 Gbit/s InfiniBand-class (latency 2 us)", 100e9 / 8, 2e-6)]
per_image = a.ms_per_image / 1000 * a.cores / a.node_cores
print(f"gradient {size / 1e6:.1f} MB per allreduce; compute {per_image * 1000:.2f} ms per image on a {a.node_cores}-core node "
      f"({a.ms_per_image:.1f} ms on {a.cores} cores, scaled linearly)\n")
for name, bw, lat in links:
    print(f"{name}:\n")
    print("| nodes | per-rank batch | global batch | compute ms | allreduce ms | step ms | communication share | images/s |")
    print("|---|---|---|---|---|---|---|---|")
    for n in a.nodes:
        comm = 2 * (n - 1) / n * size / bw + 2 * (n - 1) * lat
        for b in a.batch:
            comp = b * per_image
            step = comp + comm
            print(f"| {n} | {b} | {n * b:,} | {comp * 1000:.0f} | {comm * 1000:.1f} | {step * 1000:.0f} | {comm / step:.0%} | {n * b / step:,.0f} |")
    print()
