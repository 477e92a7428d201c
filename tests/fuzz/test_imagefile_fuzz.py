"""Fuzzing the image files given to ``predict`` (``load_image_file``).

Fuzzed: arbitrary bytes; small valid PNG, JPEG, GIF, BMP, TIFF and WebP files
written with Pillow in many colour modes and encodings (palette with
transparency, 16-bit and float greyscale, CMYK, progressive JPEG with an EXIF
orientation, MPO, animated PNG and GIF, RLE8/RLE4 BMP, LZW, deflate, PackBits
and JPEG TIFF, multi-page TIFF, lossless WebP), with their bytes mutated,
truncated or spliced; and those files with header fields that lie about the
size (PNG IHDR with a correct CRC, BMP width and height, GIF screen and frame
sizes, TIFF ImageWidth/ImageLength, JPEG SOF), up to and beyond
``MAX_PIXELS``, and about the layout (bit depth, colour type, compression,
component count, any TIFF tag). Output sizes and normalisation vary too, and
so does the path name.

Property: the result has shape (1, height, width) as requested, float32,
finite, in [0, 1] when not normalised; otherwise an
:class:`~shallownet.errors.ImageFileError` naming the file. Never another
exception, a hang or a huge allocation: a lying header may make Pillow
allocate the announced pixels (up to ``MAX_PIXELS``), never more.

Pillow cannot tell a header that lies about its size from a real large
image until it decodes, so the mutation test lowers ``MAX_PIXELS`` to a
million to keep each example quick (as tests/data/test_imagefile.py does);
the header test and the corpus use the real limit.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from shallownet.data import imagefile
from shallownet.data.imagefile import MAX_PIXELS, load_image_file, load_image_files
from shallownet.errors import ImageFileError
from tests.fuzz.harness import (
    corpus,
    fuzz_settings,
    mutated,
    path_names,
    result_or_own_error,
)

ORIENTATION = 0x0112
SIZES = st.sampled_from([(28, 28), 28, (32, 20), (1, 1), (5, 64)])
NORMALISATION = st.sampled_from([{}, {}, {"mean": 0.2860, "std": 0.3530}])
INVERT = st.sampled_from(["auto", True, False])
#: Sizes a lying header announces: tiny, around the limit (about 7071 squared) and beyond.
LIES = st.one_of(st.integers(0, 70), st.sampled_from(
    [0, 1, 2, 255, 256, 4096, 7071, 7072, 65_535, 65_536, 2**31 - 1, 2**31, 2**32 - 1]))


def picture(width: int = 23, height: int = 17) -> Image.Image:
    """An RGB test picture: a gradient with a dark block."""
    y, x = np.mgrid[0:height, 0:width]
    a = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1),
                  (x + y) % 256], axis=-1).astype(np.uint8)
    a[height // 3 : 2 * height // 3, width // 3 : 2 * width // 3] = 20
    return Image.fromarray(a)


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def bmp_rle(bits: int) -> bytes:
    """An 8x4 BMP compressed with RLE8 or RLE4 (Pillow reads these but cannot write them):
    runs, absolute runs, end-of-line, a delta and end-of-bitmap."""
    width, height, colours = 8, 4, 1 << bits
    palette = b"".join(bytes([i * 255 // (colours - 1)] * 3 + [0]) for i in range(colours))
    if bits == 8:
        row = bytes([4, 90, 0, 4, 1, 2, 3, 4, 0, 0])
    else:
        row = bytes([4, 0x12, 0, 4, 0x34, 0x56, 0, 0])
    pixels = row * height + bytes([0, 2, 1, 0, 0, 1])
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, 1 if bits == 8 else 2,
                       len(pixels), 2835, 2835, colours, 0)
    offset = 14 + len(info) + len(palette)
    header = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    return header + info + palette + pixels


def seed_files() -> dict[str, bytes]:
    """Small valid image files: every format and many modes and encodings."""
    rgb = picture()
    grey16 = Image.fromarray((np.arange(17 * 23).reshape(17, 23) * 150).astype(np.uint16))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    palette = rgb.convert("P", palette=Image.ADAPTIVE, colors=16)
    turned = rgb.rotate(90)
    seeds = {
        "png-rgb": encoded(rgb, "PNG"),
        "png-grey": encoded(rgb.convert("L"), "PNG"),
        "png-rgba": encoded(rgb.convert("RGBA"), "PNG"),
        "png-la": encoded(rgb.convert("LA"), "PNG"),
        "png-palette-transparent": encoded(palette, "PNG", transparency=0),
        "png-1bit": encoded(rgb.convert("1"), "PNG"),
        "png-16bit": encoded(grey16, "PNG"),
        "png-animated": encoded(rgb, "PNG", save_all=True, append_images=[turned], duration=50),
        "jpeg-rgb": encoded(rgb, "JPEG", quality=80),
        "jpeg-grey": encoded(rgb.convert("L"), "JPEG"),
        "jpeg-cmyk": encoded(rgb.convert("CMYK"), "JPEG"),
        "jpeg-progressive-exif": encoded(rgb, "JPEG", progressive=True, exif=exif.tobytes()),
        "jpeg-mpo": encoded(rgb, "MPO", save_all=True, append_images=[turned]),
        "gif": encoded(palette, "GIF"),
        "gif-animated": encoded(palette, "GIF", save_all=True, duration=50, loop=0,
                                append_images=[turned.convert("P")]),
        "gif-transparent": encoded(palette, "GIF", transparency=3),
        "bmp-rgb": encoded(rgb, "BMP"),
        "bmp-rgba": encoded(rgb.convert("RGBA"), "BMP"),
        "bmp-palette": encoded(palette, "BMP"),
        "bmp-1bit": encoded(rgb.convert("1"), "BMP"),
        "bmp-rle8": bmp_rle(8),
        "bmp-rle4": bmp_rle(4),
        "tiff-raw": encoded(rgb, "TIFF"),
        "tiff-lzw": encoded(rgb, "TIFF", compression="tiff_lzw"),
        "tiff-deflate-rgba": encoded(rgb.convert("RGBA"), "TIFF",
                                     compression="tiff_adobe_deflate"),
        "tiff-packbits-grey": encoded(rgb.convert("L"), "TIFF", compression="packbits"),
        "tiff-jpeg": encoded(rgb, "TIFF", compression="jpeg"),
        "tiff-16bit": encoded(grey16, "TIFF"),
        "tiff-float": encoded(grey16.convert("F"), "TIFF"),
        "tiff-cmyk": encoded(rgb.convert("CMYK"), "TIFF"),
        "tiff-pages": encoded(rgb, "TIFF", save_all=True, append_images=[rgb.convert("L")]),
    }
    if "WEBP" in Image.SAVE:
        seeds["webp-lossless"] = encoded(rgb, "WEBP", lossless=True)
        seeds["webp-lossy"] = encoded(rgb.convert("RGBA"), "WEBP", quality=50)
    return seeds


SEEDS = seed_files()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def with_size(name: str, data: bytes, width: int, height: int) -> bytes:
    """``data`` (the seed ``name``) with its header's width and height replaced."""
    out = bytearray(data)
    if name.startswith("png"):  # IHDR, its CRC recomputed so that the lie is believed
        ihdr = struct.pack(">II", width % 2**32, height % 2**32) + bytes(out[24:29])
        out[8:33] = png_chunk(b"IHDR", ihdr)
    elif name.startswith("bmp"):  # BITMAPINFOHEADER: signed, negative height = top-down
        out[18:26] = struct.pack("<II", width % 2**32, height % 2**32)
    elif name.startswith("gif"):  # logical screen, then the first frame's descriptor
        out[6:10] = struct.pack("<HH", width % 2**16, height % 2**16)
        frame = out.find(b"\x2c\x00\x00\x00\x00")
        if frame > 0:
            out[frame + 5 : frame + 9] = struct.pack("<HH", width % 2**16, height % 2**16)
    elif name.startswith("tiff"):  # ImageWidth (256) and ImageLength (257) as LONGs
        for entry, tag in tiff_entries(out):
            if tag in (256, 257):
                value = width if tag == 256 else height
                out[entry + 2 : entry + 12] = struct.pack("<HII", 4, 1, value % 2**32)
    elif name.startswith("jpeg"):  # SOF0 or SOF2: precision, then height and width
        sof = max(out.find(b"\xff\xc0"), out.find(b"\xff\xc2"))
        out[sof + 5 : sof + 9] = struct.pack(">HH", height % 2**16, width % 2**16)
    return bytes(out)


