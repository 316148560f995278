"""Headless Chromium (Debian's package) driven by Selenium: tests/browser/setup.sh installs
both. The tier is deselected by default: `python3 -m pytest -m browser tests/browser`."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def chromium() -> Iterator[Callable[..., object]]:
    """A factory of browsers (window size in CSS pixels); each is closed after the test."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are missing: run tests/browser/setup.sh")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers = []

    def open_browser(width: int = 1100, height: int = 720, phone: bool = False) -> object:
        options = webdriver.ChromeOptions()
        if phone:  # a phone's viewport: the page's small-screen layout
            metrics = {"width": 390, "height": 844, "pixelRatio": 2}
            options.add_experimental_option("mobileEmulation", {"deviceMetrics": metrics})
        options.binary_location = CHROMIUM
        for arg in (
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--disable-dev-shm-usage",
            "--disable-gpu",
            f"--window-size={width},{height}",
        ):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        drivers.append(driver)
        return driver

    yield open_browser
    for driver in drivers:
        driver.quit()
