"""A user's own PNG or JPEG files as Fashion-MNIST-like tensors, for ``shallownet predict``.

Fashion-MNIST images are small greyscale pictures of a *light* object on a
*dark* (0) background, float32 in [0, 1]. A photo or drawing a user wants to
classify is usually the opposite: a dark object on a white (or transparent)
background, in colour, of any size and aspect ratio, possibly rotated by its
EXIF orientation tag. :func:`load_image_file` bridges the two:

1. open with Pillow, refusing anything that is not a readable image (empty,
   truncated, corrupt, a directory, text named ``.png``) and anything over
   :data:`MAX_PIXELS` pixels *before* decoding it;
2. apply the EXIF orientation;
3. convert to 8-bit greyscale: transparency is composited over white (a
   transparent background is a light background), 16-bit images are scaled
   (not clipped) to 0-255, palette, CMYK and other colour modes converted;
4. invert (``255 - x``) when the background is light, judged from the mean of
   the outer ~5% frame of the image, so the object ends up light on dark;
5. pad the shorter side symmetrically with the background (the frame's median)
   so the object is not distorted, then resize to ``size`` with a Lanczos
   filter (box-reduced first when shrinking a lot);
6. scale to [0, 1] and optionally normalise with ``(x - mean) / std``.
"""

from __future__ import annotations

import contextlib
import math
import os
import struct
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from shallownet.data.image_datasets import size_pair
from shallownet.errors import ImageFileError, UsageError

__all__ = [
    "load_image_file",
    "load_image_files",
    "MAX_PIXELS",
    "IMAGE_FORMATS",
]

#: Largest image (width x height) accepted; checked from the header, before decoding.
MAX_PIXELS = 50_000_000

#: Pillow formats tried when opening (those this Pillow build has); anything else is
#: refused without parsing further. JPEG includes MPO (multi-picture JPEG from cameras).
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")

#: Width of the frame whose pixels decide the background, as a fraction of each side.
BORDER_FRACTION = 0.05

_LANCZOS = getattr(Image, "Resampling", Image).LANCZOS
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
# What Pillow's parsers and decoders raise on malformed input. They are caught
# around Pillow calls only, never around shallownet's own computations.
_DECODE_ERRORS = (
    OSError,  # includes UnidentifiedImageError and "image file is truncated"
    ValueError,
    SyntaxError,  # Pillow's historical "broken file" exception
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ArithmeticError,
)
_EXPECTED = "a PNG or JPEG image is expected"


def load_image_file(
    path: str | os.PathLike,
    *,
    size: int | Sequence[int] = (28, 28),
    invert: bool | str = "auto",
    mean: float | None = None,
    std: float | None = None,
) -> torch.Tensor:
    """Read an image file as a greyscale tensor shaped like a Fashion-MNIST image.

    Parameters
    ----------
    path : path-like
        A PNG or JPEG file (BMP, GIF, TIFF and WebP are read too; the first
        frame of an animation is used).
    size : int or (int, int), default (28, 28)
        Output height and width. The image is padded to this aspect ratio with
        its background value, never stretched.
    invert : {"auto", True, False}, default "auto"
        Whether to invert (``255 - x``). ``"auto"`` inverts when the mean of the
        outer ~5% frame (at least one pixel) is above 127.5, i.e. the background
        is light, so the result is a light object on a dark background.
    mean, std : float, optional
        If both are given, the result is ``(x - mean) / std`` (use the values the
        model was trained with).

    Returns
    -------
    Tensor of shape (1, height, width), float32
        In [0, 1] unless normalised.

    Raises
    ------
    ImageFileError
        The file is missing, a directory, unreadable, empty, not an image,
        truncated or corrupt, in a colour mode that cannot be converted, or
        larger than :data:`MAX_PIXELS` pixels.
    UsageError
        ``size``, ``invert``, ``mean`` or ``std`` is invalid.

    Notes
    -----
    EXIF orientation is applied when the EXIF block can be parsed; an
    unparseable EXIF block is ignored rather than refusing a decodable image.
    16-bit greyscale (modes ``I;16*`` and ``I``) is scaled from 0-65535, float
    images (mode ``F``) from [0, 1] when their maximum is at most 1, else
    clipped to 0-255.
    """
    height, width = size_pair(size, name="size")
    if not (invert == "auto" if isinstance(invert, str) else isinstance(invert, bool)):
        raise UsageError(f'invert must be "auto", True or False, not {invert!r}.')
    norm = _normalisation(mean, std)

    grey = _read_grey(path)
    if invert == "auto":
        invert = bool(_border(grey).mean() > 127.5)
    if invert:
        np.subtract(255, grey, out=grey)
    fill = int(np.median(_border(grey)))
    fitted = _fit(Image.fromarray(grey), fill, height, width)

    x = torch.from_numpy(np.asarray(fitted, dtype=np.float32) / np.float32(255.0))
    x = x.reshape(1, height, width)
    if norm is not None:
        x = (x - norm[0]) / norm[1]
    return x


