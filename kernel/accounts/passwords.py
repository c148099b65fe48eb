"""Password hashing: bcrypt over a fixed-length pre-hash of the password.

bcrypt reads at most 72 bytes (bcrypt 5 raises ``ValueError`` beyond that, older
versions silently ignore the rest), and stops at a NUL byte. So every password is first
reduced to 44 ASCII bytes: ``base64(HMAC-SHA256(key=PREHASH_LABEL, NFKC(password)))``.
A 200-character passphrase is then accepted whole, and two passphrases that share
their first 72 bytes are different passwords. The HMAC label (rather than a plain
SHA-256) means unsalted SHA-256 hashes leaked by other sites cannot be tried against
our bcrypt hashes as if they were passwords ("hash shucking").

NFKC normalization makes the same passphrase typed on two keyboards (composed or
decomposed accents) one password.
"""

import base64
import hashlib
import hmac
import unicodedata

import bcrypt

PREHASH_LABEL = b"mercato-password-v1"
DEFAULT_ROUNDS = 12


def _prehash(password: str) -> bytes:
    normalized = unicodedata.normalize("NFKC", password).encode("utf-8")
    return base64.b64encode(hmac.new(PREHASH_LABEL, normalized, hashlib.sha256).digest())


def hash_password(password: str, rounds: int = DEFAULT_ROUNDS) -> str:
    """The bcrypt hash (cost ``rounds``) to store for ``password``."""
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches ``hashed``; a malformed hash never matches."""
    try:
        return bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))
    except ValueError:
        return False
