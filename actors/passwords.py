"""Password actor: scrypt hashing (~40 ms and 16 MiB each) on its own thread, so that the
chat actor keeps answering other requests while a login is checked."""

from __future__ import annotations

from actors.accounts import new_account, password_matches
from actors.base import BaseActor, Node, handles
from actors.chat_rules import ClaimName
from actors.messages import PasswordDone, PasswordWork
from actors.routes import Routes


class PasswordActor(BaseActor):
    actor_name = "passwords"

    def __init__(self, node: Node, routes: Routes) -> None:
        super().__init__(node)
        self.routes = routes

    @handles(PasswordWork)
    def _work(self, w: PasswordWork) -> None:
        login = w.decision.login
        if isinstance(w.decision, ClaimName):
            record = new_account(login.user, login.password, login.public_key)
        else:
            record = w.decision.record
            record = record if password_matches(record, login.password) else None
        self.routes.tell("chat", PasswordDone(w.inbound, w.decision, record))
