"""The click buffer: ``/r/<code>`` appends to a Redis stream, ``drain_clicks`` writes
batches to Postgres and acknowledges only after commit, so a killed flush worker loses and
duplicates nothing; the flood rule flags more than 20 clicks a minute from one hashed IP on
one code (referrals/clicks.py)."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from referrals import clicks
from referrals.clicks import ClickData, drain_clicks, hash_ip, write_clicks
from referrals.models import Click
from tests.factories import AdvocateFactory

from .test_redirect import make_code

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the click buffer needs Redis (REDIS_URL)"),
]

T0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
IP = "203.0.113.9"


@pytest.fixture
def code(tenant_a):
    return make_code(tenant_a.workspace, advocate=tenant_a.advocate)


@pytest.fixture
def redis():
    client = clicks._client(clicks.buffer_url())
    client.delete(clicks.stream_name())  # the suite empties the cache's Redis db per test; be sure
    yield client
    client.delete(clicks.stream_name())


@pytest.fixture
def drain(django_capture_on_commit_callbacks):
    """drain_clicks as the task runs it: its acks run when its transaction commits (here,
    the test's transaction stands in for the database's)."""
    def run(**kwargs) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return drain_clicks(**kwargs)
    return run


def rows() -> list[Click]:
    return list(Click.objects.with_scopes_disabled().order_by("at", "id"))


def visit(client, code, *, at=T0, ip=IP, **headers):
    with time_machine.travel(at, tick=False):
        response = client.get(f"/r/{code.code}", REMOTE_ADDR=ip, **headers)
    assert response.status_code == 302
    return response


def pending(redis) -> int:
    return redis.xpending(clicks.stream_name(), clicks.group_name())["pending"]


# --- the request appends, the drain writes ------------------------------------------------------


def test_a_click_is_appended_to_the_stream_not_written_in_the_request(client, code, redis):
    visit(client, code)

    assert rows() == []
    assert redis.xlen(clicks.stream_name()) == 1


def test_the_drain_writes_the_click_with_a_hashed_ip_and_truncated_headers(client, code, redis, drain):
    visit(client, code, HTTP_USER_AGENT="Mozilla/5.0 " + "u" * 1000, HTTP_REFERER="https://social.example/" + "r" * 1000)
    entry = redis.xrange(clicks.stream_name())[0][1]
    assert IP.encode() not in b"".join(entry.values())  # the stream never holds the IP either

    assert drain() == 1

    [click] = rows()
    assert click.code_id == code.pk and click.workspace_id == code.workspace_id
    assert click.at == T0
    assert click.ip_hash == hash_ip(IP) and len(click.ip_hash) == 64 and IP not in click.ip_hash
    assert click.ip_hash != hash_ip("203.0.113.10")
    assert click.user_agent == ("Mozilla/5.0 " + "u" * 1000)[:300]
    assert click.referer == ("https://social.example/" + "r" * 1000)[:500]
    assert click.attributed and not click.flagged
    assert redis.xlen(clicks.stream_name()) == 0 and pending(redis) == 0  # acked and deleted


def test_the_ip_hash_is_keyed_by_a_secret_salt(settings):
    default = hash_ip(IP)
    settings.CLICK_IP_SALT = "another-secret"

    assert hash_ip(IP) != default and len(hash_ip(IP)) == 64
    import hashlib
    assert hash_ip(IP) != hashlib.sha256(IP.encode()).hexdigest()


def test_a_nul_in_the_headers_does_not_break_the_batch(client, code, redis, drain):
    visit(client, code, HTTP_USER_AGENT="bad\x00agent", HTTP_REFERER="https://x.example/\x00")

    assert drain() == 1
    assert rows()[0].user_agent == "badagent"


def test_a_click_on_a_paused_program_is_recorded_as_not_attributed(client, tenant_a, redis, drain):
    code = make_code(tenant_a.workspace, status="paused")
    visit(client, code)

    drain()

    assert [c.attributed for c in rows()] == [False]


def test_a_head_request_is_not_a_click(client, code, redis):
    client.head(f"/r/{code.code}")

    assert redis.xlen(clicks.stream_name()) == 0


def test_the_drain_is_idempotent(client, code, redis, drain):
    for i in range(3):
        visit(client, code, ip=f"198.51.100.{i}")

    assert drain() == 3
    assert drain() == 0
    assert drain() == 0
    assert len(rows()) == 3


def test_the_drain_writes_in_batches_of_the_size_asked(client, code, redis, drain):
    for i in range(7):
        visit(client, code, ip=f"198.51.100.{i}", at=T0 + timedelta(seconds=i))

    assert drain(batch=3) == 7
    assert len(rows()) == 7


def test_acks_wait_for_the_commit(client, code, redis, django_capture_on_commit_callbacks):
    """Inside a transaction that has not committed, nothing is acknowledged: if it rolled
    back, the entries would be delivered again."""
    for i in range(2):
        visit(client, code, ip=f"198.51.100.{i}")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        drain_clicks()

    assert pending(redis) == 2 and len(callbacks) == 1
    callbacks[0]()
    assert pending(redis) == 0 and redis.xlen(clicks.stream_name()) == 0


def test_the_task_and_the_command_drain_the_buffer(client, code, redis, django_capture_on_commit_callbacks):
    from referrals.tasks import drain_clicks as task

    visit(client, code, ip="198.51.100.1")
    with django_capture_on_commit_callbacks(execute=True):
        assert task.delay().get() == 1
    visit(client, code, ip="198.51.100.2")

    from io import StringIO
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("drain_clicks", stdout=out)

    assert out.getvalue().startswith("1 new click written;")
    assert len(rows()) == 2


def test_the_drain_runs_every_ten_seconds_on_the_clicks_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["drain-clicks"]

    assert entry["task"] == "referrals.tasks.drain_clicks"
    assert entry["schedule"] == 10.0 and entry["options"]["queue"] == "clicks"
    assert "clicks" in settings.CELERY_TASK_QUEUES_NAMES


# --- a killed flush worker ---------------------------------------------------------------------


def _buffer(client, code, n: int) -> None:
    for i in range(n):
        visit(client, code, ip=f"198.51.100.{i}", at=T0 + timedelta(seconds=i))


def test_a_worker_killed_before_its_commit_loses_no_click(client, code, redis, drain):
    """Worker 1 reads a batch and dies before writing it: the entries stay pending with it,
    and the next drain takes them over (XAUTOCLAIM) and writes each once."""
    _buffer(client, code, 5)
    clicks.ensure_group(redis)
    [(_, delivered)] = redis.xreadgroup(clicks.group_name(), "worker-1", {clicks.stream_name(): ">"}, count=100)
    assert len(delivered) == 5 and pending(redis) == 5
    # … worker-1 is killed here.

    assert drain(claim_idle=0) == 5

    assert len(rows()) == 5
    assert len({c.id for c in rows()}) == 5
    assert pending(redis) == 0 and redis.xlen(clicks.stream_name()) == 0


def test_a_worker_killed_mid_batch_inside_its_transaction_loses_no_click(client, code, redis, drain, monkeypatch):
    _buffer(client, code, 5)
    real = clicks.write_clicks

    def dies(batch):
        real(batch[:2])  # written in the batch's transaction, which the crash rolls back
        raise SystemExit("worker killed")

    monkeypatch.setattr(clicks, "write_clicks", dies)
    with pytest.raises(SystemExit):
        drain()
    monkeypatch.setattr(clicks, "write_clicks", real)
    assert rows() == [] and pending(redis) == 5

    assert drain(claim_idle=0) == 5

    assert len(rows()) == 5 and pending(redis) == 0


def test_a_worker_killed_between_its_commit_and_its_ack_duplicates_no_click(client, code, redis, drain, monkeypatch):
    """Worker 1 writes and commits its batch, then dies before the XACK: the entries are
    delivered again and their UUIDs, already written, insert nothing."""
    _buffer(client, code, 5)
    monkeypatch.setattr(clicks.transaction, "on_commit", lambda callback, **kwargs: None)  # the ack never runs
    assert drain_clicks(consumer="worker-1") == 5
    assert len(rows()) == 5 and pending(redis) == 5
    monkeypatch.undo()

    assert drain() == 0  # not idle long enough: a live worker's batch is not taken over
    assert drain(claim_idle=0) == 0  # taken over: nothing new to write

    assert len(rows()) == 5
    assert pending(redis) == 0 and redis.xlen(clicks.stream_name()) == 0


def test_a_worker_killed_after_committing_part_of_the_buffer(client, code, redis, drain, monkeypatch):
    """Of 12 clicks, worker 1 commits a batch of 5 and dies before acking; new clicks arrive;
    the next drain writes the 7 others and the 5 again are skipped: 12 rows exactly."""
    _buffer(client, code, 5)
    monkeypatch.setattr(clicks.transaction, "on_commit", lambda callback, **kwargs: None)
    assert drain_clicks(consumer="worker-1", batch=5, max_batches=1) == 5
    monkeypatch.undo()
    for i in range(7):
        visit(client, code, ip=f"192.0.2.{i}", at=T0 + timedelta(seconds=10 + i))

    assert drain(claim_idle=0, batch=4) == 7

    assert len(rows()) == 12
    assert Click.objects.with_scopes_disabled().values("id").distinct().count() == 12
    assert pending(redis) == 0


@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_write_each_click_once(tenant_a, redis):
    """Real threads on Postgres: two consumers split the stream; every click is written
    once and acked after each thread's own commit."""
    code = make_code(tenant_a.workspace, advocate=tenant_a.advocate)
    target = __import__("referrals.redirect", fromlist=["resolve_code"]).resolve_code(code.code)
    for i in range(300):
        clicks.record_click(target, ip=f"10.0.{i // 250}.{i % 250}", at=T0.timestamp() + i)
    written, errors = [], []

    def work(name):
        try:
            written.append(drain_clicks(batch=25, consumer=name))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sum(written) == 300
    assert Click.objects.with_scopes_disabled().count() == 300
    assert pending(redis) == 0 and redis.xlen(clicks.stream_name()) == 0


