"""A user's own image files as Fashion-MNIST-like tensors (real files written with Pillow)."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from shallownet.data import imagefile, load_image_file, load_image_files, read_idx
from shallownet.errors import DataError, ImageFileError, UsageError
from tests.conftest import SYSTEM_FASHION_MNIST, requires_real_data

ORIENTATION = 0x0112


def save(image: Image.Image, path: Path, **kwargs) -> Path:
    image.save(path, **kwargs)
    return path


def dark_block_on_white(width: int = 300, height: int = 200, mode: str = "RGB") -> Image.Image:
    """A white picture with a dark 100x80 rectangle (width x height) in the middle."""
    a = np.full((height, width, 3), 255, dtype=np.uint8)
    cy, cx = height // 2, width // 2
    a[cy - 40 : cy + 40, cx - 50 : cx + 50] = (30, 20, 10)
    return Image.fromarray(a).convert(mode)


def bright_box(x: torch.Tensor, threshold: float = 0.5) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), inclusive, of the pixels above ``threshold``."""
    rows, cols = np.nonzero(x.squeeze(0).numpy() > threshold)
    return rows.min(), rows.max(), cols.min(), cols.max()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR announces width x height but whose IDAT holds almost nothing."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


# --------------------------------------------------------------------------- pixels and geometry


def test_grey_28x28_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    x = load_image_file(save(Image.fromarray(a), tmp_path / "a.png"), invert=False)
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    np.testing.assert_allclose(x[0].numpy(), a / 255.0, atol=1 / 255 + 1e-6)


def test_large_white_background_photo_becomes_inverted_and_undistorted(tmp_path):
    x = load_image_file(save(dark_block_on_white(), tmp_path / "photo.png"))
    assert x.shape == (1, 28, 28)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    border = torch.cat([x[0, 0], x[0, -1], x[0, :, 0], x[0, :, -1]])
    assert float(border.max()) < 0.02  # the white background became black
    assert float(x[0, 14, 14]) > 0.9  # the dark object became bright
    top, bottom, left, right = bright_box(x)
    # 300 px -> 28 px: the 100x80 object becomes about 9.3 x 7.5 pixels, centred.
    assert 9 <= right - left + 1 <= 11 and 7 <= bottom - top + 1 <= 9
    assert (right - left + 1) / (bottom - top + 1) == pytest.approx(100 / 80, rel=0.25)
    assert abs((top + bottom) / 2 - 13.5) <= 1 and abs((left + right) / 2 - 13.5) <= 1


def test_tall_image_is_padded_left_and_right(tmp_path):
    a = np.full((300, 100), 255, dtype=np.uint8)
    a[50:250, 20:80] = 0  # 60 wide, 200 tall
    x = load_image_file(save(Image.fromarray(a), tmp_path / "tall.png"))
    top, bottom, left, right = bright_box(x)
    assert (bottom - top + 1) / (right - left + 1) == pytest.approx(200 / 60, rel=0.25)
    assert abs((left + right) / 2 - 13.5) <= 1


def test_extreme_aspect_ratio_stays_small(tmp_path):
    a = np.full((3, 20000), 255, dtype=np.uint8)
    a[1, 5000:15000] = 0
    x = load_image_file(save(Image.fromarray(a), tmp_path / "line.png"))
    assert x.shape == (1, 28, 28)
    assert float(x[0, 0].max()) < 0.02 and float(x[0, 14].max()) > 0.0


def test_rgba_transparent_background_counts_as_light(tmp_path):
    a = np.zeros((60, 60, 4), dtype=np.uint8)  # fully transparent black...
    a[20:40, 20:40] = (0, 0, 0, 255)  # ...around an opaque black square
    x = load_image_file(save(Image.fromarray(a, "RGBA"), tmp_path / "t.png"))
    assert float(x[0, 0, 0]) < 0.02 and float(x[0, 14, 14]) > 0.9
    la = Image.fromarray(a[..., [0, 3]], "LA")
    y = load_image_file(save(la, tmp_path / "la.png"))
    torch.testing.assert_close(x, y)


def test_jpeg_works(tmp_path):
    path = save(dark_block_on_white(), tmp_path / "photo.jpg", quality=90)
    png = load_image_file(save(dark_block_on_white(), tmp_path / "photo.png"))
    x = load_image_file(path)
    assert x.shape == (1, 28, 28)
    assert float((x - png).abs().max()) < 0.1


