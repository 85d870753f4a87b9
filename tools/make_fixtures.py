#!/usr/bin/python3
"""Generates the ldae-prep test fixtures under Tests/LdaeTests/Fixtures (committed; tests never run this).

Needs Debian's python3-pil and python3-numpy (apt-get install -y python3-pil python3-numpy) and the CIFAR-10
archive ../shared/data/cifar10-jpg.tgz. Deterministic: rerunning gives the same files.

  /usr/bin/python3 tools/make_fixtures.py

Layout:
  cifar10/{train,test}/CLASS/*.jpg   20 train + 10 test JPEGs per class, copied from the archive
  png/*.png + png/expected.json      every PNG colour type / bit depth / tRNS / interlace, written by the tiny
                                     encoder below from exact sample values; expected.json holds the RGB the
                                     decoder must produce (alpha composited on white; 16-bit as round(v/257),
                                     within the tolerance of the decoder's v >> 8)
  jpeg/*.jpg + jpeg/*.ref.png        baseline, progressive, grayscale, CMYK (Adobe) JPEGs and Pillow's decode
                                     of each (lossless PNG); jpeg/expected.json records the tolerance
  exif/orient{1..8}.jpg              the same upright picture (exif/upright.png) stored rotated/mirrored with
                                     EXIF orientation k, so that applying k gives it back; malformed.jpg has a
                                     broken EXIF block
  resize/src.png + resize/pil_*.png  Pillow's antialiased resizes of src.png to 32x32 (crop box / stretch)
  bad/*                              truncated, garbage, empty, GIF, text, decompression bomb, warning-only
"""
import io, json, os, struct, tarfile, zlib
import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LdaeTests", "Fixtures")
ARCHIVE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "cifar10-jpg.tgz")
rng = np.random.default_rng(1234)


def path(*p):
    f = os.path.join(ROOT, *p)
    os.makedirs(os.path.dirname(f), exist_ok=True)
    return f


# ---------- CIFAR-10 subset ----------
def cifar():
    want = {"train": 20, "test": 10}
    taken = {}
    with tarfile.open(ARCHIVE) as t:
        for m in t:
            parts = m.name.split("/")
            if not m.isfile() or len(parts) != 4:
                continue
            _, split, cls, name = parts
            key = (split, cls)
            if taken.get(key, 0) >= want[split]:
                continue
            taken[key] = taken.get(key, 0) + 1
            with open(path("cifar10", split, cls, name), "wb") as f:
                f.write(t.extractfile(m).read())


# ---------- a tiny PNG encoder (every colour type, bit depth, palette, tRNS, Adam7) ----------
def chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def pack_rows(samples, depth):
    """samples: [h][w*spp] ints -> raw scanlines (filter 0) for this bit depth."""
    out = bytearray()
    for row in samples:
        out.append(0)
        if depth == 16:
            for v in row:
                out += struct.pack(">H", int(v))
        elif depth == 8:
            out += bytes(int(v) for v in row)
        else:
            per = 8 // depth
            for i in range(0, len(row), per):
                b = 0
                for k in range(per):
                    v = int(row[i + k]) if i + k < len(row) else 0
                    b |= v << (8 - depth * (k + 1))
                out.append(b)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(p, img, color_type, depth, palette=None, trns=None, interlace=False):
    """img: numpy [h, w, spp] of sample values."""
    h, w, spp = img.shape
    raw = b""
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = img[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += pack_rows(sub.reshape(sub.shape[0], -1).tolist(), depth)
    else:
        raw = pack_rows(img.reshape(h, -1).tolist(), depth)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0))
    if palette is not None:
        data += chunk(b"PLTE", bytes(v for rgb in palette for v in rgb))
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path(p), "wb") as f:
        f.write(data)
    return data


def comp(c, a):  # straight alpha on white, rounded as the decoder does: (c*a + 255*(255-a) + 127) // 255
    return (c * a + 255 * (255 - a) + 127) // 255


def to8(v16):
    return (v16 * 255 + 32767) // 65535


