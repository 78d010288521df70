"""``/r/<code>`` against a bare Django view that only redirects, side by side on one real
server (PRODUCT.md "Scale and performance": /r/ must keep at least 80% of the bare view's
throughput).

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/redirect.py
        [--seconds 2] [--rounds 10] [--workers 3] [--connections 8] [--port 8765]

Method:
- a database of its own (DATABASE_URL's name + "_redirect_bench", created and migrated on
  first use), one workspace, an active program with a landing URL and one advocate's code;
- gunicorn serving the project's WSGI application (``advocacy.wsgi``) with ``--workers``
  sync workers (3, as docker-compose runs the site), under bench/redirect_settings.py: the
  project's settings and full MIDDLEWARE unchanged; its URLconf (bench/redirect_urls.py)
  adds ``/bare/<code>``, a view that returns ``HttpResponseRedirect`` and nothing else,
  before the site's patterns; the click stream and cache keys are the benchmark's own;
- the code's cache entry is warmed (one request), then a load generator (processes with
  threads, each a keep-alive ``http.client`` connection; gunicorn's sync workers close
  every connection, so each request also opens one, for both views alike) runs ``--rounds``
  rounds of ``--seconds`` seconds per view, alternating bare, r, r, bare, … so drift in the
  machine's load falls on both; every answer must be the expected 302;
- printed: requests/s of each view over all rounds, each round's ratio, and the overall
  ratio /r/ ÷ bare; it exits non-zero under 80%. Then the stream is drained into Postgres
  with ``drain_clicks`` (the figure: clicks written per second; nearly all of them are
  flagged, one IP sending thousands a minute).
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.redirect_settings"
os.environ.setdefault("STATIC_MANIFEST", "0")

from bench.databases import use_bench_database  # noqa: E402

os.environ.setdefault("DEBUG", "0")

HEADERS = {
    "Host": "127.0.0.1",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Referer": "https://social.example/post/123",
    "Accept": "text/html",
}



def _seed() -> str:
    from advocacy.models import Advocate, Workspace
    from advocacy.scoping import scopes_disabled
    from programs.models import Program
    from referrals.models import ReferralCode

    with scopes_disabled():
        Workspace.objects.filter(slug="bench-redirect").delete()
        workspace = Workspace.objects.create(slug="bench-redirect", name="Bench redirect")
        program = Program.objects.create(workspace=workspace, name="Referrals", goal="referrals",
                                         landing_url="https://landing.example/try?utm_source=advocates")
        advocate = Advocate.objects.create(workspace=workspace, email="advocate@bench.example", name="Advocate", stage="active")
        return ReferralCode.objects.create(workspace=workspace, program=program, advocate=advocate, code="BENCH7K9QX").code


# --- load generator -------------------------------------------------------------------------------


def _client_process(port: int, path: str, threads: int, start_at: float, seconds: float, expect: str, out) -> None:
    counts, errors = [0] * threads, []

    def run(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.time() < start_at:
            time.sleep(0.001)
        stop = start_at + seconds
        n = 0
        try:
            while time.time() < stop:
                conn.request("GET", path, headers=HEADERS)
                response = conn.getresponse()
                response.read()
                if response.status != 302 or not response.getheader("Location", "").startswith(expect):
                    errors.append(f"{path}: {response.status} {response.getheader('Location')}")
                    return
                if time.time() <= stop:
                    n += 1
        except Exception as exc:
            errors.append(f"{path}: {exc!r}")
        finally:
            counts[i] = n
            conn.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put((sum(counts), errors[:3]))


def load(port: int, path: str, *, connections: int, seconds: float, expect: str) -> float:
    """Requests per second on ``path`` with ``connections`` concurrent clients."""
    processes = min(connections, max(1, (os.cpu_count() or 2)))
    per = [connections // processes + (1 if i < connections % processes else 0) for i in range(processes)]
    out = multiprocessing.Queue()
    start_at = time.time() + 0.3
    procs = [multiprocessing.Process(target=_client_process, args=(port, path, n, start_at, seconds, expect, out))
             for n in per if n]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    errors = [e for _, errs in results for e in errs]
    if errors:
        raise SystemExit(f"unexpected answers: {errors}")
    return sum(n for n, _ in results) / seconds


# --- the server ---------------------------------------------------------------------------------------


def start_server(port: int, workers: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "advocacy.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--chdir", str(ROOT), "--log-level", "warning"],
        env=os.environ.copy(), start_new_session=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz", headers=HEADERS)
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
        if server.poll() is not None:
            raise SystemExit("gunicorn exited")
    stop_server(server)
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="Length of each measured round per view.")
    parser.add_argument("--rounds", type=int, default=10, help="Rounds per view (alternating bare, r, r, bare, …).")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (docker-compose runs 3).")
    parser.add_argument("--connections", type=int, default=8, help="Concurrent client connections.")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    if not os.environ.get("REDIS_URL"):
        raise SystemExit("REDIS_URL is needed: /r/ is measured with its cache and click buffer in Redis, as in production.")
    use_bench_database("redirect_bench")
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    from referrals import clicks

    call_command("migrate", verbosity=0)
    code = _seed()
    cache.delete_many([f"referrals:code:{code}"])
    redis = clicks._client(clicks.buffer_url())
    redis.delete(clicks.stream_name())

    server = start_server(args.port, args.workers)
    try:
        r_path, bare_path = f"/r/{code}", f"/bare/{code}"
        r_expect = "https://landing.example/try?utm_source=advocates&ref="
        # Warm both paths (and both workers: the cache entry is shared, the code is not).
        load(args.port, r_path, connections=args.connections, seconds=1, expect=r_expect)
        load(args.port, bare_path, connections=args.connections, seconds=1, expect="https://landing.example/try")
        redis.delete(clicks.stream_name())

        bare_runs, r_runs = [], []
        for round_ in range(args.rounds):
            order = [("bare", bare_path), ("r", r_path)] if round_ % 2 == 0 else [("r", r_path), ("bare", bare_path)]
            for name, path in order:
                rate = load(args.port, path, connections=args.connections, seconds=args.seconds,
                            expect=r_expect if name == "r" else "https://landing.example/try")
                (r_runs if name == "r" else bare_runs).append(rate)
            print(f"round {round_ + 1}: bare {bare_runs[-1]:,.0f} req/s, /r/ {r_runs[-1]:,.0f} req/s "
                  f"({r_runs[-1] / bare_runs[-1]:.0%})", flush=True)
    finally:
        stop_server(server)

    bare, r = statistics.fmean(bare_runs), statistics.fmean(r_runs)
    ratio = r / bare
    ratios = sorted(a / b for a, b in zip(r_runs, bare_runs, strict=True))
    print(f"bare redirect: {bare:,.0f} req/s; /r/<code>: {r:,.0f} req/s; ratio {ratio:.0%} "
          f"(rounds {ratios[0]:.0%} to {ratios[-1]:.0%}, median {statistics.median(ratios):.0%}); "
          f"gunicorn {args.workers} sync workers, {args.connections} connections, "
          f"{args.rounds} rounds of {args.seconds:g} s per view, {os.cpu_count()} CPUs")

    buffered = redis.xlen(clicks.stream_name())
    started = time.perf_counter()
    written = clicks.drain_clicks(batch=1000, max_batches=1_000_000)
    took = time.perf_counter() - started
    print(f"drain: {written:,} clicks written from the stream in {took:.2f} s ({written / took:,.0f} clicks/s, "
          f"batches of 1,000); {buffered:,} were buffered")
    redis.delete(clicks.stream_name())
    if ratio < 0.8:
        print("FAIL: /r/ is under 80% of the bare view", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
