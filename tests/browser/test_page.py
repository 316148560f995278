"""The page in a real browser against a real cluster through `bbs web`: two users, a channel,
live posts both ways, a private conversation, unread counts, scroll-back through history,
nothing a user wrote runs as markup, the page reconnecting (typed text kept) after the gateway
restarts, and a post held while the cluster restarts. Also takes the README's screenshot
(BBS_WEB_SCREENSHOT: where to)."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.support import RawClient, start_cluster, wait_for
from tests.web_support import start_web, stop_web

pytestmark = pytest.mark.browser
XSS = '<img src=x onerror="window.__xss = 1">'
PASSWORD = "correct horse battery staple"


def by_id(driver, element_id: str):
    return driver.find_element(By.ID, element_id)


def texts(driver) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#messages .msg .text")]


def shows(driver, text: str, what: str = "", timeout: float = 15.0) -> None:
    wait_for(lambda: text in texts(driver), timeout=timeout, what=what or f"{text!r} shown")


def log_in(driver, url: str, user: str, password: str = "") -> None:
    driver.get(url)
    wait_for(lambda: by_id(driver, "status").get_attribute("data-state") == "online")
    if password:  # a free name: the password claims it
        by_id(driver, "login-password").send_keys(password)
    by_id(driver, "login-user").send_keys(user, Keys.ENTER)  # the keyboard alone
    wait_for(lambda: by_id(driver, "me").text == user, what=f"{user} logged in")


def open_side(driver) -> None:
    """On a phone the lists are behind ☰: open them, and wait until they have slid in."""
    if by_id(driver, "menu").is_displayed() and "open" not in by_id(driver, "side").get_attribute(
        "class"
    ):
        by_id(driver, "menu").click()
        left = "return document.getElementById('side').getBoundingClientRect().left"
        wait_for(lambda: driver.execute_script(left) >= 0, what="the side panel open")


def join(driver, channel: str) -> None:
    open_side(driver)
    by_id(driver, "join-input").send_keys(channel, Keys.ENTER)
    wait_for(lambda: by_id(driver, "title").text == f"#{channel}", what=f"#{channel} open")


def say(driver, text: str) -> None:
    """Type `text` (Shift+Enter between its lines) and send it with Enter."""
    box = by_id(driver, "composer-text")
    newline = Keys.SHIFT + Keys.ENTER + Keys.NULL
    box.send_keys(newline.join(text.split("\n")))
    box.send_keys(Keys.ENTER)


def side_button(driver, selector: str):
    open_side(driver)
    return wait_for(lambda: driver.find_element(By.CSS_SELECTOR, selector), what=selector)


def unread(driver, selector: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f"{selector} .unread").get_attribute("textContent")


def test_two_users_chat_live_page_back_and_survive_a_gateway_restart(tmp_path, chromium):
    cluster = start_cluster(tmp_path, servers=3)
    try:
        url = start_web(cluster)
        port = int(url.rsplit(":", 1)[1].strip("/"))
        raw = RawClient(cluster.topology.broker)
        raw.request("login", user="archivist")
        raw.request("channel", channel="archive")
        for i in range(130):
            raw.request("publish", user="archivist", channel="archive", message=f"archive {i}")
        raw.close()

        bob = chromium(phone=True)
        alice = chromium()
        log_in(bob, url, "bob")
        log_in(alice, url, "alice", password=PASSWORD)
        # Another browser asking for the claimed name is asked for its password.
        intruder = chromium()
        intruder.get(url)
        wait_for(lambda: by_id(intruder, "status").get_attribute("data-state") == "online")
        by_id(intruder, "login-user").send_keys("alice", Keys.ENTER)
        wait_for(lambda: "claimed" in by_id(intruder, "login-error").text, what="password asked")
        assert intruder.switch_to.active_element == by_id(intruder, "login-password")
        by_id(intruder, "login-password").send_keys("wrong password", Keys.ENTER)
        wait_for(lambda: by_id(intruder, "login-error").text, what="a refusal")
        assert not by_id(intruder, "chat").is_displayed()
        intruder.quit()
        join(alice, "plaza")
        join(bob, "plaza")

        say(alice, "hello bob")
        shows(bob, "hello bob", "alice's post live at bob")
        say(bob, "hi alice\nsecond line")
        shows(alice, "hi alice\nsecond line", "bob's post live at alice")

        # Scroll-back: the newest page first, older pages as bob scrolls up, to the first.
        join(bob, "archive")
        shows(bob, "archive 129")
        assert "archive 0" not in texts(bob)

        def scrolled_to_the_beginning() -> bool:
            bob.execute_script("document.getElementById('messages').scrollTop = 0")
            return "archive 0" in texts(bob)

        wait_for(scrolled_to_the_beginning, timeout=30, what="the first archived post")
        assert texts(bob) == [f"archive {i}" for i in range(130)]

        # Unread count while bob looks at another channel; a private conversation.
        say(alice, "are you there?")
        wait_for(lambda: unread(bob, '[data-channel="plaza"]') == "1", what="plaza unread 1")
        online = '#user-list [data-user="bob"] .dot.on'  # presence: bob is online
        wait_for(lambda: alice.find_elements(By.CSS_SELECTOR, online), what="bob's online dot")
        side_button(alice, '#user-list [data-user="bob"]').click()
        wait_for(lambda: by_id(alice, "title").text == "Conversation with bob")
        say(alice, "a secret for bob")
        shows(alice, "a secret for bob", "alice's own private message")
        peer = side_button(bob, '#conv-list [data-peer="alice"]')
        wait_for(lambda: unread(bob, '[data-peer="alice"]') == "1", what="conversation unread")
        peer.click()
        shows(bob, "a secret for bob", "the private message at bob")

        # What users write is text, never markup.
        side_button(bob, '[data-channel="plaza"]').click()
        side_button(alice, '[data-channel="plaza"]').click()
        say(alice, XSS)
        shows(bob, XSS, "the markup shown as text at bob")
        shows(alice, XSS, "the markup shown as text at alice")
        for driver in (alice, bob):
            assert driver.execute_script("return window.__xss") is None
            assert driver.find_elements(By.CSS_SELECTOR, "#messages img") == []

        # The gateway restarts: the page says so, keeps what bob is typing, and comes back.
        by_id(bob, "composer-text").send_keys("typed while the gateway was away")
        stop_web(cluster)
        wait_for(lambda: by_id(bob, "status").get_attribute("data-state") == "reconnecting")
        start_web(cluster, port=port)
        for driver in (alice, bob):
            wait_for(
                lambda d=driver: (
                    d.find_element(By.ID, "status").get_attribute("data-state") == "online"
                ),
                timeout=30,
                what="reconnected",
            )
        box = by_id(bob, "composer-text")
        assert box.get_attribute("value") == "typed while the gateway was away"
        box.send_keys(Keys.ENTER)
        shows(alice, "typed while the gateway was away", "a post after the restart, live")
        say(alice, "welcome back")
        shows(bob, "welcome back", "bob subscribed again after the restart")

        # The cluster restarts: a post written meanwhile waits in the page, marked, and goes
        # out (once: same request_id) when the cluster answers again.
        restarted = ("server-0", "server-1", "server-2", "broker", "proxy")
        for name in restarted:
            cluster.kill(name, signal.SIGTERM)
        say(bob, "written while the cluster was down")
        wait_for(
            lambda: "not sent yet" in by_id(bob, "messages").text,
            timeout=30,
            what="the post marked as not sent",
        )
        assert by_id(bob, "status").get_attribute("data-state") == "cluster-down"
        for name in reversed(restarted):
            cluster.start_one(name)
        shows(alice, "written while the cluster was down", "the held post, live", timeout=90)
        assert texts(alice).count("written while the cluster was down") == 1
        wait_for(lambda: by_id(bob, "status").get_attribute("data-state") == "online")

        shot = tmp_path / "web-screenshot.png"
        alice.save_screenshot(str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if target := os.environ.get("BBS_WEB_SCREENSHOT"):
            shutil.copyfile(shot, Path(target))
        errors = [e for e in alice.get_log("browser") if e["level"] == "SEVERE"]
        assert not [e for e in errors if "/ws" not in e["message"]], errors
    finally:
        cluster.stop()
