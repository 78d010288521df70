"""The click buffer of ``/r/<code>``: the request appends, a task writes in batches
(PRODUCT.md "Referrals" and "Scale and performance"; ARCHITECTURE.md habit 8).

With a Redis URL (``CLICK_BUFFER_URL``, by default ``REDIS_URL``), ``record_click`` is one
``XADD`` to the stream ``CLICK_STREAM``: one entry per click, carrying the click's own
UUID, its time, the code and workspace ids, the IP hashed with a secret salt (HMAC-SHA256;
the IP itself is never stored, in the stream or the database), the user agent and referer
(truncated), and whether it is attributed.

``drain_clicks`` (the ``referrals.tasks.drain_clicks`` task every 10 s, or ``manage.py
drain_clicks``) reads the stream through a consumer group: first the entries a consumer
read and never acknowledged for ``CLICK_CLAIM_IDLE_MS`` (a flush worker killed mid-batch:
``XAUTOCLAIM`` hands them over), then new ones (``XREADGROUP``). Each batch is written in
one transaction with ``bulk_create(ignore_conflicts=True)`` keyed by the click's UUID, and
the entries are acknowledged (and deleted from the stream) only after that transaction
commits. So a worker killed before its commit loses nothing (the entries are redelivered)
and one killed between its commit and the ack duplicates nothing (the replayed rows
conflict on their UUIDs and are skipped).

Fraud rule: a click that follows 20 or more clicks from the same hashed IP on the same code
within the 60 seconds before it (counting the clicks already in the database as well as
the batch's) is written ``flagged``; flagged clicks are not counted by the metrics.
Batches are written under a transaction-level advisory lock on PostgreSQL, so two drains
at once count each other's clicks.

Without a Redis URL (the demo: no server to append to) ``record_click`` writes the click
row synchronously in the request, through the same ``write_clicks`` the drain uses; the
same happens, with a warning in the log, when Redis refuses the append, so a Redis outage
costs speed, not clicks.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import socket
import threading
import time
import uuid
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.core.signals import request_finished, setting_changed
from django.db import connection, transaction

from .redirect import Target

log = logging.getLogger(__name__)

FLAG_LIMIT = 20  # more than this many clicks a minute from one hashed IP on one code are flagged
FLAG_WINDOW = timedelta(seconds=60)
USER_AGENT_MAX = 300
REFERER_MAX = 500
_ADVISORY_LOCK = 0x7265665F636C6B  # "ref_clk": serializes batch writes (flag counts)


@dataclass(frozen=True, slots=True)
class ClickData:
    id: uuid.UUID
    at: datetime
    code_id: int
    workspace_id: int
    ip_hash: str
    user_agent: str = ""
    referer: str = ""
    attributed: bool = True


# ---------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Conf:
    buffer_url: str
    stream: str
    group: str
    claim_idle_ms: int
    proxy_count: int
    mac: object  # HMAC-SHA256 keyed with the salt, copied per IP


_conf_cache: list[_Conf] = []


def _conf() -> _Conf:
    """The settings the hot path reads, read once (and again after a settings change)."""
    if not _conf_cache:
        url = getattr(settings, "CLICK_BUFFER_URL", None)
        explicit = getattr(settings, "CLICK_IP_SALT", None)
        salt = (explicit.encode() if explicit
                else hmac.new(settings.SECRET_KEY.encode(), b"referrals.click-ip-salt", hashlib.sha256).digest())
        _conf_cache.append(_Conf(
            buffer_url=settings.REDIS_URL if url is None else url,
            stream=getattr(settings, "CLICK_STREAM", "referrals:clicks"),
            group=getattr(settings, "CLICK_GROUP", "click-writers"),
            claim_idle_ms=getattr(settings, "CLICK_CLAIM_IDLE_MS", 60_000),
            proxy_count=getattr(settings, "REFERRAL_PROXY_COUNT", 0),
            mac=hmac.new(salt, digestmod=hashlib.sha256),
        ))
    return _conf_cache[0]


def _settings_changed(**kwargs) -> None:
    _conf_cache.clear()


setting_changed.connect(_settings_changed, dispatch_uid="referrals.clicks.settings_changed")


def buffer_url() -> str:
    """The Redis URL of the click stream (``CLICK_BUFFER_URL``, by default ``REDIS_URL``);
    empty means no buffer (synchronous writes)."""
    return _conf().buffer_url


def stream_name() -> str:
    return _conf().stream


def group_name() -> str:
    return _conf().group


def claim_idle_ms() -> int:
    """How long an entry stays unacknowledged before another consumer takes it over: longer
    than a batch ever takes to write."""
    return _conf().claim_idle_ms


@lru_cache(maxsize=4)
def _pool(url: str):
    import redis

    return redis.ConnectionPool.from_url(url, socket_timeout=2, socket_connect_timeout=0.5)


@lru_cache(maxsize=4)
def _client(url: str):
    import redis

    return redis.Redis(connection_pool=_pool(url))


def hash_ip(ip: str) -> str:
    """HMAC-SHA256 of the IP with the secret salt (``CLICK_IP_SALT``, or one derived from
    ``SECRET_KEY``): the same IP gives the same hash, and the hash does not give the IP."""
    mac = _conf().mac.copy()
    mac.update((ip or "").encode())
    return mac.hexdigest()


def client_ip(meta) -> str:
    """The visitor's IP: ``REMOTE_ADDR``, or with ``REFERRAL_PROXY_COUNT`` = n trusted
    proxies in front, the n-th address from the right of ``X-Forwarded-For``."""
    proxies = _conf().proxy_count
    if proxies:
        hops = [h.strip() for h in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return meta.get("REMOTE_ADDR", "")


def _clean(text: str, limit: int) -> str:
    return (text or "")[:limit].replace("\x00", "")


# ---------------------------------------------------------------------------------------
# The request side
# ---------------------------------------------------------------------------------------


def record_click(target: Target, *, ip: str, user_agent: str = "", referer: str = "", at: float | None = None,
                 deferred: bool = False) -> None:
    """Buffer one click of ``target`` (one XADD), or write it now without a buffer.

    ``deferred`` (the view): Redis's reply is read when the request finishes
    (``request_finished``, once the response is on its way) rather than now, so the worker
    does not wait for the round trip in between; a refused append is then written to the
    database as without a buffer. Either way the click is confirmed before the worker
    takes its next request."""
    click = (uuid.uuid4().hex, int((time.time() if at is None else at) * 1_000_000), target.code_id,
             target.workspace_id, hash_ip(ip), _clean(user_agent, USER_AGENT_MAX), _clean(referer, REFERER_MAX),
             target.attributed)
    url = buffer_url()
    if url and _appender.send(url, click):
        if not deferred:
            settle_click()
        return
    write_clicks([_click_data(click)])


def _click_data(click: tuple) -> ClickData:
    click_id, micros, code_id, workspace_id, ip_hash, user_agent, referer, attributed = click
    return ClickData(id=uuid.UUID(hex=click_id), at=datetime.fromtimestamp(micros / 1_000_000, tz=UTC), code_id=code_id,
                     workspace_id=workspace_id, ip_hash=ip_hash, user_agent=user_agent, referer=referer,
                     attributed=attributed)


def _bulk(value) -> bytes:
    data = value if isinstance(value, bytes) else str(value).encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


@lru_cache(maxsize=4)
def _xadd_head(stream: str) -> bytes:
    return b"*19\r\n" + _bulk("XADD") + _bulk(stream) + _bulk("*")


_FIELDS = tuple(_bulk(name) for name in "itcwhura")


def _xadd(stream: str, click: tuple) -> bytes:
    """The XADD of one click in Redis's protocol (RESP), fields i t c w h u r a."""
    values = (click[0], click[1], click[2], click[3], click[4], click[5], click[6], int(click[7]))
    return _xadd_head(stream) + b"".join(name + _bulk(v) for name, v in zip(_FIELDS, values, strict=True))


