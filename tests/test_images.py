"""Image sets: the IDX reader, checksums, the download path (against a loopback HTTP server that the
test starts), the cache and the offline fall-backs.  Nothing here touches the network."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils.data import images
from course_utils.data.__main__ import main as data_cli
from course_utils.data.images import DataFileError


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file (unsigned bytes) written independently of the reader: magic 0x0000 08 ndim, sizes, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def small_images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)


# ----------------------------------------------------------------------------- IDX reader


@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_returns_the_array_written_gzipped_or_not(tmp_path, small_images, compressed):
    raw = idx_bytes(small_images)
    path = tmp_path / ("x.idx.gz" if compressed else "x.idx")
    path.write_bytes(gzip.compress(raw) if compressed else raw)
    out = images.read_idx(path)
    assert out.dtype == torch.uint8 and tuple(out.shape) == (5, 28, 28)
    assert np.array_equal(out.numpy(), small_images)


def test_read_idx_reads_label_files(tmp_path):
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    (tmp_path / "l").write_bytes(idx_bytes(labels))
    assert images.read_idx(tmp_path / "l").tolist() == [3, 1, 4, 1, 5]


def test_read_idx_detects_a_truncated_file(tmp_path, small_images):
    raw = idx_bytes(small_images)
    (tmp_path / "cut.idx").write_bytes(raw[:-100])
    with pytest.raises(DataFileError, match="truncated"):
        images.read_idx(tmp_path / "cut.idx")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(raw)[:-50])            # gzip stream cut short
    with pytest.raises(DataFileError, match="corrupt or truncated"):
        images.read_idx(tmp_path / "cut.gz")


def test_read_idx_rejects_a_file_that_is_not_idx(tmp_path):
    (tmp_path / "x.txt").write_bytes(b"hello world, not an idx file")
    with pytest.raises(DataFileError, match="not an IDX file"):
        images.read_idx(tmp_path / "x.txt")


def test_read_idx_bad_path_raises_naming_path(tmp_path):
    with pytest.raises(TypeError, match="path"):
        images.read_idx(3)
    with pytest.raises(FileNotFoundError, match="path"):
        images.read_idx(tmp_path / "missing.gz")


# ----------------------------------------------------------------------------- checksums


def test_verify_file_accepts_the_right_checksum_and_rejects_a_wrong_one(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc")
    images.verify_file(f, "sha256:" + hashlib.sha256(b"abc").hexdigest())
    images.verify_file(f, "md5:" + hashlib.md5(b"abc").hexdigest())
    with pytest.raises(DataFileError, match="corrupt or incomplete"):
        images.verify_file(f, "md5:" + hashlib.md5(b"abd").hexdigest())
    with pytest.raises(ValueError, match="checksum"):
        images.verify_file(f, "crc32:1234")


# ----------------------------------------------------------------------------- the loopback server


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        name = self.path.lstrip("/")
        if name.startswith("cut/"):                                         # announce all, send half, hang up
            body = self.files[name[4:]]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if name not in self.files:
            self.send_error(404)
            return
        body = self.files[name]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 (a free port), in a daemon thread; stops itself after the test,
    or after 60 s at the latest."""
    _Handler.files = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    watchdog = threading.Timer(60.0, httpd.shutdown)
    watchdog.daemon = True
    watchdog.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", _Handler.files
    watchdog.cancel()
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_writes_a_good_file_atomically(server, tmp_path):
    base, files = server
    files["good.bin"] = payload = bytes(range(256)) * 1000
    dest = tmp_path / "cache" / "good.bin"
    out = images.download(base + "good.bin", dest, "sha256:" + hashlib.sha256(payload).hexdigest(), progress=False)
    assert out == dest and dest.read_bytes() == payload
    assert _leftovers(dest.parent) == ["good.bin"]                          # no temporary file left behind


def test_download_with_a_wrong_checksum_leaves_nothing_and_says_so(server, tmp_path):
    base, files = server
    files["bad.bin"] = b"x" * 5000
    dest = tmp_path / "cache" / "bad.bin"
    with pytest.raises(DataFileError, match="failed its checksum"):
        images.download(base + "bad.bin", dest, "md5:" + hashlib.md5(b"y" * 5000).hexdigest(), progress=False)
    assert _leftovers(dest.parent) == []


def test_download_cut_midway_leaves_nothing_and_says_so(server, tmp_path):
    base, files = server
    files["big.bin"] = payload = b"z" * 200_000
    dest = tmp_path / "cache" / "big.bin"
    with pytest.raises(DataFileError, match="cut"):
        images.download(base + "cut/big.bin", dest, "sha256:" + hashlib.sha256(payload).hexdigest(), progress=False,
                        timeout=10)
    assert _leftovers(dest.parent) == []


