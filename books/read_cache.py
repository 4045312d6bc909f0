"""The shared cache of rendered book reads, and its invalidation by every write.

What is cached: whole anonymous JSON responses (headers and body) of a book's URL and of list
pages, stored by books.hot_path, which also answers from it. What must never happen: a read
that starts after a write was acknowledged returns the book as it was before. Three rules
hold that, without locks:

- A book's entry carries its version (the number in its ETag). Storing is "set if newer":
  an entry is replaced only by a higher version, so a slow reader that fetched the old row
  before a write cannot put it back after the writer's invalidation.
- A write, once committed and before it is acknowledged, leaves a fence on the book's key:
  ``T<n>`` refuses every version up to ``n`` (the old ones; a deleted book fences all).
- List pages are stored under a list generation that every write increments after commit.
  A reader takes the generation before it queries the database, so a page built from rows
  older than a write is stored under a generation nobody asks for any more.

Everything is namespaced by an epoch. A process that fails to reach the cache (so a write's
fence may be missing) stops using the cache and, when the cache answers again, increments the
epoch before anything else: every entry stored before is abandoned. See docs/performance.md.

Two stores implement the same operations: Redis (one round trip each, Lua scripts, shared by
every worker and host) and Django's cache API (the local-memory default of `make run` and the
SQLite test run; one process, so a lock makes each operation atomic).
"""

import contextlib
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

from core.throttling import count_hit

#: A fence above every version: the book is gone (ids are never reused).
DELETED = 2**62

_ENTRY = b"E"
_FENCE = b"T"


@dataclass(frozen=True)
class Entry:
    """A cached response: its version (1 for list pages, which are never replaced within a
    list generation), headers and body."""

    version: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def etag(self) -> str | None:
        return next((value for name, value in self.headers if name.lower() == "etag"), None)

    def encode(self) -> bytes:
        return b"%s%d\n%s\n%s" % (_ENTRY, self.version, orjson.dumps(self.headers), self.body)

    @classmethod
    def decode(cls, blob: bytes | None) -> "Entry | None":
        """The entry in ``blob``; None for nothing or a fence."""
        if not blob or not blob.startswith(_ENTRY):
            return None
        head, headers, body = blob.split(b"\n", 2)
        return cls(int(head[1:]), [tuple(pair) for pair in orjson.loads(headers)], body)  # type: ignore[misc]


@dataclass(frozen=True)
class Lookup:
    """What one round trip to the cache found: the anon counter, the key and any entry."""

    anon_count: int | None
    key: str
    entry: Entry | None


class Store(Protocol):
    def lookup(self, kind: str, name: str, counter: str | None, counter_ttl: int) -> Lookup: ...

    def store(self, key: str, entry: Entry, ttl: int) -> None: ...

    def books_changed(self, fences: dict[int, int], ttl: int) -> None: ...

    def new_epoch(self) -> None: ...


class CacheUnavailable(Exception):
    """The cache could not be reached; the caller serves from the database."""


# --- Redis --------------------------------------------------------------------------------

# ARGV: prefix, kind ("d" book, "l" list page), name (id or page digest), anon counter key
# ("" for none), its lifetime. Returns {anon count or -1, key, stored value or false}.
_LOOKUP = """
local count = -1
if ARGV[4] ~= '' then
  count = redis.call('INCR', ARGV[4])
  if count == 1 then redis.call('EXPIRE', ARGV[4], ARGV[5]) end
end
local epoch = redis.call('GET', ARGV[1] .. 'epoch') or '0'
local key
if ARGV[2] == 'd' then
  key = ARGV[1] .. 'd:' .. epoch .. ':' .. ARGV[3]
else
  local generation = redis.call('GET', ARGV[1] .. 'lists') or '0'
  key = ARGV[1] .. 'l:' .. epoch .. ':' .. generation .. ':' .. ARGV[3]
end
return {count, key, redis.call('GET', key)}
"""

