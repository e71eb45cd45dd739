"""Helpers that drive a notebook in a real JupyterLab page (used by the browser tests)."""
from __future__ import annotations

import re
import time

from playwright.sync_api import Page


def open_notebook(page: Page, lab: dict, path: str) -> None:
    """Open ``path`` (relative to the served root) and wait until its kernel is ready."""
    page.goto(f"{lab['url']}/lab/tree/{path}?token={lab['token']}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    wait_kernel_idle(page, timeout=120)


def run_menu(page: Page, menu: str, item: str) -> None:
    """Click a top menu entry and then one of its items (by visible text)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$")).first.click()


def wait_kernel_idle(page: Page, timeout: float = 300) -> None:
    """Wait until the notebook's kernel reports idle and no cell is queued ('[*]')."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = page.evaluate(
            """() => {
                const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
                const busy = [...document.querySelectorAll('.jp-InputArea-prompt')].some(p => p.textContent.includes('*'));
                return {state: ind ? ind.getAttribute('data-status') : null, busy};
            }"""
        )
        if status["state"] == "idle" and not status["busy"]:
            return
        time.sleep(0.5)
    raise TimeoutError(f"kernel not idle after {timeout} s (last status {status})")


def clear_and_run_all(page: Page, timeout: float = 300) -> None:
    """Clear every output, run all cells, wait for the kernel to finish."""
    run_menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea-output').length === 0", timeout=30_000)
    run_menu(page, "Run", "Run All Cells")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-InputArea-prompt')].some(p => p.textContent.includes('*'))",
        timeout=60_000)
    wait_kernel_idle(page, timeout)


def error_outputs(page: Page) -> list[str]:
    """Texts of the error outputs (tracebacks) on the page."""
    return page.evaluate(
        "() => [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]')]"
        ".map(e => e.textContent).filter(t => /Error|Traceback/.test(t))")