@pytest.mark.parametrize("mode", ["P", "L", "1", "CMYK"])
def test_other_modes(tmp_path, mode):
    fmt = "jpg" if mode == "CMYK" else "png"
    path = save(dark_block_on_white(mode=mode), tmp_path / f"img.{fmt}")
    with Image.open(path) as img:
        assert img.mode == mode
    x = load_image_file(path)
    assert float(x[0, 0, 0]) < 0.05 and float(x[0, 14, 14]) > 0.85


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (40, 40), 0)
    img.putpalette([0, 0, 0, 10, 10, 10] + [0] * 762)
    img.paste(1, (10, 10, 30, 30))
    path = save(img, tmp_path / "p.png", transparency=0)  # index 0 (black) transparent
    x = load_image_file(path)
    assert float(x[0, 0, 0]) < 0.02 and float(x[0, 14, 14]) > 0.9


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    a = np.linspace(0, 65535, 28 * 28).reshape(28, 28).astype(np.uint16)
    path = save(Image.fromarray(a), tmp_path / "deep.png")
    with Image.open(path) as img:
        assert img.mode in ("I;16", "I")
    x = load_image_file(path, invert=False)
    np.testing.assert_allclose(x[0].numpy(), a / 65535.0, atol=1 / 255 + 1e-6)


@pytest.mark.parametrize("dtype, top", [(np.float32, 1.0), (np.float32, 255.0), (np.int32, 65535)])
def test_float_and_int_tiff(tmp_path, dtype, top):
    a = (np.linspace(0, 1, 28 * 28).reshape(28, 28) * top).astype(dtype)
    path = save(Image.fromarray(a), tmp_path / "deep.tif")
    x = load_image_file(path, invert=False)
    np.testing.assert_allclose(x[0].numpy(), a / top, atol=1 / 255 + 1e-6)


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("L", (60, 30), 255)  # landscape, dark block at the far left
    img.paste(0, (0, 5, 15, 25))
    exif = img.getexif()
    exif[ORIENTATION] = 6  # the camera was turned: display rotated 90 degrees clockwise
    path = save(img, tmp_path / "turned.jpg", exif=exif.tobytes(), quality=95)
    with Image.open(path) as stored:
        assert stored.getexif()[ORIENTATION] == 6
        as_stored = np.asarray(stored.convert("L"))
    upright = save(Image.fromarray(np.rot90(as_stored, k=-1).copy()), tmp_path / "upright.png")
    x = load_image_file(path)
    torch.testing.assert_close(x, load_image_file(upright))
    # Rotated clockwise, the block is at the top, across the middle.
    top, bottom, left, right = bright_box(x)
    assert top <= 7 and bottom <= 14 and left >= 7 and right <= 20


def test_invert_forced(tmp_path):
    a = np.full((28, 28), 200, dtype=np.uint8)
    a[10:18, 10:18] = 20
    path = save(Image.fromarray(a), tmp_path / "a.png")
    auto, yes, no = (load_image_file(path, invert=v) for v in ("auto", True, False))
    torch.testing.assert_close(auto, yes)
    np.testing.assert_allclose(no[0].numpy(), a / 255.0, atol=1e-6)
    np.testing.assert_allclose(yes[0].numpy(), (255 - a) / 255.0, atol=1e-6)
    dark = save(Image.fromarray(255 - a), tmp_path / "dark.png")  # already light on dark
    torch.testing.assert_close(load_image_file(dark), yes)


def test_size_and_normalisation(tmp_path):
    path = save(dark_block_on_white(), tmp_path / "photo.png")
    assert load_image_file(path, size=32).shape == (1, 32, 32)
    x = load_image_file(path, size=(20, 40))
    assert x.shape == (1, 20, 40)
    assert float(x[0, :, 0].max()) < 0.02  # wide target: padded left and right
    plain = load_image_file(path)
    normed = load_image_file(path, mean=0.2860, std=0.3530)
    torch.testing.assert_close(normed, (plain - 0.2860) / 0.3530)


def test_load_image_files_stacks(tmp_path):
    a = save(dark_block_on_white(), tmp_path / "a.png")
    b = save(dark_block_on_white(200, 300), tmp_path / "b.jpg")
    batch = load_image_files([a, str(b)], size=16)
    assert batch.shape == (2, 1, 16, 16)
    torch.testing.assert_close(batch[0], load_image_file(a, size=16))
    assert load_image_files([]).shape == (0, 1, 28, 28)
    with pytest.raises(UsageError, match="list of paths"):
        load_image_files(str(a))


@pytest.mark.parametrize("size", [0, -3, (28,), (28, 0), (2.5, 3), "28", True, None])
def test_bad_size(tmp_path, size):
    path = save(dark_block_on_white(), tmp_path / "photo.png")
    with pytest.raises(UsageError, match="size"):
        load_image_file(path, size=size)


@pytest.mark.parametrize("invert", ["yes", 1, None, "AUTO"])
def test_bad_invert(tmp_path, invert):
    path = save(dark_block_on_white(), tmp_path / "photo.png")
    with pytest.raises(UsageError, match="invert"):
        load_image_file(path, invert=invert)


@pytest.mark.parametrize("mean, std", [(0.5, None), (None, 0.5), (0.5, 0.0), (0.5, float("nan"))])
def test_bad_normalisation(tmp_path, mean, std):
    path = save(dark_block_on_white(), tmp_path / "photo.png")
    with pytest.raises(UsageError, match="mean"):
        load_image_file(path, mean=mean, std=std)