class _Appender(threading.local):
    """This thread's connection to the stream and the click whose XADD awaits its reply."""

    def __init__(self) -> None:
        self.conn = None
        self.key: tuple[str, int] | None = None
        self.pending: tuple | None = None

    def send(self, url: str, click: tuple) -> bool:
        self.settle()
        try:
            if self.key != (url, os.getpid()):
                self.conn = _pool(url).make_connection()  # a connection of this thread (and process) alone
                self.key = (url, os.getpid())
            self.conn.send_packed_command([_xadd(stream_name(), click)], check_health=False)
        except Exception:
            log.warning("click buffer unavailable: writing the click to the database now", exc_info=True)
            self._drop()
            return False
        self.pending = click
        return True

    def settle(self) -> None:
        """Read the reply to the last XADD; if it failed, write that click to the database
        (a click Redis did take as well is written once: the drain skips its UUID)."""
        click, self.pending = self.pending, None
        if click is None:
            return
        try:
            self.conn.read_response()
        except Exception:
            log.warning("click buffer refused a click: writing it to the database now", exc_info=True)
            self._drop()
            write_clicks([_click_data(click)])

    def _drop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.disconnect()
        self.conn, self.key = None, None


_appender = _Appender()


def settle_click(**kwargs) -> None:
    """Confirm this thread's buffered click (connected to ``request_finished``)."""
    if _appender.pending is not None:
        try:
            _appender.settle()
        except Exception:  # the database is down as well: nowhere left to put the click
            log.exception("a click could be neither buffered nor written")


