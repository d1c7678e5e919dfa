"""Playwright on Debian's Chromium, against pytest-django's `live_server`.

Playwright's sync API runs an asyncio event loop in the test's thread, and Django refuses
database access from a thread with a running loop unless told it is safe; it is here, since
the test drives the browser and touches the database one step at a time.
"""

import os
from pathlib import Path

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Browser tests need Debian's Chromium at {CHROMIUM}; it is not installed.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, transactional_db):
    """A fresh browser tab in Spanish (the default language) on the live server."""
    context = browser.new_context(
        base_url=live_server.url,
        locale="es-MX",
        viewport={"width": 1366, "height": 900},
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