def load_image_files(paths: Iterable[str | os.PathLike], **kwargs) -> torch.Tensor:
    """Read several image files as one batch of shape (N, 1, height, width).

    ``kwargs`` are those of :func:`load_image_file`. An empty ``paths`` gives an
    empty batch (N = 0).
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise UsageError(
            f"load_image_files takes a list of paths, not the single path {paths!r}; "
            "use load_image_file for one image."
        )
    height, width = size_pair(kwargs.get("size", (28, 28)), name="size")
    images = [load_image_file(p, **kwargs) for p in paths]
    if not images:
        return torch.empty((0, 1, height, width), dtype=torch.float32)
    return torch.stack(images)


# --------------------------------------------------------------------------- arguments


def _normalisation(mean, std) -> tuple[float, float] | None:
    if mean is None and std is None:
        return None
    if mean is None or std is None:
        raise UsageError(
            f"normalisation needs both mean and std (got mean={mean!r}, std={std!r}); "
            "give both, or neither for images in [0, 1]."
        )
    try:
        mean, std = float(mean), float(std)
    except (TypeError, ValueError):
        raise UsageError(f"mean and std must be numbers, not {mean!r} and {std!r}.") from None
    if not math.isfinite(mean) or not (math.isfinite(std) and std > 0):
        raise UsageError(
            f"normalisation needs a finite mean and a finite positive std, not {mean}, {std}."
        )
    return mean, std


# --------------------------------------------------------------------------- reading


def _read_grey(path) -> np.ndarray:
    """The file as a writable uint8 array (H, W), oriented, transparency over white."""
    if not isinstance(path, (str, os.PathLike)):
        raise UsageError(f"an image path must be a string or path-like, not {path!r}.")
    path = Path(path)
    try:
        is_dir = path.is_dir()
    except OSError:  # a name too long: the open below says so
        is_dir = False
    if is_dir:
        raise ImageFileError(
            f"{path} is a directory, not an image file; name the image files inside it "
            f"(for example {path / '*.png'}); {_EXPECTED}."
        )
    try:
        fp = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        raise ImageFileError(
            f"image file {path} does not exist; check the path ({_EXPECTED})."
        ) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte or an unencodable name
        reason = getattr(exc, "strerror", None) or exc
        raise ImageFileError(
            f"cannot read image file {path}: {reason}. Check its permissions "
            f"and that it is a regular file ({_EXPECTED})."
        ) from exc
    with fp:
        size = os.fstat(fp.fileno()).st_size
        if size == 0:
            raise ImageFileError(f"image file {path} is empty; {_EXPECTED}.")
        with _pillow_warnings():
            img = _open(_Clamped(fp, size), path)
            with img:
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise _too_large(path, f"{w}x{h} = {w * h:,} pixels")
                if w < 1 or h < 1:
                    raise ImageFileError(f"{path} declares an empty {w}x{h} image; {_EXPECTED}.")
                try:
                    img.load()
                except (*_DECODE_ERRORS, UserWarning) as exc:
                    raise _corrupt(path, exc) from exc
                oriented = _exif_transpose(img)
                try:
                    return _to_grey(oriented)
                except (ValueError, OSError) as exc:
                    raise ImageFileError(
                        f"{path} is a {img.format} image in colour mode {img.mode!r}, which "
                        f"cannot be converted to greyscale ({exc}); save it as an ordinary RGB "
                        "or greyscale PNG or JPEG."
                    ) from exc


@contextlib.contextmanager
def _pillow_warnings():
    """Pillow's warnings while it parses a user's file.

    A truncated TIFF directory (only warned about by Pillow) becomes an error,
    the decompression-bomb warning is left to our lower MAX_PIXELS check, and
    other metadata complaints (a skipped tag, corrupt EXIF) are silenced: the
    pixels either decode or raise.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="PIL")
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("error", message=".*Truncated File Read", category=UserWarning)
        yield


class _Clamped:
    """A binary file whose ``read(n)`` never asks for more than the file has left.

    Pillow reads lengths from the file (a PNG chunk's, for one) and a file's
    ``read(n)`` allocates ``n`` bytes before reading: a corrupt 4-byte length
    would cost gigabytes. Everything else is the file's own.
    """

    def __init__(self, fp, size: int):
        self._fp, self._size = fp, size

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            return self._fp.read()
        return self._fp.read(min(n, max(0, self._size - self._fp.tell())))

    def __getattr__(self, name):
        return getattr(self._fp, name)


