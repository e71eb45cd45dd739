"""MNIST-format image sets: an IDX reader, a local cache, a checksummed download and the offline
fall-backs (Debian's Fashion-MNIST, scikit-learn's ``digits``).

Nothing here downloads unless :func:`fetch` (or ``python -m course_utils.data fetch NAME``) is
called explicitly; :func:`load_images`, which the notebooks call, only reads local files.

Where the files live:
    the cache      ``$COURSE_DATA_DIR`` or ``~/.cache/course_utils`` (see :func:`data_dir`),
                   one folder per set (``mnist/``, ``fashion-mnist/``) holding the four ``.gz`` files
    Debian         ``/usr/share/datasets/fashion-mnist/`` (package ``dataset-fashion-mnist``)
    scikit-learn   ``sklearn.datasets.load_digits()`` (8×8 digits, shipped with the package)

Every file is checked before it is used: the cache and downloads against the upstream MD5 of the
``.gz`` file, Debian's files against the SHA-256 of their decompressed content, and every IDX file
against its own header (a truncated file is detected).  A bad file raises :class:`DataFileError`
(or, in :func:`load_images`, is reported in ``reason`` and skipped); it is never used.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

ENV_VAR = "COURSE_DATA_DIR"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

#: The IDX type codes of the MNIST format (only unsigned bytes occur in MNIST and Fashion-MNIST).
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

_SPLIT_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


class DataFileError(RuntimeError):
    """A data file is missing, corrupt, truncated or could not be downloaded."""


@dataclass(frozen=True)
class ImageSetSpec:
    """Where an MNIST-format set comes from and how its files are checked.

    ``files`` maps a file name to its checksum, written ``"md5:<hex>"`` or ``"sha256:<hex>"``
    (of the ``.gz`` file as published).  ``content_sha256`` maps a file name to the SHA-256 of
    its *decompressed* content, which identifies the data whatever the gzip packaging (Debian
    recompresses the files).  ``mirrors`` are base URLs tried in order.
    """
    name: str
    files: dict[str, str]
    mirrors: tuple[str, ...]
    classes: tuple[str, ...]
    content_sha256: dict[str, str] = field(default_factory=dict)


#: Configuration: the upstream files, their checksums and mirrors (torchvision's list).
DATASETS: dict[str, ImageSetSpec] = {
    "mnist": ImageSetSpec(
        name="mnist",
        files={"train-images-idx3-ubyte.gz": "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
               "train-labels-idx1-ubyte.gz": "md5:d53e105ee54ea40749a09fcbcd1e9432",
               "t10k-images-idx3-ubyte.gz": "md5:9fb629c4189551a2d022fa330f9573f3",
               "t10k-labels-idx1-ubyte.gz": "md5:ec29112dd5afa0611ce80d1b7f02629c"},
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        classes=tuple(str(d) for d in range(10)),
    ),
    "fashion-mnist": ImageSetSpec(
        name="fashion-mnist",
        files={"train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
               "train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
               "t10k-images-idx3-ubyte.gz": "md5:bef4ecab320f06d8554ea6380940ec79",
               "t10k-labels-idx1-ubyte.gz": "md5:bb300cfdad3c16e7a12a480ee83cd310"},
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                 "Ankle boot"),
        content_sha256={
            "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
    ),
}


# ----------------------------------------------------------------------------- IDX files


def parse_idx(raw: bytes, *, name: str = "data") -> np.ndarray:
    """Parse the bytes of an (uncompressed) IDX file into a NumPy array.

    The IDX header is two zero bytes, a type code, the number of dimensions d, then d big-endian
    uint32 sizes; the data follow.  Raises :class:`DataFileError` (naming ``name``) on a bad
    header or when the data are shorter or longer than the header says (a truncated file).
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataFileError(f"{name} is not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise DataFileError(f"{name} has a truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != expected:
        raise DataFileError(f"{name} is truncated or corrupt: the header announces shape {shape} "
                            f"({expected} bytes of data) but the file holds {len(body)} bytes")
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=True)


