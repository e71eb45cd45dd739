"""Helpers that drive ipywidgets in a real JupyterLab page (used by the browser tests).

Widgets are found by the CSS classes the apps give them (``widget.add_class(...)``)."""
from __future__ import annotations

import time

from playwright.sync_api import Page


def read_number(page: Page, css_class: str) -> float:
    """The value of a (Float/Int)Text widget with this class, as shown in its input box."""
    return float(page.locator(f".{css_class} input").first.input_value())


def read_slider(page: Page, css_class: str) -> float:
    """The value of a slider with this class, as shown in its readout (rounded to its format)."""
    text = page.locator(f".{css_class} .widget-readout").first.inner_text()
    return float(text.replace("\u2212", "-"))      # d3-format writes a typographic minus sign


def set_slider(page: Page, css_class: str, value: float) -> None:
    """Type a value into a slider's editable readout and press Enter (as a user would)."""
    readout = page.locator(f".{css_class} .widget-readout").first
    readout.scroll_into_view_if_needed()
    readout.click()
    readout.fill(str(value))
    readout.press("Enter")


def wait_number_change(page: Page, css_class: str, old: float, timeout: float = 60) -> float:
    """Wait until the Text widget with this class shows a value different from ``old``; return it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        new = read_number(page, css_class)
        if new != old:
            return new
        time.sleep(0.2)
    raise TimeoutError(f".{css_class} still shows {old} after {timeout} s")


def scroll_to_cell(page: Page, source_text: str) -> None:
    """Scroll the first code cell whose text contains ``source_text`` into view."""
    found = page.evaluate(
        """(needle) => { const c = [...document.querySelectorAll('.jp-CodeCell')].find(c => c.innerText.includes(needle));
                         if (c) { c.scrollIntoView({block: 'start'}); } return !!c; }""", source_text)
    if not found:
        raise LookupError(f"no code cell contains {source_text!r}")
