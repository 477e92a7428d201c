"""A cache of decoded datasets: the verified arrays as ``.npy`` files that load in milliseconds.

Reading Fashion-MNIST means decompressing four gzip files and hashing their
bytes (about half a second); the decoded arrays are then the same every time.
After the first verified read, :func:`store` writes them to
``<user cache>/decoded/<name>-<key>/`` and :func:`load` maps them back in:

* the **key** is a hash of the source files' published MD5s and of each
  file's path, size, modification time and inode: a source that is replaced,
  rewritten or moved gets another key, so its new content is read and
  verified again (nothing stale is ever served for a changed file);
* ``manifest.json`` records each array's file size and CRC-32, and
  :func:`load` checks both before it returns anything: a damaged or truncated
  cache file is ignored (and rewritten on the next verified read), never used.

Every file is written atomically (:mod:`shallownet.atomic`); the manifest
comes last, so a cache entry without one is incomplete and unused. Any
failure to write the cache (a read-only or full disk) only costs the speed-up.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zlib
from pathlib import Path

import numpy as np

from shallownet.atomic import write_bytes, write_json
from shallownet.errors import OutputError

__all__ = ["KEYS", "cache_entry", "load", "store", "FORMAT"]

FORMAT = "shallownet-decoded/1"
KEYS = ("train_images", "train_labels", "test_images", "test_labels")
_CHUNK = 1 << 24


def _signature(path: Path) -> list:
    st = os.stat(path)
    return [str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev]


def cache_entry(root: Path, name: str, files: dict[str, Path], md5s: dict[str, str]) -> Path:
    """The cache directory of dataset ``name`` read from ``files`` (their published ``md5s``)."""
    key = json.dumps({k: [md5s[k], *_signature(files[k])] for k in KEYS}, sort_keys=True)
    digest = hashlib.sha256(f"{FORMAT}\0{key}".encode()).hexdigest()[:20]
    return root / "decoded" / f"{name}-{digest}"


def _crc(data) -> int:
    view = memoryview(data).cast("B")
    crc = 0
    for start in range(0, len(view), _CHUNK):
        crc = zlib.crc32(view[start:start + _CHUNK], crc)
    return crc


def load(entry: Path) -> dict[str, np.ndarray] | None:
    """The arrays cached in ``entry``, or None when it is missing, incomplete or damaged.

    The arrays are copy-on-write memory maps: the pages come from the file
    as they are read, and writing to them never changes the file.
    """
    try:
        manifest = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT:
            return None
        arrays = {}
        for key in KEYS:
            path = entry / f"{key}.npy"
            facts = manifest["arrays"][key]
            if path.stat().st_size != facts["bytes"]:
                return None
            array = np.load(path, mmap_mode="c", allow_pickle=False)
            if _crc(array) != facts["crc32"]:
                return None
            arrays[key] = array
        return arrays
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(entry: Path, arrays: dict[str, np.ndarray]) -> bool:
    """Write ``arrays`` to the cache entry (atomically; the manifest last). False if it cannot."""
    facts = {}
    try:
        entry.mkdir(parents=True, exist_ok=True)
        for key in KEYS:
            array = np.ascontiguousarray(arrays[key])
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            data = buffer.getvalue()
            write_bytes(entry / f"{key}.npy", data, what="decoded dataset")
            facts[key] = {"bytes": len(data), "crc32": _crc(array), "shape": list(array.shape),
                          "dtype": str(array.dtype)}
        write_json(entry / "manifest.json", {"format": FORMAT, "arrays": facts},
                   what="decoded dataset")
    except (OSError, OutputError):
        return False
    return True
