"""The browser's frames (transport/browser.py): what is forwarded, what is refused."""

from __future__ import annotations

import json

import pytest

from transport import browser
from transport.protocol import Delivery


def test_a_cluster_request_keeps_only_the_fields_of_its_service():
    frame = browser.parse_frame(
        json.dumps(
            {
                "service": "publish",
                "data": {"channel": "c", "message": "m", "user": "someone", "token": "t"},
                "id": 7,
            }
        )
    )
    assert frame == browser.ClusterCall("publish", {"channel": "c", "message": "m"}, 7)


def test_a_request_without_data_is_an_empty_request():
    assert browser.parse_frame('{"service": "users"}') == browser.ClusterCall("users", {})


def test_subscribe_takes_a_channel_in_normal_form():
    frame = browser.parse_frame('{"service": "subscribe", "data": {"channel": "\\uff4cobby"}}')
    assert frame == browser.TopicChange("lobby", True)
    off = browser.parse_frame('{"service": "unsubscribe", "data": {"channel": "lobby"}}')
    assert off == browser.TopicChange("lobby", False)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("nope", "not JSON"),
        ("[]", "JSON object"),
        ('{"service": "status"}', "unknown service 'status'"),
        ('{"service": 3}', "unknown service"),
        ('{"service": "users", "data": []}', "data must be an object"),
        ('{"service": "subscribe", "data": {}}', "needs data.channel"),
        ('{"service": "subscribe", "data": {"channel": "servers"}}', "servers"),
        ('{"service": "users", "id": true}', "id must be"),
        ('{"service": "users", "id": 1e300}', "id must be"),
        ('{"service": "users", "id": 9007199254740993}', "out of range"),
    ],
)
def test_what_is_refused_says_why(text, reason):
    refused = browser.parse_frame(text)
    assert isinstance(refused, browser.Refused)
    assert reason in refused.reason
    assert reason in json.loads(refused.frame)["error"]


def test_a_refusal_echoes_a_usable_id_and_service():
    refused = browser.parse_frame('{"service": "subscribe", "data": {"channel": ""}, "id": "a"}')
    assert json.loads(refused.frame) == {"error": refused.reason, "service": "subscribe", "id": "a"}


def test_a_frame_over_the_limit_is_refused_before_parsing():
    big = json.dumps({"service": "users", "data": {"x": "a" * browser.MAX_FRAME}})
    assert "larger than" in browser.parse_frame(big).reason


def test_frames_sent_to_the_browser():
    assert json.loads(browser.reply_frame("users", {"users": []}, "r1")) == {
        "service": "users",
        "data": {"users": []},
        "id": "r1",
    }
    delivery = Delivery("ana", "private", "bob", "", "ana", "<b>hi</b>", 1.5, 9, "c2VhbGVk")
    assert json.loads(browser.delivery_frame(delivery)) == {
        "topic": "ana",
        "message": {
            "kind": "private",
            "user": "bob",
            "channel": "",
            "dst": "ana",
            "message": "<b>hi</b>",
            "timestamp": 1.5,
            "clock": 9,
            "sealed": True,
        },
    }


@pytest.mark.parametrize(("size", "header"), [(5, b"\x81\x05"), (200, b"\x81\x7e\x00\xc8")])
def test_a_text_frame_is_encoded_once_as_a_server_sends_it(size, header):
    wire = browser.text_frame("é" * (size // 2) + "a" * (size % 2))
    assert wire == header + ("é" * (size // 2) + "a" * (size % 2)).encode()


def test_a_long_text_frame_has_a_64_bit_length():
    wire = browser.text_frame("a" * 70_000)
    assert wire[:10] == b"\x81\x7f" + (70_000).to_bytes(8, "big")
    assert len(wire) == 70_010