def tiff_entries(data) -> list[tuple[int, int]]:
    """(offset, tag) of each entry of a little-endian TIFF's first directory."""
    ifd = struct.unpack("<I", data[4:8])[0]
    count = struct.unpack("<H", data[ifd : ifd + 2])[0]
    return [(ifd + 2 + 12 * i, struct.unpack("<H", data[ifd + 2 + 12 * i : ifd + 4 + 12 * i])[0])
            for i in range(count)]


#: Values written into layout fields: bit depths, colour types, counts, codes.
LAYOUT_VALUES = st.one_of(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 15, 16, 24, 32, 64,
                                           255, 256, 32_773, 65_535]), st.integers(0, 2**16))


def with_layout(draw, name: str, data: bytes) -> bytes:
    """``data`` with one header field other than the size replaced: bit depth, colour type,
    compression, component count, a TIFF tag's value, GIF packed flags."""
    out = bytearray(data)
    value = draw(LAYOUT_VALUES)
    if name.startswith("png"):  # bit depth, colour type, compression, filter, interlace
        field = draw(st.integers(24, 28))
        out[field] = value % 256
        out[8:33] = png_chunk(b"IHDR", bytes(out[16:29]))
    elif name.startswith("bmp"):  # planes, bits per pixel, compression, colours used
        field, width = draw(st.sampled_from([(26, 2), (28, 2), (30, 4), (46, 4), (14, 4)]))
        out[field : field + width] = (value % 256**width).to_bytes(width, "little")
    elif name.startswith("gif"):  # screen flags, first frame flags
        frame = out.find(b"\x2c\x00\x00\x00\x00")
        out[draw(st.sampled_from([10, frame + 9 if frame > 0 else 10]))] = value % 256
    elif name.startswith("tiff"):  # any tag: its type (SHORT, LONG) and its first value
        entry, _ = draw(st.sampled_from(tiff_entries(out)))
        kind = draw(st.sampled_from([3, 4]))
        out[entry + 2 : entry + 4] = struct.pack("<H", kind)
        out[entry + 8 : entry + 12] = struct.pack("<I", value)
    elif name.startswith("jpeg"):  # SOF precision or component count
        sof = max(out.find(b"\xff\xc0"), out.find(b"\xff\xc2"))
        out[sof + draw(st.sampled_from([4, 9]))] = value % 256
    return bytes(out)