# --- poison entries ---------------------------------------------------------------------------------


def test_a_click_whose_code_was_deleted_is_dropped_not_stuck(client, tenant_a, redis, drain):
    gone = make_code(tenant_a.workspace)
    kept = make_code(tenant_a.workspace)
    visit(client, gone)
    visit(client, kept)
    gone.delete()

    assert drain() == 1

    assert [c.code_id for c in rows()] == [kept.pk]
    assert pending(redis) == 0 and redis.xlen(clicks.stream_name()) == 0


def test_a_malformed_entry_is_dropped_and_the_rest_written(client, code, redis, drain):
    visit(client, code)
    redis.xadd(clicks.stream_name(), {"i": "not-a-uuid", "t": "x"})
    redis.xadd(clicks.stream_name(), {"junk": "1"})

    assert drain() == 1

    assert len(rows()) == 1 and redis.xlen(clicks.stream_name()) == 0


# --- the flood rule -------------------------------------------------------------------------------


def test_25_clicks_in_a_minute_from_one_ip_on_one_code_flag_the_5_beyond_20(client, code, redis, drain):
    for i in range(25):
        visit(client, code, at=T0 + timedelta(seconds=2 * i))
    visit(client, code, ip="192.0.2.1", at=T0 + timedelta(seconds=5))

    drain()

    mine = [c for c in rows() if c.ip_hash == hash_ip(IP)]
    assert len(mine) == 25
    assert [c.flagged for c in mine] == [False] * 20 + [True] * 5
    assert not [c for c in rows() if c.ip_hash == hash_ip("192.0.2.1") and c.flagged]
    assert Click.objects.with_scopes_disabled().filter(flagged=False).count() == 21  # flagged ones are not counted