# --------------------------------------------------------------------------- files that are refused


def valid_png_bytes() -> bytes:
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format="PNG")
    return buf.getvalue()


def valid_jpeg_bytes() -> bytes:
    noise = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format="JPEG")
    return buf.getvalue()


BAD_FILES = {
    "noise.png": lambda: np.random.default_rng(3).bytes(500),
    "empty.png": lambda: b"",
    "truncated.png": lambda: valid_png_bytes()[: len(valid_png_bytes()) // 2],
    "truncated.jpg": lambda: valid_jpeg_bytes()[: len(valid_jpeg_bytes()) // 2],
    "notes.png": lambda: b"These are my holiday photos, honest.\n" * 20,
    "bad-crc.png": lambda: valid_png_bytes()[:30] + b"\xff" + valid_png_bytes()[31:],
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_raise_image_file_error(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name]())
    with pytest.raises(ImageFileError, match=str(path)) as info:
        load_image_file(path)
    assert "PNG or JPEG" in str(info.value)
    assert isinstance(info.value, DataError)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageFileError, match=f"{tmp_path / 'nope.png'}.*does not exist"):
        load_image_file(tmp_path / "nope.png")
    with pytest.raises(ImageFileError, match=f"{tmp_path}.*is a directory"):
        load_image_file(tmp_path)
    with pytest.raises(UsageError, match="path"):
        load_image_file(3)  # would otherwise read file descriptor 3


def test_format_outside_the_list_is_refused(tmp_path):
    path = save(dark_block_on_white(), tmp_path / "photo.ppm")  # Pillow reads PPM; we do not
    with pytest.raises(ImageFileError, match="not an image that can be read"):
        load_image_file(path)


@pytest.mark.parametrize("width, height", [(60000, 60000), (8000, 8000)])
def test_huge_header_is_refused_before_decoding(tmp_path, width, height):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(width, height))
    start = time.perf_counter()
    # The IDAT holds 16 bytes: had it been decoded, the error would say "truncated".
    with pytest.raises(ImageFileError, match=f"{path}.*too large"):
        load_image_file(path)
    assert time.perf_counter() - start < 1.0


def test_pixel_limit_is_ours(tmp_path, monkeypatch):
    path = save(dark_block_on_white(), tmp_path / "photo.png")
    monkeypatch.setattr(imagefile, "MAX_PIXELS", 300 * 200 - 1)
    with pytest.raises(ImageFileError, match="300x200 = 60,000 pixels"):
        load_image_file(path)


# --------------------------------------------------------------------------- fuzzing


def _seed_files() -> list[bytes]:
    rng = np.random.default_rng(4)
    small = Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8))
    out = []
    for image, fmt in [
        (small, "PNG"), (small, "JPEG"), (small, "BMP"), (small, "GIF"), (small, "TIFF"),
        (small, "WEBP"), (small.convert("RGBA"), "PNG"), (small.convert("P"), "PNG"),
        (Image.fromarray(np.arange(120, dtype=np.uint16).reshape(12, 10) * 500), "PNG"),
    ]:
        buf = io.BytesIO()
        image.save(buf, format=fmt)
        out.append(buf.getvalue()[:2000])
    return out


SEEDS = _seed_files()


@st.composite
def mutated_images(draw) -> bytes:
    """A small valid image file, truncated and/or with some bytes overwritten."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


@settings(
    max_examples=200, deadline=500,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(content=st.one_of(st.binary(max_size=2000), mutated_images()))
def test_arbitrary_bytes_load_or_raise_image_file_error(tmp_path, monkeypatch, content):
    # A mutated header can announce tens of millions of (zero-filled) pixels; a lower
    # limit keeps every example fast without changing which exceptions can occur.
    monkeypatch.setattr(imagefile, "MAX_PIXELS", 1_000_000)
    path = tmp_path / "upload.png"
    path.write_bytes(content)
    try:
        x = load_image_file(path)
    except ImageFileError as exc:
        assert str(path) in str(exc)
    else:
        assert x.shape == (1, 28, 28) and x.dtype == torch.float32
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


# --------------------------------------------------------------------------- realism


@pytest.mark.realdata
@requires_real_data
def test_user_version_of_a_fashion_mnist_image_comes_back(tmp_path):
    images = read_idx(SYSTEM_FASHION_MNIST / "t10k-images-idx3-ubyte.gz")
    for i in (0, 1, 2, 17, 42):
        original = images[i]
        # What a user would have: a dark object on white, big, in colour, as PNG.
        user = Image.fromarray(255 - original).resize((280, 280), Image.BILINEAR).convert("RGB")
        x = load_image_file(save(user, tmp_path / f"item{i}.png"))
        mad = float(np.abs(x[0].numpy() - original / 255.0).mean())
        assert mad < 0.08, (i, mad)
