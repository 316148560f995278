"""Every interval and timeout of the system, with the invariants that tie them together."""

from __future__ import annotations

from dataclasses import dataclass


class TimingError(ValueError):
    """A set of timings that cannot deliver the promised behaviour."""


@dataclass(frozen=True)
class Timing:
    # Client side (Lazy Pirate towards the broker).
    request_timeout: float = 2.5
    request_retries: int = 3
    # Server-to-server and server-to-reference requests: short, so failures show quickly.
    peer_timeout: float = 0.5
    peer_retries: int = 1
    # Membership.
    heartbeat_interval: float = 1.0
    liveness_intervals: int = 3
    # Bully election.
    election_tick_interval: float = 0.1  # how often the bully state machine checks timeouts
    coordinator_check_interval: float = 1.0
    election_answer_timeout: float = 0.6
    announce_timeout: float = 1.5
    # Berkeley clock sync.
    clock_sync_every_messages: int = 10
    clock_sync_interval: float = 30.0
    clock_sync_min_interval: float = 1.0  # message-triggered rounds: at most one per second
    clock_outlier_threshold: float = 1.0
    # Replication.
    replication_ack_timeout: float = 1.0
    ack_check_interval: float = 0.05  # release acks of timed-out peers, resume stalled pushes
    replication_call_timeout: float = 2.0  # one push or sync page (bulk: longer than a ping)
    anti_entropy_interval: float = 2.0  # pull from a random peer what we may have missed
    refused_push_retry: float = 0.5  # a peer that could not store a push (disk full) rests
    catchup_batch: int = 5000
    startup_catchup_timeout: float = 3.0
    # A server serves clients no sooner than this after its publisher connected to the proxy:
    # subscribers come back to a restarted proxy within their reconnect interval (at most 1 s
    # with transport.sockets.configure), and a publication made before they are back is lost
    # to them (ZeroMQ's slow joiner) -- after a whole cluster restarts, a post held by a
    # client would be stored but never delivered live.
    publisher_warmup: float = 1.2
    # Presence: how often replicas exchange who they heard from (actors/presence.py).
    presence_interval: float = 3.0
    # Deadline for a client request inside a server (a REQ client must always get a reply).
    request_deadline: float = 2.0
    # The socket pump: its longest wait between two rounds (how often deadlines are checked),
    # and how long a socket to a peer with no call stays open (a departed peer's is closed).
    pump_poll_interval: float = 0.05
    idle_peer_socket: float = 60.0

    @property
    def liveness_timeout(self) -> float:
        return self.heartbeat_interval * self.liveness_intervals

    @property
    def peer_failure_detection(self) -> float:
        """Worst case from a dead coordinator to a follower noticing it."""
        return self.coordinator_check_interval + self.peer_timeout * (self.peer_retries + 1)

    @property
    def failover_bound(self) -> float:
        """Worst case from a dead coordinator to a new one announced (each of the two election
        timeouts is noticed up to one election tick late)."""
        return (
            self.peer_failure_detection
            + self.election_answer_timeout
            + self.announce_timeout
            + 2 * self.election_tick_interval
        )

    def validate(self, failover_target: float = 5.0) -> Timing:
        positive = {k: v for k, v in self.__dict__.items() if isinstance(v, (int, float))}
        bad = [k for k, v in positive.items() if v <= 0 and k != "peer_retries"]
        if bad or self.peer_retries < 0:
            raise TimingError(f"timings must be positive: {', '.join(bad) or 'peer_retries'}")
        if self.failover_bound > failover_target:
            raise TimingError(
                f"a new coordinator could take {self.failover_bound:.2f}s "
                f"(> {failover_target}s): shorten peer_timeout or the election timeouts"
            )
        if self.liveness_timeout <= self.heartbeat_interval:
            raise TimingError("liveness_intervals must exceed 1 heartbeat")
        if self.ack_check_interval >= self.replication_ack_timeout:
            raise TimingError("ack_check_interval must be shorter than replication_ack_timeout")
        if self.election_tick_interval >= self.election_answer_timeout:
            raise TimingError("election_tick_interval must be shorter than election timeouts")
        if self.replication_ack_timeout >= self.request_deadline:
            raise TimingError("replication_ack_timeout must be shorter than request_deadline")
        if self.request_deadline >= self.request_timeout:
            raise TimingError("a server must answer before the client's request_timeout")
        return self


DEFAULT_TIMING = Timing().validate()