def test_download_of_a_missing_file_raises_a_clear_error(server, tmp_path):
    base, _ = server
    with pytest.raises(DataFileError, match="404"):
        images.download(base + "nothing.bin", tmp_path / "n.bin", "md5:" + "0" * 32, progress=False)
    assert not (tmp_path / "n.bin").exists()


@pytest.fixture
def tiny_mnist(monkeypatch, server):
    """A four-file MNIST-format set of 6 + 4 images served on loopback, registered as 'mnist'."""
    base, files = server
    rng = np.random.default_rng(1)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28)), "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 6),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (4, 28, 28)), "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 4)}
    sums = {}
    for name, arr in arrays.items():
        files[name] = gzip.compress(idx_bytes(arr))
        sums[name] = "sha256:" + hashlib.sha256(files[name]).hexdigest()
    spec = images.ImageSetSpec("mnist", sums, (base,), tuple("0123456789"))
    monkeypatch.setitem(images.DATASETS, "mnist", spec)
    return base, arrays


def test_fetch_then_load_images_uses_the_verified_cache(tiny_mnist, tmp_path):
    base, arrays = tiny_mnist
    folder = images.fetch("mnist", root=tmp_path, progress=False)
    assert sorted(p.name for p in folder.iterdir()) == sorted(arrays)
    s = images.load_images(root=tmp_path)
    assert s.name == "mnist" and "from the cache" in s.reason
    assert torch.allclose(s.x_train, torch.as_tensor(arrays["train-images-idx3-ubyte.gz"], dtype=torch.float32) / 255)
    assert s.y_test.tolist() == arrays["t10k-labels-idx1-ubyte.gz"].tolist()


def test_a_corrupt_cached_file_is_reported_and_never_used(tiny_mnist, tmp_path):
    folder = images.fetch("mnist", root=tmp_path, progress=False)
    target = folder / "t10k-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-10])                           # a partial file in the cache
    s = images.load_images(("mnist", "digits"), root=tmp_path)
    assert s.name == "digits"
    assert "mnist in the cache" in s.reason and "corrupt or incomplete" in s.reason
    images.fetch("mnist", root=tmp_path, progress=False)                    # fetch replaces the bad file
    assert images.load_images(("mnist",), root=tmp_path).name == "mnist"


def test_fetch_command_line_succeeds_and_fails_cleanly(tiny_mnist, tmp_path, capsys):
    base, _ = tiny_mnist
    assert data_cli(["fetch", "mnist", "--root", str(tmp_path), "--quiet"]) == 0
    assert "verified" in capsys.readouterr().out
    assert data_cli(["fetch", "mnist", "--root", str(tmp_path / "other"), "--mirror", base + "cut/", "--quiet"]) == 1
    assert "could not fetch" in capsys.readouterr().err
    assert _leftovers(tmp_path / "other" / "mnist") == []


def test_load_images_falls_back_to_digits_when_nothing_else_is_there(tmp_path):
    s = images.load_images(root=tmp_path, debian_dir=tmp_path / "no-debian")
    assert s.name == "digits" and s.image_shape == (8, 8)
    assert "mnist is not in the cache" in s.reason and "fashion-mnist is not in" in s.reason
    assert float(s.x_train.min()) >= 0 and float(s.x_train.max()) <= 1
    assert len(s.x_train) + len(s.x_test) == 1797 and s.y_train.dtype == torch.int64


@pytest.mark.skipif(not images.DEBIAN_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist_is_found_and_verified(tmp_path):
    s = images.load_images(("mnist", "fashion-mnist"), root=tmp_path)
    assert s.name == "fashion-mnist" and "Debian" in s.reason
    assert tuple(s.x_train.shape) == (60000, 28, 28) and tuple(s.x_test.shape) == (10000, 28, 28)
    assert sorted(s.y_test.unique().tolist()) == list(range(10))


def test_data_dir_follows_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert images.data_dir() == tmp_path
    monkeypatch.delenv("COURSE_DATA_DIR")
    assert images.data_dir() == Path.home() / ".cache" / "course_utils"


@pytest.mark.parametrize("call,match", [
    (lambda: images.fetch("cifar"), "name"),
    (lambda: images.fetch("mnist", mirrors=[]), "mirrors"),
    (lambda: images.load_images(("imagenet",)), "prefer"),
    (lambda: images.load_idx_set("mnist", "/nonexistent", verify="maybe"), "verify"),
    (lambda: images.download("", "/tmp/x", "md5:0"), "url"),
    (lambda: images.download("http://127.0.0.1:9/x", "/tmp/x", "sha1:0"), "checksum"),
    (lambda: images.file_checksum(__file__, "sha1"), "algorithm"),
])
def test_bad_input_raises_an_error_naming_the_argument(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()
