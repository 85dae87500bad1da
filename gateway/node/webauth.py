"""Web sign-in: Argon2id passwords, TOTP second factors, growing delays, session ids.

* Passwords are hashed with argon2-cffi's ``PasswordHasher`` (Argon2id, its RFC 9106
  "low memory" defaults); an unknown user costs one verification of a fixed hash too, so
  timing does not tell which user names exist.
* The TOTP secret (RFC 6238, 30 s steps, 6 digits; pyotp) is sealed at rest with
  ChaCha20-Poly1305 under the home's web key ``private/web.key`` (0600, 32 random bytes,
  created on first use), bound to the user name; a database dump alone does not give the
  second factor. A code is accepted once: the store keeps the last step used.
* A second factor is required for roles that read message content (``CONTENT_ROLES`` of
  ``gateway.node.roles``: officer, border guard, supervisor); for the others it is checked
  when enrolled.
* After ``FREE_FAILURES`` failed sign-ins of one user, each further failure blocks the
  next attempt for twice as long as the one before (1 s, 2 s, 4 s … ``MAX_BLOCK_S``).
* A session id is 32 random bytes (the cookie); the store holds only its SHA-256. The
  CSRF token of a session is HMAC-SHA256(session id, "csrf"): never stored, compared in
  constant time.
* A form that creates something (compose) carries its own key: random, with an HMAC under
  the session id, so it is good only in the session that rendered it; the web app sends it
  to the officer API's idempotency store as an ``Idempotency-Key``: a double submit or a
  reload-and-resubmit of one rendered form makes one message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

import argon2
import nacl.utils
import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from gateway.audit.leaves import USER_NAME
from gateway.node.roles import CONTENT_ROLES
from gateway.protocol.errors import ConfigError, Malformed
from gateway.protocol.identity import write_private

__all__ = [
    "CONTENT_ROLES",
    "FREE_FAILURES",
    "MAX_BLOCK_S",
    "USER_NAME",
    "block_ms",
    "check_password",
    "csrf_token",
    "form_key",
    "form_key_of",
    "hash_password",
    "new_password",
    "new_session_id",
    "new_totp_secret",
    "open_totp",
    "seal_totp",
    "session_hash",
    "totp_step",
    "totp_uri",
    "verify_password",
    "web_key",
]

FREE_FAILURES = 3
MAX_BLOCK_S = 900
MIN_PASSWORD = 12
MAX_PASSWORD = 256
_AD = b"blo-gateway/web-totp/v1\n"
_hasher = argon2.PasswordHasher()
_DUMMY = _hasher.hash("not a password of anyone: equalises the time of an unknown user")


def check_password(password: str) -> str:
    """``password`` if it may be set, else ``Malformed`` saying what one must be."""
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Malformed(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if password.strip() != password or "\n" in password:
        raise Malformed("a password has no leading or trailing white space or line break")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


def new_password() -> str:
    """A random first password (100 bits: four groups of five base32 letters), shown once
    to the administrator who set it."""
    letters = base64.b32encode(nacl.utils.random(15)).decode("ascii").lower()[:20]
    return "-".join(letters[i:i + 5] for i in range(0, 20, 5))


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (None: an unknown user, verified against a
    fixed hash so that it takes as long)."""
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return bool(_hasher.verify(stored or _DUMMY, password)) and stored is not None
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def block_ms(failures: int) -> int:
    """How long the next attempt waits after ``failures`` failed sign-ins in a row."""
    if failures < FREE_FAILURES:
        return 0
    return min(1000 << (failures - FREE_FAILURES), MAX_BLOCK_S * 1000)


# ---------------------------------------------------------------------- second factor

def web_key(home: Path) -> bytes:
    """The home's web key (``private/web.key``), created on first use (0600)."""
    path = home / "private" / "web.key"
    if not path.exists():  # written whole, then linked: a reader never sees half a key
        tmp = path.with_name(f"web.key.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        write_private(tmp, base64.b64encode(nacl.utils.random(32)).decode() + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use that one
        finally:
            tmp.unlink()
    try:
        key = base64.b64decode(path.read_text(encoding="ascii").strip(), validate=True)
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is not a web key (32 bytes, base64)") from e
    if len(key) != 32:
        raise ConfigError(f"{path} is not a web key (32 bytes, base64)")
    return key


def new_totp_secret() -> str:
    return pyotp.random_base32(32)


def seal_totp(key: bytes, user: str, secret: str) -> bytes:
    nonce = nacl.utils.random(12)
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, secret.encode("ascii"),
                                                 _AD + user.encode("utf-8"))


def open_totp(key: bytes, user: str, sealed: bytes) -> str:
    try:
        return ChaCha20Poly1305(key).decrypt(sealed[:12], sealed[12:],
                                             _AD + user.encode("utf-8")).decode("ascii")
    except (InvalidTag, ValueError) as e:
        raise ConfigError("the stored second factor does not open with this home's web key "
                          "(private/web.key replaced?); enrol the user again") from e


def totp_uri(secret: str, user: str, office: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (shown once, at enrolment)."""
    return pyotp.TOTP(secret).provisioning_uri(name=f"{user}@{office}", issuer_name="BLO Gateway")


def totp_step(secret: str, code: str, now_ms: int) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side for clock drift), or
    None. Compared in constant time."""
    code = code.strip()
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_s = now_ms // 1000
    found = None
    for delta in (-1, 0, 1):
        t = now_s + delta * totp.interval
        if hmac.compare_digest(totp.at(t), code):
            found = t // totp.interval
    return found


# ---------------------------------------------------------------------- sessions

def new_session_id() -> str:
    return base64.urlsafe_b64encode(nacl.utils.random(32)).decode("ascii").rstrip("=")


def session_hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode("ascii")).digest()


def csrf_token(session_id: str) -> str:
    mac = hmac.new(session_id.encode("ascii"), b"blo-gateway/csrf/v1", hashlib.sha256)
    return mac.hexdigest()


def _form_mac(session_id: str, nonce: str) -> str:
    return hmac.new(session_id.encode("ascii"), b"blo-gateway/form-key/v1\n" + nonce.encode(),
                    hashlib.sha256).hexdigest()[:32]


def form_key(session_id: str) -> str:
    """A new key for one rendered form of this session (``nonce.mac``, 55 characters)."""
    nonce = base64.urlsafe_b64encode(nacl.utils.random(16)).decode("ascii").rstrip("=")
    return f"{nonce}.{_form_mac(session_id, nonce)}"


def form_key_of(session_id: str, given: object) -> str | None:
    """``given`` if it is a form key made for this session (compared in constant time)."""
    if not isinstance(given, str) or len(given) != 55 or not given.isascii():
        return None
    nonce, _, mac = given.partition(".")
    if not hmac.compare_digest(mac.encode(), _form_mac(session_id, nonce).encode()):
        return None
    return given
