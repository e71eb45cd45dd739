"""Helpers that drive a notebook in a real JupyterLab page (used by the browser tests).

Selectors are scoped to the visible notebook panel (``NB``), so that other open tabs never
interfere; each notebook opens in a fresh workspace (nothing restored from an earlier test).
"""
from __future__ import annotations

import re
import time
import uuid

from playwright.sync_api import Page

NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"
_PROMPTS = f"[...document.querySelectorAll('{NB} .jp-CodeCell .jp-InputArea-prompt')]"
_OUTPUTS = f"document.querySelectorAll('{NB} .jp-OutputArea-output')"


def open_notebook(page: Page, lab: dict, path: str) -> None:
    """Open ``path`` (relative to the served root) in a fresh workspace and wait for its kernel."""
    workspace = f"test-{uuid.uuid4().hex[:8]}"
    page.goto(f"{lab['url']}/lab/workspaces/{workspace}/tree/{path}?reset&token={lab['token']}")
    page.wait_for_selector(f"{NB} .jp-Cell", timeout=120_000)
    wait_kernel_idle(page, timeout=120)


def run_menu(page: Page, menu: str, item: str) -> None:
    """Click a top menu entry and then one of its items (by visible text)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$")).first.click()


def wait_kernel_idle(page: Page, timeout: float = 300) -> None:
    """Wait until the notebook's kernel reports idle and no cell is queued ('[*]')."""
    deadline = time.time() + timeout
    status = None
    while time.time() < deadline:
        status = page.evaluate(
            f"""() => {{
                const ind = document.querySelector('{NB} .jp-Notebook-ExecutionIndicator');
                const busy = {_PROMPTS}.some(p => p.textContent.includes('*'));
                return {{state: ind ? ind.getAttribute('data-status') : null, busy}};
            }}"""
        )
        if status["state"] == "idle" and not status["busy"]:
            return
        time.sleep(0.5)
    raise TimeoutError(f"kernel not idle after {timeout} s (last status {status})")


def clear_and_run_all(page: Page, timeout: float = 300) -> None:
    """Clear every output and execution count, run all cells, and wait until every code cell
    shows an execution count (and the kernel is idle)."""
    cleared = f"() => {_OUTPUTS}.length === 0 && {_PROMPTS}.every(p => !/\\d/.test(p.textContent))"
    for attempt in range(3):  # the menu command acts on the notebook panel that has focus
        page.locator(f"{NB} .jp-Cell").first.click()
        run_menu(page, "Edit", "Clear Outputs of All Cells")
        try:
            page.wait_for_function(cleared, timeout=10_000)
            break
        except Exception:
            page.keyboard.press("Escape")
            if attempt == 2:
                raise
    run_menu(page, "Run", "Run All Cells")
    page.wait_for_function(f"() => {_PROMPTS}.every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim()))",
                           timeout=timeout * 1000, polling=500)
    wait_kernel_idle(page, timeout)


def notebook_text(page: Page) -> str:
    """The visible notebook's whole text (inputs and outputs)."""
    return page.locator(f"{NB} .jp-Notebook").inner_text()


def error_outputs(page: Page) -> list[str]:
    """Texts of the error outputs (tracebacks) in the visible notebook."""
    return page.evaluate(
        f"() => [...document.querySelectorAll('{NB} .jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]')]"
        ".map(e => e.textContent).filter(t => /Error|Traceback/.test(t))")
