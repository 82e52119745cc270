"""Which blob files' hashes already checked out, so that a hit maps a large buffer without hashing it again.

A blob file is known by its identity (``blobs.Identity``: device, inode, size, times); once its hash matched, that
identity is remembered, in this process and in the index for the next one. The index is a file anyone who can
write the store can edit, so each identity is kept with an HMAC under the user's key: a forged row never verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from collections.abc import Callable

from nbcache.store.blobs import Identity
from nbcache.store.index import Index


class VerifiedBlobs:
    """Blob identities whose hash checked out (``blobs.Verified``), remembered under an HMAC of the user's key."""

    def __init__(self, secret: Callable[[], bytes], index: Index) -> None:
        self._secret = secret  # asked only when needed: an unusable key refuses the read, not the store's creation
        self._index = index
        self._seen: dict[str, Identity] = {}

    def _mac(self, blob: str, identity: Identity) -> str:
        text = f"{blob}|{identity.dev}|{identity.ino}|{identity.size}|{identity.mtime_ns}|{identity.ctime_ns}"
        return hmac.new(self._secret(), text.encode(), hashlib.sha256).hexdigest()

    def seen(self, blob: str, identity: Identity) -> bool:
        if self._seen.get(blob) == identity:
            return True
        try:
            found = self._index.verified_mac(blob)
        except sqlite3.Error:
            return False
        if found is None or not hmac.compare_digest(found[1], self._mac(blob, identity)):
            return False
        self._seen[blob] = identity
        return True

    def remember(self, blob: str, identity: Identity) -> None:
        self._seen[blob] = identity
        try:
            self._index.put_verified(blob, "", self._mac(blob, identity))
        except sqlite3.Error:  # remembered for this process only
            pass
