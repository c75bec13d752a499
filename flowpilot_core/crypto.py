"""Encryption at rest for credentials (PSA connections, MCP servers, embed secrets).

Keys are derived from ``FLOWPILOT_SECRET_KEY`` with HKDF, one key per purpose, so a
leaked ciphertext of one kind says nothing about another.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class DecryptionError(RuntimeError):
    """Ciphertext could not be decrypted: wrong FLOWPILOT_SECRET_KEY or corrupted data."""


def _fernet(secret_key: str, purpose: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"flowpilot", info=purpose.encode()).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_text(secret_key: str, purpose: str, plaintext: str) -> str:
    return _fernet(secret_key, purpose).encrypt(plaintext.encode()).decode()


def decrypt_text(secret_key: str, purpose: str, token: str) -> str:
    try:
        return _fernet(secret_key, purpose).decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            f"cannot decrypt {purpose}: FLOWPILOT_SECRET_KEY differs from the one that encrypted it"
        ) from None


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