# KEYS[1]: the key. ARGV: version, value, lifetime, then for a list page the budget's
# counter ("" for none), its limit in bytes and its lifetime. Stored only over an older entry
# or fence, and a list page only while this window's budget (bytes stored) lasts.
_STORE = """
local current = redis.call('GET', KEYS[1])
if current then
  local stored = tonumber(string.match(current, '^[ET](%d+)'))
  if stored and stored >= tonumber(ARGV[1]) then return 0 end
end
if ARGV[4] ~= '' then
  local spent = redis.call('INCRBY', ARGV[4], #ARGV[2])
  if spent == #ARGV[2] then redis.call('EXPIRE', ARGV[4], ARGV[6]) end
  if spent > tonumber(ARGV[5]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""

# ARGV: prefix, lifetime, then id and fence pairs. Raises each book's fence (never lowers
# it, and keeps an entry already newer than the fence), then moves lists to a new generation.
_CHANGED = """
local epoch = redis.call('GET', ARGV[1] .. 'epoch') or '0'
for i = 3, #ARGV, 2 do
  local key = ARGV[1] .. 'd:' .. epoch .. ':' .. ARGV[i]
  local fence = tonumber(ARGV[i + 1])
  local current = redis.call('GET', key)
  local stored = current and tonumber(string.match(current, '^[ET](%d+)'))
  if not stored or stored <= fence then
    redis.call('SET', key, 'T' .. ARGV[i + 1], 'EX', ARGV[2])
  end
end
redis.call('INCR', ARGV[1] .. 'lists')
return 1
"""


class RedisStore:
    """The store on django-redis's connection pool, outside its pickling and key scheme."""

    def __init__(self) -> None:
        client = cache.client.get_client(write=True)  # type: ignore[attr-defined]
        self.client = client
        self.prefix = cache.make_key("rc:")
        self._lookup = client.register_script(_LOOKUP)
        self._store = client.register_script(_STORE)
        self._changed = client.register_script(_CHANGED)

    def _run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        with _health.guard(self):
            try:
                return script(keys=keys, args=args)
            except RedisError as error:
                raise CacheUnavailable(str(error)) from error

    def lookup(self, kind: str, name: str, counter: str | None, counter_ttl: int) -> Lookup:
        counter_key = cache.make_key(counter) if counter else ""
        count, key, blob = self._run(
            self._lookup, [], [self.prefix, kind, name, counter_key, counter_ttl]
        )
        return Lookup(None if count < 0 else int(count), key.decode(), Entry.decode(blob))

    def store(self, key: str, entry: Entry, ttl: int) -> None:
        budget = list_page_budget(key, ttl)
        counter, limit = (self.prefix + budget[0], budget[1]) if budget else ("", 0)
        self._run(self._store, [key], [entry.version, entry.encode(), ttl, counter, limit, 2 * ttl])

    def books_changed(self, fences: dict[int, int], ttl: int) -> None:
        args: list[Any] = [self.prefix, ttl]
        for book_id, fence in fences.items():
            args += [book_id, fence]
        self._run(self._changed, [], args)

    def new_epoch(self) -> None:
        self.client.incr(self.prefix + "epoch")


# --- Django's cache API (local memory) ----------------------------------------------------