def _read_bytes(path: Path) -> bytes:
    """The content of ``path``, decompressed when it is gzipped (detected by its magic bytes)."""
    with open(path, "rb") as f:
        head = f.read(2)
    try:
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError; EOFError = cut short
        raise DataFileError(f"{path} is corrupt or truncated ({err.__class__.__name__}: {err})") from err


def read_idx(path: str | Path) -> torch.Tensor:
    """Read an MNIST-format IDX file, gzipped or not, into a tensor.

    Args:
        path: the file (``.gz`` or raw; gzip is recognised by content, not by name).
    Returns:
        images ``[N, rows, cols]`` or labels ``[N]``, with the file's dtype (``torch.uint8`` for MNIST).
    Raises:
        TypeError: if ``path`` is not a str or Path.
        FileNotFoundError: if the file does not exist.
        DataFileError: if the file is not IDX, is truncated, or fails gzip's CRC check.
    """
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or pathlib.Path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path {path} does not exist")
    return torch.from_numpy(parse_idx(_read_bytes(path), name=str(path)))


# ----------------------------------------------------------------------------- checksums and the cache


def data_dir() -> Path:
    """The cache folder: ``$COURSE_DATA_DIR`` if set, else ``~/.cache/course_utils``."""
    env = os.environ.get(ENV_VAR, "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "course_utils"


def _parse_checksum(checksum: str) -> tuple[str, str]:
    if not isinstance(checksum, str) or ":" not in checksum:
        raise ValueError(f"checksum must be 'md5:<hex>' or 'sha256:<hex>', got {checksum!r}")
    algo, digest = checksum.split(":", 1)
    if algo not in ("md5", "sha256"):
        raise ValueError(f"checksum must use md5 or sha256, got {algo!r}")
    return algo, digest.lower()


def file_checksum(path: str | Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file (``algorithm``: ``"md5"`` or ``"sha256"``), read in 1 MiB chunks."""
    if algorithm not in ("md5", "sha256"):
        raise ValueError(f"algorithm must be 'md5' or 'sha256', got {algorithm!r}")
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: str | Path, checksum: str) -> None:
    """Raise :class:`DataFileError` unless ``path`` exists and matches ``checksum`` (``"md5:…"``/``"sha256:…"``)."""
    algo, digest = _parse_checksum(checksum)
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path} is missing")
    got = file_checksum(path, algo)
    if got != digest:
        raise DataFileError(f"{path} is corrupt or incomplete: {algo} {got} differs from the expected {digest}")


def download(url: str, dest: str | Path, checksum: str, *, progress: bool = True, timeout: float = 30.0,
             chunk_size: int = 1 << 16) -> Path:
    """Download ``url`` to ``dest``, checking its size and checksum, with a progress bar.

    The bytes go to a temporary file next to ``dest``, which is renamed onto ``dest`` (an atomic
    replace) only after the whole file has arrived and its checksum matches.  On any failure the
    temporary file is removed, so nothing partial or corrupt is ever left at ``dest``.

    Args:
        url: an ``http(s)://`` or ``file://`` URL.
        dest: the final path of the file (its folder is created).
        checksum: ``"md5:<hex>"`` or ``"sha256:<hex>"``.
        progress: show a ``tqdm`` progress bar.
        timeout: seconds to wait for the server on each read.
    Returns:
        ``dest`` as a Path.
    Raises:
        ValueError: for a malformed ``checksum`` or a ``url`` that is not a string.
        DataFileError: when the connection fails or is cut, the size differs from the announced
            Content-Length, or the checksum does not match.
    """
    if not isinstance(url, str) or not url:
        raise ValueError(f"url must be a non-empty string, got {url!r}")
    algo, digest = _parse_checksum(checksum)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    h = hashlib.new(algo)
    try:
        from tqdm.auto import tqdm

        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length is not None else None
            received = 0
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress, leave=False) as bar:
                while True:
                    chunk = resp.read(chunk_size)
                    if not chunk:
                        break
                    out.write(chunk)
                    h.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if total is not None and received != total:
            raise DataFileError(f"download of {url} was cut short: {received} of {total} bytes received")
        if h.hexdigest() != digest:
            raise DataFileError(f"download of {url} failed its checksum: {algo} {h.hexdigest()} differs from "
                                f"the expected {digest}; the file was discarded")
        os.replace(tmp, dest)
        return dest
    except DataFileError:
        raise
    except (urllib.error.URLError, OSError, EOFError, ValueError) as err:
        # http.client.IncompleteRead (connection cut) is an HTTPException, caught below
        raise DataFileError(f"download of {url} failed ({err.__class__.__name__}: {err}); nothing was written "
                            f"to {dest}") from err
    except Exception as err:  # noqa: BLE001 -- http.client.HTTPException (IncompleteRead, RemoteDisconnected …)
        import http.client

        if isinstance(err, http.client.HTTPException):
            raise DataFileError(f"download of {url} failed ({err.__class__.__name__}: {err!r}); the connection "
                                f"was cut and nothing was written to {dest}") from err
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def fetch(name: str, *, root: str | Path | None = None, mirrors: Sequence[str] | None = None,
          progress: bool = True, timeout: float = 30.0) -> Path:
    """Download an image set into the cache (the files already there and valid are kept).

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"`` (a key of :data:`DATASETS`).
        root: the cache folder (default :func:`data_dir`); the files go to ``root/name/``.
        mirrors: base URLs to try in order (default: the set's own).
    Returns:
        the folder holding the four verified files.
    Raises:
        ValueError: for an unknown ``name`` or an empty ``mirrors``.
        DataFileError: when a file could not be obtained intact from any mirror.
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {sorted(DATASETS)}, got {name!r}")
    spec = DATASETS[name]
    mirrors = tuple(spec.mirrors if mirrors is None else mirrors)
    if not mirrors:
        raise ValueError("mirrors must hold at least one base URL")
    folder = Path(root if root is not None else data_dir()) / name
    for fname, checksum in spec.files.items():
        target = folder / fname
        if target.is_file():
            try:
                verify_file(target, checksum)
                continue
            except DataFileError:
                target.unlink()  # a corrupt cached file is never used: fetch it again
        errors = []
        for base in mirrors:
            try:
                download(base.rstrip("/") + "/" + fname, target, checksum, progress=progress, timeout=timeout)
                break
            except DataFileError as err:
                errors.append(str(err))
        else:
            raise DataFileError(f"could not fetch {fname} of {name} from any mirror:\n  " + "\n  ".join(errors))
    return folder


# ----------------------------------------------------------------------------- loading sets


@dataclass
class ImageSet:
    """An image set ready for the notebooks: pixel intensities in [0, 1] and integer labels.

    ``x_train`` [N, H, W] float32, ``y_train`` [N] int64, the same for the test split; ``name``
    (``"mnist"``, ``"fashion-mnist"`` or ``"digits"``), ``source`` (the folder or package it was
    read from) and ``reason`` (why this set was chosen, in one sentence).
    """
    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    source: str
    reason: str = ""

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def n_pixels(self) -> int:
        return int(self.x_train.shape[1] * self.x_train.shape[2])


def _load_split(folder: Path, split: str, check: Callable[[Path, str], None]) -> tuple[torch.Tensor, torch.Tensor]:
    img_name, lab_name = _SPLIT_FILES[split]
    for fname in (img_name, lab_name):
        check(folder / fname, fname)
    images, labels = read_idx(folder / img_name), read_idx(folder / lab_name)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise DataFileError(f"{folder}: {img_name} {tuple(images.shape)} and {lab_name} {tuple(labels.shape)} do not match")
    return images.to(torch.float32) / 255.0, labels.to(torch.int64)


def load_idx_set(name: str, folder: str | Path, *, verify: str = "gz") -> ImageSet:
    """Read an MNIST-format set (train and test) from ``folder`` after checking every file.

    Args:
        name: a key of :data:`DATASETS`.
        folder: the folder holding the four ``.gz`` files.
        verify: ``"gz"`` checks the upstream checksum of each ``.gz`` file (cache, downloads);
            ``"content"`` checks the SHA-256 of the decompressed content (Debian's recompressed
            files); ``"none"`` only checks the IDX headers.
    Raises:
        ValueError: for an unknown ``name`` or ``verify``.
        DataFileError: for a missing, corrupt or truncated file.
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {sorted(DATASETS)}, got {name!r}")
    if verify not in ("gz", "content", "none"):
        raise ValueError(f"verify must be 'gz', 'content' or 'none', got {verify!r}")
    spec, folder = DATASETS[name], Path(folder)

    def check(path: Path, fname: str) -> None:
        if not path.is_file():
            raise DataFileError(f"{path} is missing")
        if verify == "gz":
            verify_file(path, spec.files[fname])
        elif verify == "content" and fname in spec.content_sha256:
            got = hashlib.sha256(_read_bytes(path)).hexdigest()
            if got != spec.content_sha256[fname]:
                raise DataFileError(f"{path} is corrupt: the SHA-256 of its content {got} differs from the expected "
                                    f"{spec.content_sha256[fname]}")

    x_tr, y_tr = _load_split(folder, "train", check)
    x_te, y_te = _load_split(folder, "test", check)
    return ImageSet(name, x_tr, y_tr, x_te, y_te, spec.classes, str(folder))


def load_digits_set(n_test: int = 297) -> ImageSet:
    """scikit-learn's bundled 8×8 ``digits`` (1797 images, intensities 0–16 scaled to [0, 1]).

    The last ``n_test`` images form the test split.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.as_tensor(d.images, dtype=torch.float32) / 16.0
    y = torch.as_tensor(d.target, dtype=torch.int64)
    if not 0 < n_test < len(y):
        raise ValueError(f"n_test must be in (0, {len(y)}), got {n_test}")
    return ImageSet("digits", x[:-n_test], y[:-n_test], x[-n_test:], y[-n_test:], tuple(str(i) for i in range(10)),
                    "sklearn.datasets.load_digits")


def load_images(prefer: Sequence[str] = ("mnist", "fashion-mnist", "digits"), *, root: str | Path | None = None,
                debian_dir: str | Path = DEBIAN_FASHION_MNIST) -> ImageSet:
    """The first image set of ``prefer`` that is available locally and intact; never downloads.

    Order of the sources tried for each name: the cache (``root/name``, checked against the
    upstream checksums), then, for Fashion-MNIST, Debian's folder (checked against the content
    checksums); ``"digits"`` (scikit-learn) is always available.  The returned set's ``reason``
    says which set was chosen and why the ones before it were not (missing, or corrupt: a bad file
    is reported there and not used).

    Raises:
        ValueError: for an unknown name in ``prefer``.
        DataFileError: when none of the preferred sets is available.
    """
    allowed = set(DATASETS) | {"digits"}
    for n in prefer:
        if n not in allowed:
            raise ValueError(f"prefer must hold names from {sorted(allowed)}, got {n!r}")
    cache = Path(root if root is not None else data_dir())
    notes: list[str] = []
    for name in prefer:
        if name == "digits":
            s = load_digits_set()
            s.reason = "; ".join(notes + ["using scikit-learn's bundled 8×8 digits (always available offline)"])
            return s
        sources = [(cache / name, "gz", "the cache")]
        if name == "fashion-mnist":
            sources.append((Path(debian_dir), "content", "Debian's dataset-fashion-mnist package"))
        for folder, verify, label in sources:
            if not all((folder / f).is_file() for f in DATASETS[name].files):
                notes.append(f"{name} is not in {label} ({folder})")
                continue
            try:
                s = load_idx_set(name, folder, verify=verify)
            except DataFileError as err:
                notes.append(f"{name} in {label} is not usable: {err}")
                continue
            s.reason = "; ".join(notes + [f"using {name} from {label} ({folder}), checksums verified"])
            return s
    raise DataFileError("no image set is available: " + "; ".join(notes))
