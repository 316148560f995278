"""Account events in the event store: stored and replicated like the others, read back to
seed the chat rules on a restart, never part of a history."""

from __future__ import annotations

from actors.accounts import new_account
from actors.event_store import EventStore
from transport import protocol
from transport.protocol import Event, Operation


def test_account_events_are_read_back_and_kept_out_of_histories() -> None:
    store = EventStore(":memory:")
    message = protocol.account_message(new_account("ana", "pw"))
    account = Event("a", 1, 5, Operation.ACCOUNT, user="ana", message=message, timestamp=1.0)
    post = Event("a", 2, 6, Operation.PUBLISH, user="ana", channel="c", message="hi")
    assert store.append([account, post]).fresh == [account, post]
    assert store.accounts() == [account]
    assert store.users() == ["ana"]
    assert store.channel_history("c", 10, None) == [post]
    assert store.since({}, 10) == ([account, post], False)  # replicated like any event
