"""The gateway's topic book: exact topics, channel posts apart from private messages."""

from __future__ import annotations

from roles.web_topics import TopicBook


def test_the_socket_subscribes_once_per_topic_and_leaves_with_the_last_reader():
    book = TopicBook()
    assert book.add("s1", "lobby") is True
    assert book.add("s2", "lobby") is False
    assert book.remove("s1", "lobby") is False
    assert book.remove("s1", "lobby") is False  # not a reader any more: nothing changes
    assert book.remove("s2", "lobby") is True
    assert book.topics() == set()


def test_private_messages_reach_only_the_user_even_with_a_channel_of_that_name():
    book = TopicBook()
    book.add("ana's socket", "ana", private=True)
    assert book.add("eve's socket", "ana") is False  # a channel called `ana`: same topic
    assert set(book.readers("ana", private=True)) == {"ana's socket"}
    assert set(book.readers("ana", private=False)) == {"eve's socket"}
    assert set(book.readers("an", private=True)) == set()


def test_dropping_a_session_returns_the_topics_nobody_wants_any_more():
    book = TopicBook()
    book.add("s1", "ana", private=True)
    book.add("s1", "lobby")
    book.add("s2", "lobby")
    book.add("s1", "ana")
    assert sorted(book.drop("s1")) == ["ana"]
    assert book.topics() == {"lobby"}
    assert book.drop("s1") == []