@st.composite
def lying_headers(draw) -> bytes:
    """A seed whose header lies about the size (and maybe about its layout too), maybe
    truncated or padded."""
    name = draw(st.sampled_from(sorted(n for n in SEEDS if not n.startswith("webp"))))
    data = SEEDS[name]
    if draw(st.integers(0, 3)):
        data = with_size(name, data, draw(LIES), draw(LIES))
    if draw(st.booleans()):
        data = with_layout(draw, name, data)
    ending = draw(st.sampled_from(["as is", "truncated", "padded"]))
    if ending == "truncated":
        data = data[: draw(st.integers(0, len(data)))]
    elif ending == "padded":
        data += bytes(draw(st.integers(1, 4096)))
    return data


def check_image(path, content: bytes, size, invert, norm: dict) -> None:
    """The property for ``load_image_file(path, ...)`` on ``content``."""
    path.write_bytes(content)
    outcome = result_or_own_error(
        lambda: load_image_file(path, size=size, invert=invert, **norm))
    if isinstance(outcome, Exception):
        assert isinstance(outcome, ImageFileError), repr(outcome)
        assert str(path) in str(outcome)
        return
    height, width = (size, size) if isinstance(size, int) else size
    assert outcome.shape == (1, height, width) and outcome.dtype == torch.float32
    assert torch.isfinite(outcome).all()
    if not norm:
        assert float(outcome.min()) >= 0.0 and float(outcome.max()) <= 1.0


@fuzz_settings()
@given(content=st.binary(min_size=1, max_size=4096), size=SIZES, invert=INVERT,
       norm=NORMALISATION)
def test_any_bytes_give_an_image_or_an_image_file_error(tmp_path, content, size, invert, norm):
    check_image(tmp_path / "upload.png", content, size, invert, norm)


@fuzz_settings()
@given(content=mutated(st.sampled_from([SEEDS[n] for n in sorted(SEEDS)])), size=SIZES,
       invert=INVERT, norm=NORMALISATION)
def test_mutated_image_files_give_an_image_or_an_image_file_error(
    tmp_path, monkeypatch, content, size, invert, norm
):
    monkeypatch.setattr(imagefile, "MAX_PIXELS", 1_000_000)
    check_image(tmp_path / "photo.jpg", content, size, invert, norm)


@fuzz_settings()
@given(content=lying_headers(), size=SIZES)
def test_headers_lying_about_size_and_layout_give_an_image_or_an_image_file_error(
    tmp_path, content, size
):
    check_image(tmp_path / "scan.tif", content, size, "auto", {})


@fuzz_settings()
@given(name=path_names("photo.png"))
@example(name="a\x00b")  # once crashed
@example(name="\ud800")  # once crashed
@example(name="a" * 300)  # once crashed
def test_any_path_gives_an_image_or_an_image_file_error(tmp_path, name):
    (tmp_path / "photo.png").write_bytes(SEEDS["png-rgb"])
    path = os.path.join(tmp_path, name)
    outcome = result_or_own_error(lambda: load_image_file(path))
    if isinstance(outcome, Exception):
        assert isinstance(outcome, ImageFileError), repr(outcome)
        assert str(Path(path)) in str(outcome)
    else:
        assert outcome.shape == (1, 28, 28)


def test_the_seeds_are_valid_and_their_size_lies_are_believed(tmp_path):
    for name, content in SEEDS.items():
        check_image(tmp_path / name, content, 28, "auto", {})
        assert load_image_file(tmp_path / name).shape == (1, 28, 28), name
    for name, content in SEEDS.items():
        if name.startswith("webp"):
            continue
        with Image.open(io.BytesIO(with_size(name, content, 7071, 33))) as image:
            assert image.size == (7071, 33), name
    assert 7071 * 7071 <= MAX_PIXELS < 7072 * 7072


@pytest.mark.parametrize("path", corpus("imagefile"))
def test_imagefile_corpus_file_gives_an_image_or_an_image_file_error(tmp_path, path):
    check_image(tmp_path / path.name, path.read_bytes(), 28, "auto", {})
    outcome = result_or_own_error(lambda: load_image_files([tmp_path / path.name]))
    assert isinstance(outcome, ImageFileError) or outcome.shape == (1, 1, 28, 28)
