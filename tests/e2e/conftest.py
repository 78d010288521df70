"""Browser tests: Playwright (Python) driving Debian's Chromium against pytest-django's
live server.

The live server runs in a thread of this process, so ``django.core.mail.outbox`` and the
eager Celery tasks (tests/conftest.py) are visible to the tests. Playwright's sync API
keeps an event loop running in this thread, which makes Django refuse ORM calls unless
DJANGO_ALLOW_ASYNC_UNSAFE is set.

Chromium comes from Debian (``apt-get install chromium``), never from ``playwright
install``. Without it the tests skip locally and fail under CI (``CI`` set).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RESULTS = Path(__file__).resolve().parents[2] / "test-results"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _need_browser() -> None:
    if Path(CHROMIUM).exists():
        return
    message = (
        f"Chromium not found at {CHROMIUM}: install Debian's package "
        "(`apt-get update && apt-get install -y chromium`); `.ci/run` does this."
    )
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item so fixtures can see whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _slug(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:120]


@pytest.fixture
def page(request, browser, live_server):
    """A fresh browser context and page per test; a full-page screenshot if the test failed."""
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    context.set_default_timeout(15_000)
    context.set_default_navigation_timeout(30_000)
    page = context.new_page()
    yield page
    failed = any(
        getattr(request.node, f"rep_{when}", None) is not None and getattr(request.node, f"rep_{when}").failed
        for when in ("setup", "call")
    )
    if failed:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"FAILED-{_slug(request.node.nodeid)}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
            print(f"\nScreenshot of the failed page ({page.url}): {path}")
        except Exception as exc:  # the page may have crashed; the test's own error matters more
            print(f"\nCould not take a screenshot of the failed page: {exc}")
    context.close()


@pytest.fixture
def snap(page, request):
    """``snap("name")``: with E2E_SCREENSHOTS=1, full-page screenshots of the current page,
    desktop and phone, in test-results/ for a human to look at (the test does not judge
    them); otherwise nothing, to keep the suite fast."""

    def take(name: str, phone: bool = True) -> None:
        if not os.environ.get("E2E_SCREENSHOTS"):
            return
        RESULTS.mkdir(exist_ok=True)
        base = f"{_slug(request.node.name)}-{name}"
        page.screenshot(path=str(RESULTS / f"{base}-desktop.png"), full_page=True)
        if phone:
            page.set_viewport_size(PHONE)
            page.screenshot(path=str(RESULTS / f"{base}-phone.png"), full_page=True)
            page.set_viewport_size(DESKTOP)

    return take