class DjangoCacheStore:
    """The same operations on any Django cache; atomic within one process only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def lookup(self, kind: str, name: str, counter: str | None, counter_ttl: int) -> Lookup:
        count = count_hit(counter, counter_ttl) if counter else None
        with _health.guard(self), self._lock:
            epoch = cache.get("rc:epoch", 0)
            if kind == "d":
                key = f"rc:d:{epoch}:{name}"
            else:
                key = f"rc:l:{epoch}:{cache.get('rc:lists', 0)}:{name}"
            return Lookup(count, key, Entry.decode(cache.get(key)))

    @staticmethod
    def _stored_version(blob: bytes | None) -> int | None:
        if not blob:
            return None
        return int(blob[1:].split(b"\n", 1)[0])

    def store(self, key: str, entry: Entry, ttl: int) -> None:
        with _health.guard(self), self._lock:
            stored = self._stored_version(cache.get(key))
            if stored is not None and stored >= entry.version:
                return
            value = entry.encode()
            budget = list_page_budget(key, ttl)
            if budget is not None:
                counter, limit = budget
                spent = int(cache.get_or_set(f"rc:{counter}", 0, 2 * ttl) or 0) + len(value)
                cache.set(f"rc:{counter}", spent, 2 * ttl)
                if spent > limit:
                    return
            cache.set(key, value, ttl)

    def books_changed(self, fences: dict[int, int], ttl: int) -> None:
        with _health.guard(self), self._lock:
            epoch = cache.get("rc:epoch", 0)
            for book_id, fence in fences.items():
                key = f"rc:d:{epoch}:{book_id}"
                stored = self._stored_version(cache.get(key))
                if stored is None or stored <= fence:
                    cache.set(key, b"%s%d" % (_FENCE, fence), ttl)
            try:
                cache.incr("rc:lists")
            except ValueError:
                cache.set("rc:lists", 1, None)

    def new_epoch(self) -> None:
        with self._lock:
            try:
                cache.incr("rc:epoch")
            except ValueError:
                cache.set("rc:epoch", 1, None)


# --- Health: stop trusting the cache after a failure until the epoch has moved -------------


class _Health:
    """Per process: after any failure, entries may lack a fence, so none is trusted again
    until this process has opened a new epoch.

    The next call that reaches the cache opens it; so does a background thread that retries
    twice a second, so that an idle process which failed to fence a write cannot leave other
    processes serving the old version for long (for at most READ_CACHE_TTL, when every entry
    expires anyway, if the cache stays out of this process's reach).
    """

    retry_interval = 0.5

    def __init__(self) -> None:
        self.suspect = False
        self._lock = threading.Lock()
        self._retrying = False

    def guard(self, store: Store) -> "_Guard":
        return _Guard(self, store)

    def renew(self, store: Store) -> None:
        """Open a new epoch if a failure is pending. Raises CacheUnavailable if it can't."""
        if not self.suspect:
            return
        with self._lock:
            if self.suspect:
                try:
                    store.new_epoch()
                except Exception as error:
                    raise CacheUnavailable(str(error)) from error
                self.suspect = False

    def failed(self, store: Store) -> None:
        self.suspect = True
        with self._lock:
            if self._retrying:
                return
            self._retrying = True
        threading.Thread(target=self._retry, args=(store,), daemon=True).start()

    def _retry(self, store: Store) -> None:
        deadline = time.monotonic() + ttl()
        try:
            while self.suspect and time.monotonic() < deadline:
                time.sleep(self.retry_interval)
                with contextlib.suppress(CacheUnavailable):
                    self.renew(store)
        finally:
            self._retrying = False


class _Guard:
    def __init__(self, health: _Health, store: Store) -> None:
        self.health = health
        self.store = store

    def __enter__(self) -> None:
        self.health.renew(self.store)

    def __exit__(self, exc_type: Any, *exc_info: Any) -> None:
        if exc_type is not None:
            self.health.failed(self.store)


_health = _Health()
_store: Store | None = None


def get_store() -> Store:
    global _store
    if _store is None:
        _store = RedisStore() if hasattr(cache, "client") else DjangoCacheStore()
    return _store


def enabled() -> bool:
    return bool(settings.READ_CACHE_ENABLED)


def ttl() -> int:
    return int(settings.READ_CACHE_TTL)


def list_page_budget(key: str, ttl: int, now: float | None = None) -> tuple[str, int] | None:
    """For a list page's key: this window's budget counter (unprefixed) and its limit in bytes;
    None for a book's key or without a limit.

    At most READ_CACHE_LIST_BUDGET_BYTES of list pages are stored per window of
    READ_CACHE_TTL seconds, and each lives at most that long: so at most twice as much is ever
    stored at once, whatever queries clients invent (issue 13, finding 4). The rest are served
    by Django, uncached. Bytes, not pages: a count low enough to bound the largest pages
    turned away ordinary traffic (500 pages left most of the benchmark's 300 searches
    uncached, at a fifth of the rate). Book entries and fences are not counted: there is one
    per book.
    Redis keeps noeviction (docs/security.md): nothing, fences and counters included, is
    ever evicted, and this bound keeps it from filling up."""
    limit = int(settings.READ_CACHE_LIST_BUDGET_BYTES)
    if limit <= 0 or ":rc:l:" not in f":{key}":
        return None
    window = int((time.time() if now is None else now) // max(ttl, 1))
    return f"budget:{window}", limit


#: A fence outlives the entries it guards by this much, so that a reader slower than the TTL
#: (bounded by the server's request timeout) still finds it.
FENCE_MARGIN_SECONDS = 60


# --- Invalidation, called by books.services and the importer -------------------------------


def books_changed(fences: dict[int, int], *, using: str | None = None) -> None:
    """Fence these books (id → highest stale version) and renew the lists, after commit.

    Called inside the writing transaction; runs when it commits (at once outside one), before
    the write is acknowledged. A cache failure never fails the write: it marks the process,
    which then opens a new epoch.
    """

    def invalidate() -> None:
        store = get_store()
        try:
            store.books_changed(fences, ttl() + FENCE_MARGIN_SECONDS)
        except Exception:  # whatever failed, the entries may now lack this write's fence
            _health.failed(store)

    transaction.on_commit(invalidate, using=using)


def book_written(book_id: int, version: int) -> None:
    """A book now stored at ``version``: every older version is stale."""
    books_changed({book_id: version - 1})


def books_deleted(book_ids: Iterable[int]) -> None:
    books_changed(dict.fromkeys(book_ids, DELETED))
