"""Secure mode for each role: the pump's Curve settings read from a keys directory (see
transport/keys.py); every function returns None in open mode (no keys directory)."""

from __future__ import annotations

from pathlib import Path

from config.settings import ServerSettings
from transport.keys import ClusterKeys, Curve, fresh_pair


def cluster_keys(directory: str) -> ClusterKeys | None:
    return ClusterKeys(Path(directory)) if directory else None


def server_curve(settings: ServerSettings) -> Curve | None:
    """A server connects with CURVE to the broker backend, the proxy XSUB, the reference and
    its peers (which share the `server` pair); the proxy's XPUB is plain for everyone."""
    keys = cluster_keys(settings.keys)
    if keys is None:
        return None
    return Curve(
        own=keys.pair("server"),
        allowed=keys.allowed(),
        remotes={
            settings.broker_backend: keys.public("broker"),
            settings.proxy_pub: keys.public("proxy"),
            settings.reference: keys.public("reference"),
            settings.proxy_sub: None,
        },
        others=keys.public("server"),
    )


def reference_curve(directory: str) -> Curve | None:
    keys = cluster_keys(directory)
    if keys is None:
        return None
    return Curve(own=keys.pair("reference"), allowed=keys.allowed())


def client_curve(broker: str, server_key: str, directory: str) -> Curve | None:
    """A client's encrypted link to the broker's secure frontend (`broker`), with a throw-away
    key pair: the frontend authenticates no one. The broker key comes from `server_key`, else
    from the keys directory's public broker key."""
    keys = cluster_keys(directory)
    key = server_key.encode() if server_key else keys.public("broker") if keys else None
    if key is None:
        return None
    return Curve(own=fresh_pair(), remotes={broker: key})