def _open(fp, path: Path) -> Image.Image:
    """``Image.open`` (reads the header only), its failures as ImageFileError."""
    try:
        return Image.open(fp, formats=_available_formats())
    except Image.DecompressionBombError as exc:
        raise _too_large(path, str(exc)) from None
    except UnidentifiedImageError:
        raise ImageFileError(
            f"{path} is not an image that can be read ({_EXPECTED}; BMP, GIF, TIFF and "
            "WebP also work). Check that it is really an image, whatever its name, and "
            "convert it to PNG or JPEG if it is in another format."
        ) from None
    except (*_DECODE_ERRORS, UserWarning) as exc:
        raise _corrupt(path, exc) from exc


def _available_formats() -> tuple[str, ...]:
    # Image.open raises KeyError on reaching a format name it does not know (WEBP
    # in a build without libwebp), so only registered names are passed.
    Image.init()
    return tuple(f for f in IMAGE_FORMATS if f in Image.OPEN)


def _too_large(path: Path, what: str) -> ImageFileError:
    return ImageFileError(
        f"image file {path} is too large ({what}); at most {MAX_PIXELS:,} pixels are "
        "accepted, to bound memory. Shrink it first (it is resized to 28x28 pixels anyway)."
    )


def _corrupt(path: Path, exc: BaseException) -> ImageFileError:
    return ImageFileError(
        f"image file {path} is truncated or corrupt and cannot be decoded "
        f"({type(exc).__name__}: {exc}); {_EXPECTED}. Copy, download or export it again."
    )


def _exif_transpose(img: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(img)
    except _DECODE_ERRORS:  # a broken EXIF block: keep the pixels as stored
        return img


def _to_grey(img: Image.Image) -> np.ndarray:
    """An opened, loaded image of any mode -> writable uint8 greyscale array (H, W)."""
    mode = img.mode
    if mode == "I" or mode.startswith("I;16"):
        raw = np.asarray(img)
        grey = np.clip(raw, 0, 65535).astype(np.float32)
        grey = np.rint(grey / np.float32(257.0)).astype(np.uint8)
        key = img.info.get("transparency")
        if isinstance(key, int):  # a tRNS grey value: those pixels are transparent
            grey[raw == key] = 255
        return grey
    if mode == "F":
        raw = np.nan_to_num(np.asarray(img, dtype=np.float32), nan=0.0, posinf=255.0,
                            neginf=0.0)
        if raw.size and raw.max() <= 1.0:
            raw = raw * np.float32(255.0)
        return np.rint(np.clip(raw, 0, 255)).astype(np.uint8)
    if mode == "LAB":
        return np.array(img.getchannel("L"))
    if mode in _ALPHA_MODES or "transparency" in img.info:
        if mode in ("P", "PA", "1"):
            img = img.convert("RGBA")
        grey, alpha = img.convert("LA").split()
        white = Image.new("L", img.size, 255)
        return np.array(Image.composite(grey, white, alpha))
    if mode != "L":
        try:
            img = img.convert("L")
        except ValueError:
            img = img.convert("RGB").convert("L")
    return np.array(img)


# --------------------------------------------------------------------------- geometry


def _border(grey: np.ndarray) -> np.ndarray:
    """The pixels of the outer frame, ~BORDER_FRACTION of each side and at least 1 pixel."""
    h, w = grey.shape
    bh = max(1, round(BORDER_FRACTION * h))
    bw = max(1, round(BORDER_FRACTION * w))
    if 2 * bh >= h or 2 * bw >= w:
        return grey.ravel()
    return np.concatenate([
        grey[:bh].ravel(), grey[-bh:].ravel(),
        grey[bh:-bh, :bw].ravel(), grey[bh:-bh, -bw:].ravel(),
    ])


def _fit(img: Image.Image, fill: int, height: int, width: int) -> Image.Image:
    """Pad ``img`` ("L") to the aspect ratio height:width with ``fill``, resize to it.

    A large image is first box-reduced by an integer factor to at most ~4x the
    output size, so the padded canvas stays small whatever the input's shape.
    """
    w, h = img.size
    scale = min(width / w, height / h)
    factor = int(1 / (4 * scale))
    if factor >= 2:
        img = img.reduce((min(factor, w), min(factor, h)))
        w, h = img.size
    if w * height > h * width:  # wider than the target: pad top and bottom
        cw, ch = w, max(h, round(w * height / width))
    else:  # taller (or equal): pad left and right
        cw, ch = max(w, round(h * width / height)), h
    if (cw, ch) != (w, h):
        canvas = Image.new("L", (cw, ch), fill)
        canvas.paste(img, ((cw - w) // 2, (ch - h) // 2))
        img = canvas
    if img.size == (width, height):
        return img
    return img.resize((width, height), _LANCZOS)