request_finished.connect(settle_click, dispatch_uid="referrals.clicks.settle_click")


# ---------------------------------------------------------------------------------------
# Writing batches
# ---------------------------------------------------------------------------------------


def write_clicks(clicks: Sequence[ClickData]) -> int:
    """Insert ``clicks`` in one transaction (each once: a UUID already written is skipped)
    with the flood rule applied; a click whose code no longer exists is dropped. Returns
    how many rows were new."""
    from .models import Click, ReferralCode

    unique = list({c.id: c for c in clicks}.values())
    if not unique:
        return 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
        codes = dict(ReferralCode.objects.with_scopes_disabled()
                     .filter(id__in={c.code_id for c in unique}).values_list("id", "workspace_id"))
        unique = [c for c in unique if codes.get(c.code_id) == c.workspace_id]
        if not unique:
            return 0
        known = list(
            Click.objects.with_scopes_disabled()
            .filter(
                workspace_id__in={c.workspace_id for c in unique},
                code_id__in={c.code_id for c in unique},
                ip_hash__in={c.ip_hash for c in unique},
                at__gte=min(c.at for c in unique) - FLAG_WINDOW,
                at__lte=max(c.at for c in unique),
            )
            .order_by()
            .values_list("id", "code_id", "ip_hash", "at")
        )
        known_ids = {row[0] for row in known}
        new = [c for c in unique if c.id not in known_ids]
        flagged = _flagged(new, known)
        Click.objects.with_scopes_disabled().bulk_create(
            [
                Click(id=c.id, workspace_id=c.workspace_id, code_id=c.code_id, at=c.at, ip_hash=c.ip_hash,
                      user_agent=_clean(c.user_agent, USER_AGENT_MAX), referer=_clean(c.referer, REFERER_MAX),
                      attributed=c.attributed, flagged=c.id in flagged)
                for c in new
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
    return len(new)


def _flagged(new: list[ClickData], known: list[tuple]) -> set[uuid.UUID]:
    """Ids of the ``new`` clicks preceded by FLAG_LIMIT or more clicks (known or new) of the
    same hashed IP on the same code within FLAG_WINDOW (clicks ordered by time, then id)."""
    series: dict[tuple[int, str], list[tuple[datetime, str, bool]]] = defaultdict(list)
    for click_id, code_id, ip_hash, at in known:
        series[(code_id, ip_hash)].append((at, str(click_id), False))
    for c in new:
        series[(c.code_id, c.ip_hash)].append((c.at, str(c.id), True))
    flagged: set[uuid.UUID] = set()
    for clicks in series.values():
        if len(clicks) <= FLAG_LIMIT:
            continue
        clicks.sort()
        times = [at for at, _, _ in clicks]
        for i, (at, click_id, is_new) in enumerate(clicks):
            if is_new and i - bisect_right(times, at - FLAG_WINDOW) >= FLAG_LIMIT:
                flagged.add(uuid.UUID(click_id))
    return flagged


# ---------------------------------------------------------------------------------------
# Draining the stream
# ---------------------------------------------------------------------------------------


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _decode(fields: dict) -> ClickData:
    f = {_text(k): _text(v) for k, v in fields.items()}
    return ClickData(
        id=uuid.UUID(hex=f["i"]),
        at=datetime.fromtimestamp(int(f["t"]) / 1_000_000, tz=UTC),
        code_id=int(f["c"]),
        workspace_id=int(f["w"]),
        ip_hash=f["h"][:64],
        user_agent=f.get("u", ""),
        referer=f.get("r", ""),
        attributed=f.get("a", "1") == "1",
    )


def ensure_group(client) -> None:
    """The consumer group (and the stream), created from the stream's start if missing."""
    import redis

    try:
        client.xgroup_create(stream_name(), group_name(), id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _flush(client, entries) -> int:
    """Write one batch of stream entries; acknowledge and delete them once committed."""
    ids, clicks = [], []
    for entry_id, fields in entries:
        ids.append(entry_id)
        if not fields:  # deleted from the stream while pending
            continue
        try:
            clicks.append(_decode(fields))
        except (KeyError, ValueError, TypeError):
            log.warning("dropping a malformed click entry %s: %r", entry_id, fields)
    if not ids:
        return 0
    stream, group = stream_name(), group_name()

    def ack() -> None:
        with client.pipeline(transaction=True) as pipe:
            pipe.xack(stream, group, *ids)
            pipe.xdel(stream, *ids)
            pipe.execute()

    with transaction.atomic():
        written = write_clicks(clicks)
        transaction.on_commit(ack)
    return written


def drain_clicks(*, batch: int = 1000, max_batches: int = 100, claim_idle: int | None = None,
                 consumer: str | None = None) -> int:
    """Move buffered clicks into Postgres in batches of ``batch`` (at most ``max_batches``
    per call); returns how many rows were new. Safe to run concurrently and to rerun.

    ``claim_idle`` (ms) overrides ``CLICK_CLAIM_IDLE_MS``: entries pending longer than that
    with another consumer are taken over first. Without a buffer, there is nothing to do."""
    url = buffer_url()
    if not url:
        return 0
    client = _client(url)
    ensure_group(client)
    consumer = consumer or consumer_name()
    idle = claim_idle_ms() if claim_idle is None else claim_idle
    stream, group = stream_name(), group_name()
    written, batches = 0, 0

    start = "0-0"
    while batches < max_batches:
        reply = client.xautoclaim(stream, group, consumer, min_idle_time=idle, start_id=start, count=batch)
        start, entries = reply[0], reply[1]
        if entries:
            written += _flush(client, entries)
            batches += 1
        if _text(start) == "0-0":
            break

    while batches < max_batches:
        reply = client.xreadgroup(group, consumer, {stream: ">"}, count=batch)
        entries = reply[0][1] if reply else []
        if not entries:
            break
        written += _flush(client, entries)
        batches += 1

    _forget_idle_consumers(client, keep=consumer)
    return written


def _forget_idle_consumers(client, *, keep: str) -> None:
    """Remove consumers (past worker processes) that hold nothing and were idle an hour."""
    try:
        for info in client.xinfo_consumers(stream_name(), group_name()):
            name = _text(info["name"])
            if name != keep and not info["pending"] and info["idle"] > 3_600_000:
                client.xgroup_delconsumer(stream_name(), group_name(), name)
    except Exception:
        log.debug("could not tidy the click consumers", exc_info=True)


def pending_clicks() -> int:
    """Entries in the stream not yet written (new or unacknowledged): for monitoring."""
    url = buffer_url()
    return int(_client(url).xlen(stream_name())) if url else 0