def test_the_same_ip_on_another_code_is_counted_apart(client, tenant_a, code, redis, drain):
    other = make_code(tenant_a.workspace)
    for i in range(20):
        visit(client, code, at=T0 + timedelta(seconds=i))
        visit(client, other, at=T0 + timedelta(seconds=i))

    drain()

    assert not Click.objects.with_scopes_disabled().filter(flagged=True).exists()


def test_the_window_is_sixty_seconds_back_from_each_click(redis, code, drain):
    """20 clicks at 0..19 s: a click at 60 s has 19 within the minute before it (not
    flagged); one at 59.999 s has 20 (flagged)."""
    def click(at):
        return ClickData(id=uuid.uuid4(), at=at, code_id=code.pk, workspace_id=code.workspace_id, ip_hash=hash_ip(IP))

    write_clicks([click(T0 + timedelta(seconds=s)) for s in range(20)])
    on_time = click(T0 + timedelta(seconds=60))
    early = click(T0 + timedelta(seconds=59, microseconds=999_000))

    write_clicks([on_time])
    assert not Click.objects.with_scopes_disabled().get(pk=on_time.id).flagged

    write_clicks([early])
    assert Click.objects.with_scopes_disabled().get(pk=early.id).flagged


def test_clicks_already_in_the_database_count_towards_the_flood(client, code, redis, drain):
    for i in range(15):
        visit(client, code, at=T0 + timedelta(seconds=i))
    drain()
    for i in range(15, 25):
        visit(client, code, at=T0 + timedelta(seconds=i))

    drain(batch=4)

    assert [c.flagged for c in rows()] == [False] * 20 + [True] * 5


