"""A crash-safe index of the store's manifests and statistics, so that listing, eviction and sweeps cost a query
instead of reading every file.

The files stay the truth; the index (SQLite, ``index.sqlite3`` in the store folder) is a cache of what they say.
Every writer updates it in the same step as the file, and before each use a folder is checked against it: when a
folder's modification time changed since it was last matched (or changed too recently to be sure), its names and
inode numbers are compared with the index and only the files that differ are read again. So a lost, damaged or
stale index (a kernel killed between a file and its row, an older nbcache, a file copied in by hand) is rebuilt
or repaired from the files, never believed over them. Loading an entry never uses the index: it reads and verifies
the manifest and blobs themselves.

Rows are plain facts read from files; ``ok`` says the manifest's signature verified under the key ``kid`` names,
which matters only for listing (anyone who can write the store can write this file too: nothing is unpickled
because of it). Verified blob identities (``blobs.Identity``) are kept with an HMAC under the user's key.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nbcache.store.backend import TMP_PREFIX

FILE_NAME = "index.sqlite3"
# The folder of one key's manifests: entries/<kid>/, kid a hash of the key (see ``local.key_id``).
KID = re.compile(r"^[0-9a-f]{16}$")
# Increment when the tables change: an index of another version is dropped and rebuilt from the files.
_VERSION = 2
# A folder modified less than this long ago may change again within the same tick of its clock: scan it anyway.
_RACY_NS = 1_000_000_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS folders(folder TEXT PRIMARY KEY, mtime_ns INTEGER, ino INTEGER);
CREATE TABLE IF NOT EXISTS entries(name TEXT PRIMARY KEY, folder TEXT, ino INTEGER, key TEXT, kid TEXT, ok INTEGER,
                                   created REAL, size INTEGER, cell_ident TEXT, manifest TEXT);
CREATE INDEX IF NOT EXISTS entries_folder ON entries(folder);
CREATE INDEX IF NOT EXISTS entries_cell ON entries(cell_ident);
CREATE TABLE IF NOT EXISTS refs(name TEXT, blob TEXT, size INTEGER);
CREATE INDEX IF NOT EXISTS refs_name ON refs(name);
CREATE INDEX IF NOT EXISTS refs_blob ON refs(blob);
CREATE TABLE IF NOT EXISTS stats(name TEXT PRIMARY KEY, folder TEXT, ino INTEGER, key TEXT, hits REAL,
                                 last_used REAL, saved_s REAL);
CREATE INDEX IF NOT EXISTS stats_key ON stats(key);
CREATE TABLE IF NOT EXISTS verified(blob TEXT PRIMARY KEY, identity TEXT, mac TEXT);
CREATE TABLE IF NOT EXISTS pending(owner TEXT, name TEXT);
"""
# The store's usage (each blob counted once) kept up by the database itself as refs come and go, whichever process
# writes them: the limit is checked after every save, and summing the distinct blobs of refs there cost a save
# 2.6 ms at 1,200 entries and 25 ms at 10,000. ``uses`` counts the refs naming a blob (with its size).
_USAGE = """
CREATE TABLE IF NOT EXISTS blob_uses(blob TEXT, size INTEGER, uses INTEGER, PRIMARY KEY(blob, size));
CREATE TABLE IF NOT EXISTS usage_total(id INTEGER PRIMARY KEY CHECK (id = 0), bytes INTEGER);
INSERT OR IGNORE INTO usage_total VALUES (0, 0);
CREATE TRIGGER IF NOT EXISTS ref_added AFTER INSERT ON refs BEGIN
    INSERT OR IGNORE INTO blob_uses VALUES (NEW.blob, NEW.size, 0);
    UPDATE blob_uses SET uses = uses + 1 WHERE blob = NEW.blob AND size = NEW.size;
END;
CREATE TRIGGER IF NOT EXISTS ref_removed AFTER DELETE ON refs BEGIN
    DELETE FROM blob_uses WHERE blob = OLD.blob AND size = OLD.size AND uses <= 1;
    UPDATE blob_uses SET uses = uses - 1 WHERE blob = OLD.blob AND size = OLD.size;
END;
CREATE TRIGGER IF NOT EXISTS blob_first_used AFTER INSERT ON blob_uses BEGIN
    UPDATE usage_total SET bytes = bytes + NEW.size;
END;
CREATE TRIGGER IF NOT EXISTS blob_no_longer_used AFTER DELETE ON blob_uses BEGIN
    UPDATE usage_total SET bytes = bytes - OLD.size;
END;
"""
_DROP = ";".join(f"DROP TABLE IF EXISTS {table}" for table in
                 ("folders", "entries", "refs", "stats", "verified", "blob_uses", "usage_total")) + ";"
