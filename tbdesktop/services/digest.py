"""A recording's content hash taken once, and trusted again only while the file is unchanged."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

_HASH_CHUNK = 1024 * 1024


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileDigest:
    """A file's sha256 with the size, modification time and inode it had before it was read."""

    sha256: str
    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: Path, before: os.stat_result | None = None) -> FileDigest:
        """Hash ``path``; ``before`` is its stat taken earlier (a change while it is read then shows)."""
        st = before if before is not None else path.stat()
        return cls(sha256_of(path), st.st_size, st.st_mtime_ns, st.st_ino)

    def matches(self, st: os.stat_result) -> bool:
        """Whether the file still looks as it did when it was hashed (else its hash is taken again)."""
        return (st.st_size, st.st_mtime_ns, st.st_ino) == (self.size, self.mtime_ns, self.inode)
