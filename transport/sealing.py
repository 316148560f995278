"""Sealed boxes (libsodium's crypto_box_seal through PyNaCl): anyone holding a user's public
key can seal bytes to it, only the holder of the private key can open them. The server seals a
private message to its recipient's key, so a subscriber of the topic sees only ciphertext."""

from __future__ import annotations

import base64
import binascii

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

KEY_BYTES = 32  # a Curve25519 key
MAX_SEALED_CHARS = 64 * 1024  # base64 of a sealed 10 000-character message, and more


def decode_key(text: str) -> bytes | None:
    """The 32 bytes of a base64 key; None if `text` is not one."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    return raw if len(raw) == KEY_BYTES else None


def new_private_key() -> bytes:
    return bytes(PrivateKey.generate())


def public_key_of(private_key: bytes) -> str:
    """The base64 public key that goes with a private key."""
    return base64.b64encode(bytes(PrivateKey(private_key).public_key)).decode("ascii")


def seal(public_key: str, plain: bytes) -> str:
    """`plain` sealed to a base64 public key (checked by decode_key), as base64."""
    key = decode_key(public_key)
    if key is None:
        raise ValueError("not a public key")
    return base64.b64encode(SealedBox(PublicKey(key)).encrypt(plain)).decode("ascii")


def open_sealed(private_key: bytes, sealed: str) -> bytes | None:
    """The plain bytes of a base64 sealed box; None if it was not sealed to this key."""
    try:
        box = base64.b64decode(sealed.encode("ascii"), validate=True)
        return SealedBox(PrivateKey(private_key)).decrypt(box)
    except (binascii.Error, UnicodeEncodeError, CryptoError, ValueError):
        return None