# Counted again from refs where the tables were made by an index without them (which wrote refs without counting).
_RECOUNT = """
DELETE FROM blob_uses;
INSERT INTO blob_uses SELECT blob, size, COUNT(*) FROM refs GROUP BY blob, size;
UPDATE usage_total SET bytes = (SELECT COALESCE(SUM(size), 0) FROM blob_uses);
"""


@dataclass(frozen=True)
class EntryRow:
    """What one manifest file says, as far as listing and eviction need; ``manifest`` is its JSON text."""

    name: str  # relative to the store: entries/<kid>/<key>.json, or entries/<key>.json (before keys had folders)
    key: str
    kid: str
    ok: bool
    created: float
    size: int
    cell_ident: str
    manifest: str
    refs: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class StatsRow:
    name: str
    key: str
    hits: float
    last_used: float
    saved_s: float


@dataclass(frozen=True)
class Listed:
    """An entry with its usage, for listing and eviction."""

    row: EntryRow
    hits: float
    last_used: float
    saved_s: float


# Readers the store gives the index: a file's row from its relative name and path (None: not nbcache's).
ReadEntry = Callable[[str, Path], "EntryRow | None"]
ReadStats = Callable[[str, Path], "StatsRow | None"]


def _folder_of(name: str) -> str:
    return name.rsplit("/", 1)[0]


# Another process holding the index's lock is a reason to wait, never to rebuild or leave it.
_BUSY_TRIES = 100


def _busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