def pngs():
    W, H = 9, 7
    expected = {}
    yy, xx = np.mgrid[0:H, 0:W]

    def put(name, rgb, **kw):
        expected[name] = {"width": W, "height": H, "rgb": np.asarray(rgb, dtype=int).reshape(-1).tolist(), **kw}

    g8 = (yy * 37 + xx * 11) % 256
    write_png("png/gray8.png", g8[..., None], 0, 8); put("gray8.png", np.stack([g8] * 3, -1))
    for d in (1, 2, 4):
        m = (1 << d) - 1
        v = (yy * 3 + xx) % (m + 1)
        write_png(f"png/gray{d}.png", v[..., None], 0, d)
        g = v * 255 // m
        put(f"gray{d}.png", np.stack([g] * 3, -1))
    g16 = g8 * 257 + ((xx * 13) % 100) - 50
    g16 = np.clip(g16, 0, 65535)
    write_png("png/gray16.png", g16[..., None], 0, 16); put("gray16.png", np.stack([to8(g16)] * 3, -1), tolerance=1)
    a8 = np.array([0, 255, 128, 64, 200, 255, 30, 255, 100])[(xx + yy) % 9]
    write_png("png/graya8.png", np.stack([g8, a8], -1), 4, 8); put("graya8.png", np.stack([comp(g8, a8)] * 3, -1))
    rgb8 = np.stack([(xx * 28) % 256, (yy * 40) % 256, (xx * yy * 7 + 5) % 256], -1)
    write_png("png/rgb8.png", rgb8, 2, 8); put("rgb8.png", rgb8)
    write_png("png/rgb8_interlaced.png", rgb8, 2, 8, interlace=True); put("rgb8_interlaced.png", rgb8)
    rgb16 = np.clip(rgb8 * 257 + ((xx + 3 * yy) % 60 - 30)[..., None], 0, 65535)
    write_png("png/rgb16.png", rgb16, 2, 16); put("rgb16.png", to8(rgb16), tolerance=1)
    rgba8 = np.concatenate([rgb8, a8[..., None]], -1)
    write_png("png/rgba8.png", rgba8, 6, 8); put("rgba8.png", comp(rgb8, a8[..., None]))
    a16 = np.where(a8 == 255, 65535, np.where(a8 == 0, 0, a8 * 257))
    write_png("png/rgba16.png", np.concatenate([rgb8 * 257, a16[..., None]], -1), 6, 16)
    put("rgba16.png", comp(rgb8, a8[..., None]), tolerance=2)
    pal = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (250, 200, 10), (17, 34, 51), (0, 0, 0), (255, 255, 255), (90, 10, 160)]
    idx = (xx + 2 * yy) % len(pal)
    write_png("png/palette8.png", idx[..., None], 3, 8, palette=pal); put("palette8.png", np.array(pal)[idx])
    write_png("png/palette4_interlaced.png", idx[..., None], 3, 4, palette=pal, interlace=True)
    put("palette4_interlaced.png", np.array(pal)[idx])
    ta = [255, 0, 128, 255, 60, 255, 255, 200]
    write_png("png/palette_trns.png", idx[..., None], 3, 8, palette=pal, trns=bytes(ta))
    put("palette_trns.png", comp(np.array(pal)[idx], np.array(ta)[idx][..., None]))
    # gray with a tRNS colour key: value 74 is transparent
    write_png("png/gray8_trns.png", g8[..., None], 0, 8, trns=struct.pack(">H", 74))
    gk = np.where(g8 == 74, 255, g8)
    put("gray8_trns.png", np.stack([gk] * 3, -1))
    # a PNG named .jpg: found by magic bytes
    write_png("png/rgb8_named.jpg", rgb8, 2, 8); put("rgb8_named.jpg", rgb8)
    with open(path("png", "expected.json"), "w") as f:
        json.dump(expected, f, indent=0, sort_keys=True)


# ---------- JPEGs and Pillow's decode ----------
def picture(w, h):
    yy, xx = np.mgrid[0:h, 0:w]
    r = 128 + 100 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    g = 255 * xx / max(w - 1, 1)
    b = 255 * yy / max(h - 1, 1)
    return np.clip(np.stack([r, g, b], -1), 0, 255).astype(np.uint8)


def jpegs():
    pic = Image.fromarray(picture(48, 40))
    outs = {
        "baseline.jpg": lambda p: pic.save(p, quality=90),
        "progressive.jpg": lambda p: pic.save(p, quality=90, progressive=True),
        "gray.jpg": lambda p: pic.convert("L").save(p, quality=90),
        "cmyk.jpg": lambda p: pic.convert("CMYK").save(p, quality=95),
        "subsampled420.jpg": lambda p: pic.save(p, quality=80, subsampling=2),
    }
    exp = {}
    for name, fn in outs.items():
        p = path("jpeg", name)
        fn(p)
        im = Image.open(p)
        exp[name] = {"mode": im.mode, "tolerance": 3 if im.mode == "CMYK" else 1}
        im.convert("RGB").save(path("jpeg", name.replace(".jpg", ".ref.png")))
    Image.fromarray(picture(400, 300)).save(path("jpeg", "large400x300.jpg"), quality=85)
    # Pillow's full-resolution reference for --size 32 --resize crop: centre 300x300 box, bicubic to 32x32
    Image.open(path("jpeg", "large400x300.jpg")).convert("RGB").resize((32, 32), Image.BICUBIC, box=(50, 0, 350, 300)).save(
        path("jpeg", "large400x300.crop32.png"))
    with open(path("jpeg", "expected.json"), "w") as f:
        json.dump(exp, f, indent=1, sort_keys=True)


