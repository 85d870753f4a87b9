#!/usr/bin/env python3
"""Writes Tests/LdaeTests/Fixtures/pngsuite/expected.tsv: Pillow's decode of every valid PngSuite file.

Run once (the table is committed; PngSuiteTests compares ldae's decoder with it):
    python3 -m venv /tmp/pil && /tmp/pil/bin/pip install pillow numpy
    /tmp/pil/bin/python tools/pngsuite_expected.py

One line per file whose name does not start with "x" (the x* files are the suite's corrupt ones):
    name <TAB> width <TAB> height <TAB> sha256 of the pixels as 8-bit RGBA, row-major (row, col, R G B A)

The comparison is made on 8-bit RGBA *before* ldae composites alpha on its background (`alpha_background`):
Pillow's convert("RGB") drops alpha instead of compositing, so the composited RGB of the two cannot agree, while
the RGBA samples are well defined in both. PngSuiteTests also checks that ldae's public decode equals that RGBA
composited by ldae's documented rule. Per PNG mode:

- 8-bit and lower: Image.convert("RGBA") (palette with tRNS -> its alpha; 1/2/4-bit gray scaled to 0..255 by
  v * 255 / (2^bits - 1); RGB with tRNS -> alpha 0 where the colour matches).
- 16-bit samples become 8-bit by their high byte, v >> 8: what Pillow's PNG reader does itself for 16-bit RGB,
  RGBA and gray+alpha (raw modes RGB;16B, RGBA;16B, LA;16B). 16-bit gray opens as mode I;16 (I in Pillow 9.4)
  holding all 16 bits, where convert() clips to 255 instead of scaling; we take its high byte, the same rule.
  (ldae used round(v / 257) before, up to 1 level away; it now takes the high byte too, png_set_strip_16.)
- gAMA, cHRM, sBIT, sRGB, iCCP and bKGD are ignored, by Pillow and by ldae's default (`--png-gamma ignore`).
- Gray images with a tRNS chunk: Pillow gets these wrong, so the alpha is made here from the chunk, as the PNG
  specification says (alpha 0 where the sample *as stored* equals the tRNS value, at the file's bit depth).
  Pillow (9.4 and 13) compares the tRNS value of a 1/2/4-bit file with the already scaled L sample (tbbn0g04: no
  pixel transparent instead of 464 of 1024), and its 16-bit gray -> RGBA conversion makes every pixel transparent
  (tbwn0g16: 1024 instead of 453). For RGB images with tRNS (8 or 16 bits: tbrn2c08, tbbn2c16, tbgn2c16)
  Pillow is right.

The table comes out the same with Pillow 9.4.0 (Debian 12's python3-pil) and 13.0.0. PngSuiteTests imports rgba()
from here, when a python3 with Pillow is at hand, to report by how many levels a mismatching file differs.
"""
import hashlib
import os
import struct
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = os.path.normpath(os.path.join(HERE, "..", "Tests", "LdaeTests", "Fixtures", "pngsuite"))


def ihdr_and_trns(path):
    """(bit depth, colour type, the tRNS chunk's bytes or None), read from the file's chunks."""
    data = open(path, "rb").read()
    depth, colour = data[24], data[25]
    pos, trns = 8, None
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"tRNS":
            trns = data[pos + 8:pos + 8 + n]
        if kind == b"IDAT" or kind == b"IEND":
            break
        pos += 12 + n
    return depth, colour, trns


def rgba(path):
    """The file's pixels as uint8 [H, W, 4] under the definition above."""
    im = Image.open(path)
    im.load()
    depth, colour, trns = ihdr_and_trns(path)
    if colour == 0:                                   # gray: samples as stored, alpha from tRNS ourselves
        if depth == 16:                               # mode I;16 (Pillow >= 10) or I (older): all 16 bits
            raw = np.asarray(im).astype(np.uint32)
            assert raw.max() < 65536, path
            gray = (raw >> 8).astype(np.uint8)
        else:
            gray = np.asarray(im.convert("L"), dtype=np.uint8)
            raw = gray.astype(np.uint16) // (255 // ((1 << depth) - 1))
        alpha = np.full(gray.shape, 255, np.uint8)
        if trns is not None:
            alpha[raw == struct.unpack(">H", trns[:2])[0]] = 0
        return np.dstack([gray, gray, gray, alpha])
    assert im.mode in ("RGB", "RGBA", "LA", "P"), (path, im.mode)
    return np.asarray(im.convert("RGBA"), dtype=np.uint8)


def main():
    names = sorted(f for f in os.listdir(SUITE) if f.endswith(".png") and not f.startswith("x"))
    lines = []
    for name in names:
        px = rgba(os.path.join(SUITE, name))
        h, w, _ = px.shape
        lines.append(f"{name}\t{w}\t{h}\t{hashlib.sha256(np.ascontiguousarray(px).tobytes()).hexdigest()}\n")
    out = os.path.join(SUITE, "expected.tsv")
    with open(out, "w") as f:
        f.writelines(lines)
    print(f"{out}: {len(lines)} files", file=sys.stderr)


if __name__ == "__main__":
    main()
