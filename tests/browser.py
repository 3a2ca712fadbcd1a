"""A real browser for tests: Debian's Chromium, headless, driven by Selenium through Debian's
chromedriver, and cut off from every name outside this machine.

Selenium is given chromedriver's path, so its Selenium Manager (which would download a
driver) has no reason to run; `no_selenium_manager` makes any call to it fail the test, and
says how many were tried. Every host name but localhost resolves to nothing in the browser
(`--host-resolver-rules`), and no proxy is used: a page that tries to load anything from
outside fails to, and says so on the console that the tests read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package chromium
CHROMEDRIVER = Path("/usr/bin/chromedriver")  # Debian's package chromium-driver: the same version
PAGE_LOAD_TIMEOUT_S = 120  # a loaded machine: 4 labs emulated on 2 cores


@contextlib.contextmanager
def no_selenium_manager() -> Iterator[list]:
    """Any call to Selenium Manager raises; the list holds each call's arguments."""
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    calls: list = []
    original = SeleniumManager.binary_paths

    def refuse(self, args):
        calls.append(args)
        raise AssertionError(f"Selenium Manager was asked for a driver ({args}): give Selenium the driver's path")

    SeleniumManager.binary_paths = refuse
    try:
        yield calls
    finally:
        SeleniumManager.binary_paths = original


@contextlib.contextmanager
def headless_chromium(profile: Path) -> Iterator:
    """A WebDriver of a fresh headless Chromium whose profile lives in `profile`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    assert not missing, f"{', '.join(missing)} missing: scripts/bootstrap installs chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests run as root, where Chromium's sandbox refuses to start
        "--disable-dev-shm-usage",  # /dev/shm may be small in a container; /tmp is used instead
        # Every name resolves to nothing but localhost (chromedriver's own port): nothing leaves the machine.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
        "--no-proxy-server",  # and no proxy from the environment to resolve names for it
        "--disable-background-networking",  # no update checks, no component or safe-browsing downloads
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, for driver.get_log
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(profile / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_S)
        yield driver
    finally:
        driver.quit()


def console_errors(driver) -> list[str]:
    """The console's errors since the last call (the log is drained by reading it)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
