"""Shared fixtures: the device fixture, the gpu marker, and the browser-test harness
(JupyterLab on a free loopback port + a Playwright page on Debian's Chromium)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = REPO / "test-artifacts"
IN_CI = os.environ.get("CI", "").lower() == "true"

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_gpu = pytest.mark.skip(reason="needs CUDA (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)


@pytest.fixture(params=[pytest.param(d, marks=[pytest.mark.gpu] if d != "cpu" else []) for d in DEVICES])
def device(request: pytest.FixtureRequest) -> torch.device:
    """Parametrises a test over every available device: CPU always, CUDA when present."""
    return torch.device(request.param)


@pytest.fixture
def gen() -> torch.Generator:
    """A CPU generator with a fixed seed: draws are the same on every machine."""
    return torch.Generator().manual_seed(1234)


# ----------------------------------------------------------------------------- browser harness


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _require_browser() -> None:
    """Skip (or fail, under CI=true) when the browser tests cannot run here."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (Debian package 'chromium')")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("the 'playwright' Python package")
    if missing:
        msg = "browser tests need " + " and ".join(missing)
        if IN_CI:
            pytest.fail(msg + " -- under CI=true they must run, not skip")
        pytest.skip(msg)


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory: pytest.TempPathFactory):
    """Start ``jupyter lab`` on a free loopback port with a random token; yield its base URL
    and token; stop it afterwards.  The announcements plugin is disabled (no network here)."""
    _require_browser()
    import secrets

    cfg = tmp_path_factory.mktemp("jupyter-config")
    (cfg / "labconfig").mkdir()
    (cfg / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    # Serve a copy of the notebooks, so that running them in the browser (and autosave) never
    # touches the tracked files.
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copytree(REPO / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "student"))
    # Lab settings for tests: render every cell (no windowing, so the page holds all outputs)
    # and never autosave.
    settings = tmp_path_factory.mktemp("lab-settings")
    for plugin, values in {"notebook-extension/tracker": {"windowingMode": "none"},
                           "docmanager-extension/plugin": {"autosave": False}}.items():
        target = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    token = secrets.token_hex(16)
    port = _free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(cfg), JUPYTERLAB_SETTINGS_DIR=str(settings), COURSE_DEVICE="cpu", PYTHONWARNINGS="ignore")
    log = open(tmp_path_factory.mktemp("jupyter-log") / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
         "--LabApp.news_url=", "--ServerApp.disable_check_xsrf=False"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            log.close()
            pytest.fail(f"jupyter lab did not start: see {log.name}")
        time.sleep(0.5)
    yield {"url": base, "token": token, "root": root}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (never ``playwright install``)."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    user_dir = tempfile.mkdtemp(prefix="chromium-")
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield b
        b.close()
    shutil.rmtree(user_dir, ignore_errors=True)


@pytest.fixture
def page(browser):
    """A fresh page (1600×1000) for one test; closed afterwards."""
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    ctx.close()


@pytest.fixture
def artifacts() -> Path:
    """Folder for test artefacts (screenshots), kept after the run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