# ---------- EXIF orientation ----------
INVERSE = {1: None, 2: Image.FLIP_LEFT_RIGHT, 3: Image.ROTATE_180, 4: Image.FLIP_TOP_BOTTOM,
           5: Image.TRANSPOSE, 6: Image.ROTATE_90, 7: Image.TRANSVERSE, 8: Image.ROTATE_270}


def exif():
    from PIL import ImageOps
    up = np.zeros((16, 24, 3), np.uint8)
    up[:8, :8] = (255, 0, 0); up[:8, 8:16] = (0, 255, 0); up[:8, 16:] = (0, 0, 255)
    up[8:, :8] = (255, 255, 0); up[8:, 8:16] = (0, 255, 255); up[8:, 16:] = (255, 255, 255)
    upright = Image.fromarray(up)
    upright.save(path("exif", "upright.png"))
    for k in range(1, 9):
        stored = upright if INVERSE[k] is None else upright.transpose(INVERSE[k])
        ex = Image.Exif(); ex[0x0112] = k
        p = path("exif", f"orient{k}.jpg")
        stored.save(p, quality=95, exif=ex.tobytes(), subsampling=0)
        back = np.asarray(ImageOps.exif_transpose(Image.open(p)).convert("RGB")).astype(int)
        assert back.shape == up.shape and np.abs(back - up).max() < 12, k
    # a broken EXIF block (bad byte order mark, offsets past the end): must be ignored, not fatal
    buf = io.BytesIO(); upright.save(buf, format="JPEG", quality=95, subsampling=0)
    j = buf.getvalue()
    app1 = b"Exif\x00\x00" + b"XX\x00\x2a\xff\xff\xff\x00garbage"
    seg = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    with open(path("exif", "malformed.jpg"), "wb") as f:
        f.write(j[:2] + seg + j[2:])
    app1 = b"Exif\x00\x00" + b"II\x2a\x00\x08\x00\x00\x00" + b"\x05\x00"  # claims 5 entries, holds none
    seg = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    with open(path("exif", "truncated_ifd.jpg"), "wb") as f:
        f.write(j[:2] + seg + j[2:])


# ---------- resize references ----------
def resize():
    src = picture(50, 40)
    src[::2, ::3] = 255 - src[::2, ::3]  # high frequencies: aliasing shows without antialiasing
    im = Image.fromarray(src)
    im.save(path("resize", "src.png"))
    im.resize((32, 32), Image.BICUBIC, box=(5, 0, 45, 40)).save(path("resize", "pil_bicubic_crop.png"))
    im.resize((32, 32), Image.BILINEAR, box=(5, 0, 45, 40)).save(path("resize", "pil_bilinear_crop.png"))
    im.resize((32, 32), Image.BICUBIC).save(path("resize", "pil_bicubic_stretch.png"))


# ---------- bad files ----------
def bad():
    buf = io.BytesIO(); Image.fromarray(picture(48, 40)).save(buf, format="JPEG", quality=90)
    j = buf.getvalue()
    open(path("bad", "truncated.jpg"), "wb").write(j[: len(j) * 6 // 10])
    pbuf = io.BytesIO(); Image.fromarray(picture(48, 40)).save(pbuf, format="PNG")
    p = pbuf.getvalue()
    open(path("bad", "truncated.png"), "wb").write(p[: len(p) // 2])
    open(path("bad", "garbage.jpg"), "wb").write(bytes(rng.integers(0, 256, 2000, dtype=np.uint8)))
    open(path("bad", "garbage_after_soi.jpg"), "wb").write(b"\xff\xd8\xff" + bytes(rng.integers(0, 256, 500, dtype=np.uint8)))
    open(path("bad", "empty.jpg"), "wb").write(b"")
    open(path("bad", "notes.txt"), "w").write("not an image\n")
    Image.fromarray(picture(8, 8)).save(path("bad", "image.gif"))
    # decompression bomb: a valid PNG header claiming 100000 x 100000 pixels, almost no data
    hdr = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
    open(path("bad", "bomb.png"), "wb").write(hdr + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))
    # decodable with a libjpeg corrupt-data warning: junk bytes between two header markers
    k = j.index(b"\xff\xdb")
    open(path("warn", "extraneous_bytes.jpg"), "wb").write(j[:k] + b"\x00\x13\x37" + j[k:])


if __name__ == "__main__":
    cifar(); pngs(); jpegs(); exif(); resize(); bad()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(ROOT) for f in fs)
    print(f"fixtures written to {os.path.normpath(ROOT)}: {total / 1e6:.2f} MB")
