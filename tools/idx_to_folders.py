#!/usr/bin/env python3
"""Writes an IDX image set (MNIST's format: Fashion-MNIST, MNIST, KMNIST) as class folders of PNG files, the layout
`ldae-prep images` reads. Python's standard library only (gzip, struct, zlib).

    tools/idx_to_folders.py IMAGES.idx3-ubyte.gz LABELS.idx1-ubyte.gz OUT [--names a,b,...] [--max N]

OUT/NN_name/00000.png, one grey PNG per image in file order; --names gives the class folders' names (sorted folder
names are label ids, so each gets its label number as a prefix). For the transfer row of the fine-tuning study:
Debian's `dataset-fashion-mnist` package installs Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, MIT license) as
/usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz.
"""
import argparse
import gzip
import os
import struct
import sys
import zlib

FASHION = ["tshirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot"]


def read_idx(path):
    with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit("idx_to_folders.py: error: %s: not an unsigned-byte IDX file" % path)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = data[4 + 4 * ndim:]
    n = 1
    for d in dims:
        n *= d
    if len(body) != n:
        sys.exit("idx_to_folders.py: error: %s: %d bytes of data for shape %s" % (path, len(body), dims))
    return dims, body


def png_grey(pixels, w, h):
    raw = b"".join(b"\x00" + pixels[y * w:(y + 1) * w] for y in range(h))
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images")
    ap.add_argument("labels")
    ap.add_argument("out")
    ap.add_argument("--names", default=",".join(FASHION), help="class names in label order (default: Fashion-MNIST's)")
    ap.add_argument("--max", type=int, default=None)
    a = ap.parse_args()
    (n, h, w), pix = read_idx(a.images)
    (nl,), lab = read_idx(a.labels)
    if nl != n:
        sys.exit("idx_to_folders.py: error: %d labels for %d images" % (nl, n))
    names = a.names.split(",")
    width = len(str(len(names) - 1))
    folders = ["%0*d_%s" % (width, i, s) for i, s in enumerate(names)]
    for f in folders:
        os.makedirs(os.path.join(a.out, f), exist_ok=True)
    count = n if a.max is None else min(n, a.max)
    for i in range(count):
        k = lab[i]
        if k >= len(names):
            sys.exit("idx_to_folders.py: error: image %d has label %d, beyond the %d names" % (i, k, len(names)))
        path = os.path.join(a.out, folders[k], "%05d.png" % i)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(png_grey(pix[i * h * w:(i + 1) * h * w], w, h))
        os.replace(tmp, path)
    print("wrote %d %dx%d images in %d class folders under %s" % (count, w, h, len(names), a.out))


if __name__ == "__main__":
    main()
