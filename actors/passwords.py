"""Password actor: scrypt hashing (~40 ms and 16 MiB each) on its own thread, so that the
chat actor keeps answering other requests while a login is checked."""

from __future__ import annotations

from actors.accounts import new_account, password_matches, with_password
from actors.base import BaseActor, Node, handles
from actors.chat_rules import ClaimName
from actors.messages import PasswordDone, PasswordWork
from actors.routes import Routes
from transport.protocol import AccountRecord


class PasswordActor(BaseActor):
    actor_name = "passwords"

    def __init__(self, node: Node, routes: Routes) -> None:
        super().__init__(node)
        self.routes = routes

    @handles(PasswordWork)
    def _work(self, w: PasswordWork) -> None:
        login = w.decision.login
        record: AccountRecord | None
        if isinstance(w.decision, ClaimName):
            record = new_account(login.user, login.password, login.public_key)
        elif not password_matches(w.decision.record, login.password):
            record = None
        elif login.new_password:
            record = with_password(w.decision.record, login.new_password, login.public_key)
        else:
            record = w.decision.record
        self.routes.tell("chat", PasswordDone(w.inbound, w.decision, record))