def test_a_redelivered_batch_does_not_count_its_own_clicks_twice(client, code, redis, drain, monkeypatch):
    for i in range(15):
        visit(client, code, at=T0 + timedelta(seconds=i))
    monkeypatch.setattr(clicks.transaction, "on_commit", lambda callback, **kwargs: None)
    drain_clicks(consumer="worker-1")
    monkeypatch.undo()

    drain(claim_idle=0)

    assert len(rows()) == 15 and not any(c.flagged for c in rows())


def test_a_slow_stream_of_clicks_is_never_flagged(client, code, redis, drain):
    for i in range(40):
        visit(client, code, at=T0 + timedelta(seconds=3.1 * i))

    drain()

    assert not any(c.flagged for c in rows())


# --- without a buffer -------------------------------------------------------------------------------


def test_without_redis_the_click_is_written_in_the_request(client, code, settings, redis):
    """The demo (no REDIS_URL): no buffer to append to, so the view writes the row itself."""
    settings.REDIS_URL = ""

    visit(client, code, HTTP_USER_AGENT="demo")

    [click] = rows()
    assert click.ip_hash == hash_ip(IP) and click.user_agent == "demo" and click.at == T0
    assert drain_clicks() == 0
    assert redis.xlen(clicks.stream_name()) == 0


def test_without_redis_the_flood_rule_still_applies(client, code, settings, redis):
    settings.REDIS_URL = ""

    for i in range(22):
        visit(client, code, at=T0 + timedelta(seconds=i))

    assert [c.flagged for c in rows()] == [False] * 20 + [True] * 2


def test_a_buffer_that_refuses_the_append_falls_back_to_writing_the_click(client, code, settings, redis):
    settings.CLICK_BUFFER_URL = "redis://127.0.0.1:1/0"

    visit(client, code)

    assert len(rows()) == 1


# --- the visitor's IP behind proxies ------------------------------------------------------------------


def test_behind_one_trusted_proxy_the_forwarded_address_is_hashed(client, code, settings, redis, drain):
    settings.REFERRAL_PROXY_COUNT = 1

    visit(client, code, ip="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    visit(client, code, ip="10.0.0.1", at=T0 + timedelta(seconds=1))  # no header: the peer

    drain()

    assert [c.ip_hash for c in rows()] == [hash_ip("198.51.100.7"), hash_ip("10.0.0.1")]


def test_without_trusted_proxies_a_forwarded_header_is_ignored(client, code, redis, drain):
    visit(client, code, ip="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4")

    drain()

    assert rows()[0].ip_hash == hash_ip("10.0.0.1")


def test_a_departed_advocates_click_is_kept_as_not_attributed(client, tenant_a, redis, drain):
    code = make_code(tenant_a.workspace, advocate=AdvocateFactory(workspace=tenant_a.workspace, stage="opted_out"))
    visit(client, code)

    drain()

    assert [c.attributed for c in rows()] == [False]


def test_an_append_redis_refuses_is_written_when_the_request_finishes(client, code, settings, redis):
    """The view reads the XADD's reply after the response (request_finished); an error
    reply (here: the stream's key holds a string) sends the click to the database."""
    settings.CLICK_STREAM = "referrals:not-a-stream"
    redis.set("referrals:not-a-stream", "x")
    try:
        visit(client, code)
    finally:
        redis.delete("referrals:not-a-stream")

    [click] = rows()
    assert click.ip_hash == hash_ip(IP) and click.at == T0