class Index:
    def __init__(self, root: Path, read_entry: ReadEntry, read_stats: ReadStats) -> None:
        self.root = root
        self._file = str(root / FILE_NAME)  # looked at before every transaction (``_stale``): joined once
        self._read_entry, self._read_stats = read_entry, read_stats
        self._db: sqlite3.Connection | None = None
        # The inode of the index file the connection has open; None for one in memory, which no other process
        # sees: its claims are private, so removals under it must not trust claims (see ``shared``).
        self._ino: int | None = None
        self._lock = threading.RLock()  # hit statistics are written from a background thread
        self._depth = 0
        # This process's claims, written again into a new index file if the connection moves to one.
        self._held: dict[str, list[str]] = {}
        self._await_root = False  # in memory only because the store folder did not exist yet
        self._synced_ino: int | None = None  # the index file ``ever_synced`` found synced (it stays so)

    # ---- the connection: the file in the store, else (read-only, damaged beyond repair) one in memory
    def _open(self, where: str) -> sqlite3.Connection:
        db = sqlite3.connect(where, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            if where != ":memory:":
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")  # a process crash loses nothing; a power cut, rows
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == _VERSION:
                db.executescript(_SCHEMA + _USAGE)
            else:  # new, or of another version (dropped: the files rebuild it), in one step with the recount
                drop = _DROP if version != 0 else ""
                db.executescript(f"BEGIN IMMEDIATE; {drop} {_SCHEMA} {_USAGE} {_RECOUNT} "
                                 f"PRAGMA user_version={_VERSION}; COMMIT;")
            db.execute("SELECT count(*) FROM entries").fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def _path_safe(self) -> bool:
        path = self.root / FILE_NAME
        try:
            return stat.S_ISREG(os.lstat(path).st_mode)
        except FileNotFoundError:
            return True

    @property
    def shared(self) -> bool:
        """Whether the index is the store's file, which every process uses; False for a private one in memory."""
        self._connect()
        return self._ino is not None

    def _stale(self) -> bool:
        """Whether the connection should move: from memory to the file once the store folder exists (a process
        that started before any save made it), or to the file now at the index's name (another process rebuilt a
        damaged index, and the old file is gone). Checked only between transactions: a stat, no reading."""
        if self._db is None:
            return True
        if self._depth:
            return False
        if self._ino is None:
            return self._await_root and self.root.is_dir()
        try:
            return os.lstat(self._file).st_ino != self._ino
        except OSError:
            return True

    def _use(self, db: sqlite3.Connection, ino: int | None = None, await_root: bool = False) -> sqlite3.Connection:
        self._db, self._ino, self._await_root = db, ino, await_root
        self._synced_ino = None  # another file (or the same one reopened): ask it
        if ino is not None:
            self._carry_claims(db)
        return db

    def _connect(self) -> sqlite3.Connection:
        if self._db is not None and not self._stale():
            return self._db
        if self._db is not None:
            self._db.close()
        where = str(self.root / FILE_NAME)
        for attempt in range(_BUSY_TRIES):
            try:
                if not self.root.is_dir():  # no store yet: nothing to index; the file comes with the folder
                    return self._use(self._open(":memory:"), await_root=True)
                if not self._path_safe():
                    raise sqlite3.OperationalError("no usable index file")
                db = self._open(where)
                return self._use(db, os.lstat(where).st_ino)
            except sqlite3.DatabaseError as exc:
                # Locked by another process (several opening a new store at once) is no damage: deleting the
                # file would leave each process with an index of its own, blind to the others' claims.
                if not _busy(exc):
                    return self._rebuilt(where)
                if attempt + 1 < _BUSY_TRIES:
                    time.sleep(0.05)
            except OSError:  # the file vanished between opening and looking at it: try again
                continue
        return self._use(self._open(":memory:"))

    def _rebuilt(self, where: str) -> sqlite3.Connection:
        """A damaged index is deleted and rebuilt; where that fails too (read-only store), one in memory.
        Processes still using the deleted file see that its name now holds another and move (``_stale``)."""
        try:
            if self._path_safe():
                for suffix in ("", "-wal", "-shm"):
                    Path(where + suffix).unlink(missing_ok=True)
                db = self._open(where)
                return self._use(db, os.lstat(where).st_ino)
        except (OSError, sqlite3.DatabaseError):
            pass
        return self._use(self._open(":memory:"))

    def _carry_claims(self, db: sqlite3.Connection) -> None:
        """Claims this process made into a connection it left are made again in the one it moved to."""
        held = [(owner, name) for owner, names in self._held.items() for name in names]
        if held:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO pending VALUES (?, ?)", held)
            db.execute("COMMIT")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._depth:  # inside ``exclusive``: part of its transaction
                yield self._connect()
                return
            db = self._begin()
            self._depth += 1
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            finally:
                self._depth -= 1
            db.execute("COMMIT")

    def _begin(self) -> sqlite3.Connection:
        """A write transaction on the index: waits while others write; a read-only file falls back to memory for
        this process (a busy one never does: the others' claims would no longer be seen)."""
        for attempt in range(_BUSY_TRIES):
            db = self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")
                return db
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    self._use(self._open(":memory:"))
                elif attempt + 1 == _BUSY_TRIES:
                    raise
                else:
                    time.sleep(0.05)
        raise sqlite3.OperationalError("the index stayed busy")

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the index's write lock: removing blobs under it, no save can claim one in between (a save claims a
        blob before it looks whether the file is there, so it either sees the removal or is seen)."""
        with self._tx():
            yield

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db, self._ino = None, None

    # ---- keeping up with the files
    def sync(self, stats: bool = True) -> None:
        """Bring the index up to date with the entries folders (and the statistics folder)."""
        with self._tx() as db:
            kids = self._sync_folder(db, "entries", "entries")
            if kids is None:  # unchanged: its key folders are the ones recorded
                kids = [f.split("/", 1)[1] for (f,) in db.execute(
                    "SELECT folder FROM folders WHERE folder LIKE 'entries/%'")]
            known = {f for (f,) in db.execute("SELECT DISTINCT folder FROM entries")} | {
                f for (f,) in db.execute("SELECT folder FROM folders WHERE folder LIKE 'entries/%'")}
            for folder in known - {"entries"} - {f"entries/{k}" for k in kids}:
                self._drop_folder(db, folder, "entries")
            for kid in kids:
                self._sync_folder(db, f"entries/{kid}", "entries")
            if stats:
                self._sync_folder(db, "stats", "stats")

    def _drop_folder(self, db: sqlite3.Connection, folder: str, table: str) -> None:
        if table == "entries":
            db.execute("DELETE FROM refs WHERE name IN (SELECT name FROM entries WHERE folder=?)", (folder,))
        db.execute(f"DELETE FROM {table} WHERE folder=?", (folder,))
        db.execute("DELETE FROM folders WHERE folder=?", (folder,))

    def _sync_folder(self, db: sqlite3.Connection, folder: str, table: str) -> list[str] | None:
        """Match one folder's files against the table; return the names of its subfolders (keys' folders), None
        if the folder is unchanged since it was last matched."""
        path = self.root / folder
        try:
            st = os.lstat(path)
        except OSError:  # absent, or a name the system refuses: nothing there
            self._drop_folder(db, folder, table)
            return []
        if not stat.S_ISDIR(st.st_mode):  # a link or a file where a folder belongs: nothing in it is ours
            self._drop_folder(db, folder, table)
            return []
        recorded = db.execute("SELECT mtime_ns, ino FROM folders WHERE folder=?", (folder,)).fetchone()
        settled = time.time_ns() - st.st_mtime_ns > _RACY_NS
        if recorded == (st.st_mtime_ns, st.st_ino) and settled:
            return None
        files, subfolders = self._scan(path)
        known = dict(db.execute(f"SELECT name, ino FROM {table} WHERE folder=?", (folder,)).fetchall())
        current = {f"{folder}/{n}": ino for n, ino in files.items()}
        for name in known.keys() - current.keys():
            self._delete(db, table, name)
        for name, ino in current.items():
            if known.get(name) != ino:
                self._refresh(db, table, name, ino)
        db.execute("INSERT OR REPLACE INTO folders VALUES (?, ?, ?)", (folder, st.st_mtime_ns, st.st_ino))
        return subfolders

    @staticmethod
    def _scan(path: Path) -> tuple[dict[str, int], list[str]]:
        files, subfolders = {}, []
        with os.scandir(path) as listing:
            for item in listing:
                if item.name.startswith(TMP_PREFIX):
                    continue
                if item.is_dir(follow_symlinks=False):
                    if KID.match(item.name):
                        subfolders.append(item.name)
                elif item.name.endswith(".json"):
                    files[item.name] = item.inode()
        return files, subfolders

    def _refresh(self, db: sqlite3.Connection, table: str, name: str, ino: int) -> None:
        self._delete(db, table, name)
        if table == "entries":
            row = self._read_entry(name, self.root / name)
            if row is not None:
                self._insert_entry(db, row, ino)
        else:
            stats = self._read_stats(name, self.root / name)
            if stats is not None:
                self._insert_stats(db, stats, ino)

    def _delete(self, db: sqlite3.Connection, table: str, name: str) -> None:
        if table == "entries":
            db.execute("DELETE FROM refs WHERE name=?", (name,))
        db.execute(f"DELETE FROM {table} WHERE name=?", (name,))

    @staticmethod
    def _insert_entry(db: sqlite3.Connection, row: EntryRow, ino: int) -> None:
        db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (row.name, _folder_of(row.name), ino, row.key, row.kid, int(row.ok), row.created, row.size,
                    row.cell_ident, row.manifest))
        db.executemany("INSERT INTO refs VALUES (?, ?, ?)", [(row.name, b, s) for b, s in row.refs])

    @staticmethod
    def _insert_stats(db: sqlite3.Connection, row: StatsRow, ino: int) -> None:
        db.execute("INSERT OR REPLACE INTO stats VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (row.name, _folder_of(row.name), ino, row.key, row.hits, row.last_used, row.saved_s))

    # ---- writers tell the index what they wrote
    def put_entry(self, row: EntryRow, ino: int) -> None:
        with self._tx() as db:
            self._delete(db, "entries", row.name)
            self._insert_entry(db, row, ino)

    def put_stats(self, row: StatsRow, ino: int) -> None:
        with self._tx() as db:
            self._insert_stats(db, row, ino)

    def drop(self, names: Iterable[str]) -> None:
        with self._tx() as db:
            for name in names:
                self._delete(db, "stats" if name.startswith("stats/") else "entries", name)

    # ---- questions
    def inode_of(self, name: str) -> int | None:
        with self._lock:
            found = self._connect().execute("SELECT ino FROM entries WHERE name=?", (name,)).fetchone()
        return found[0] if found else None

    def stats_of(self, key: str) -> StatsRow | None:
        with self._lock:
            found = self._connect().execute("SELECT name, key, hits, last_used, saved_s FROM stats WHERE key=?",
                                            (key,)).fetchone()
        return StatsRow(*found) if found else None

    def listed(self, kid: str | None = None, manifests: bool = True) -> list[Listed]:
        """Entries (of one key's holder, verified, if ``kid`` is given; else every entry), with their usage.
        Eviction needs no manifest text: ``manifests=False`` leaves it out."""
        where, args = [], []
        if kid is not None:
            where.append("e.ok = 1 AND e.kid = ?")
            args.append(kid)
        text = "e.manifest" if manifests else "''"
        chosen = (f"SELECT e.name, e.key, e.kid, e.ok, e.created, e.size, e.cell_ident, {text} FROM entries e"
                  + (" WHERE " + " AND ".join(where) if where else ""))
        with self._lock:
            db = self._connect()
            rows = db.execute(f"SELECT c.*, s.hits, s.last_used, s.saved_s FROM ({chosen}) c "
                              "LEFT JOIN stats s ON s.key = c.key", args).fetchall()
            refs: dict[str, list[tuple[str, int]]] = {}
            found = (db.execute("SELECT name, blob, size FROM refs WHERE name=?", (rows[0][0],)) if len(rows) == 1
                     else db.execute("SELECT name, blob, size FROM refs") if rows else [])
            for name, blob, size in found:
                refs.setdefault(name, []).append((blob, size))
        return [Listed(EntryRow(n, k, kd, bool(ok), c, sz, ci, m, tuple(refs.get(n, ()))),
                       h or 0.0, lu or 0.0, sv or 0.0)
                for n, k, kd, ok, c, sz, ci, m, h, lu, sv in rows]

    def newest_manifest(self, kid: str, cell_ident: str, sync: Callable[[], None]) -> str | None:
        """The manifest text of a cell's newest verified entry, from the rows as they stand: the reason of a miss
        needs only this, and no statistics or blob lists. ``sync`` is called first if no process has ever matched
        this index against the entries folder (a new or rebuilt index knows nothing yet of the entries there).
        One look at the index file for both questions (each look is a stat)."""
        with self._lock:
            db = self._connect()
            if not self._synced(db):
                sync()
                db = self._connect()
            found = db.execute(
                "SELECT manifest FROM entries WHERE cell_ident = ? AND ok = 1 AND kid = ? ORDER BY created DESC "
                "LIMIT 1", (cell_ident, kid)).fetchone()
        return found[0] if found else None

    def _synced(self, db: sqlite3.Connection) -> bool:
        """Whether any process has matched the index file ``db`` has open against the entries folder (a file
        rebuilt meanwhile is another file: asked, never taken for synced)."""
        if self._ino is not None and self._ino == self._synced_ino:
            return True  # a sync's row for the entries folder is never removed from that file (``sync``)
        synced = db.execute("SELECT 1 FROM folders WHERE folder = 'entries'").fetchone() is not None
        if synced:
            self._synced_ino = self._ino
        return synced

    def referenced(self) -> set[str]:
        """Every blob some manifest names, whoever signed it: a sweep keeps them all."""
        with self._lock:
            return {b for (b,) in self._connect().execute("SELECT DISTINCT blob FROM refs")}

    def usage(self) -> int:
        """Bytes of the blobs the manifests name, each counted once."""
        with self._lock:
            total = self._connect().execute("SELECT bytes FROM usage_total").fetchone()
            return int(total[0] or 0) if total else 0

    # ---- files a save in progress writes: if its process dies, the next save removes them
    def claim(self, owner: str, name: str) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO pending VALUES (?, ?)", (owner, name))
            self._held.setdefault(owner, []).append(name)

    def release(self, owner: str) -> None:
        with self._tx() as db:
            self._held.pop(owner, None)
            db.execute("DELETE FROM pending WHERE owner=?", (owner,))

    def claims(self) -> dict[str, list[str]]:
        """Every save in progress (or killed in the middle) and the files it wrote."""
        found: dict[str, list[str]] = {}
        with self._lock:
            for owner, name in self._connect().execute("SELECT owner, name FROM pending"):
                found.setdefault(owner, []).append(name)
        return found

    # ---- verified blob identities
    def verified_mac(self, blob: str) -> tuple[str, str] | None:
        with self._lock:
            found = self._connect().execute("SELECT identity, mac FROM verified WHERE blob=?", (blob,)).fetchone()
        return (found[0], found[1]) if found else None

    def put_verified(self, blob: str, identity: str, mac: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO verified VALUES (?, ?, ?)", (blob, identity, mac))

    def forget_verified(self, blobs: Iterable[str]) -> None:
        with self._tx() as db:
            db.executemany("DELETE FROM verified WHERE blob=?", [(b,) for b in blobs])
