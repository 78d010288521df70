"""`make demo`: migrate, seed, then run the web server, a Celery worker and the beat
scheduler together; Ctrl-C stops all three.

Without DATABASE_URL/REDIS_URL it runs on SQLite under var/ and kombu's filesystem broker
(no server needed). With them set, the same command runs on Postgres and Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
HOST = os.environ.get("DEMO_HOST", "127.0.0.1")
PORT = os.environ.get("DEMO_PORT", "8000")


def main() -> int:
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    env.setdefault("SITE_URL", f"http://{HOST}:{PORT}")
    env.setdefault("PYTHONUNBUFFERED", "1")
    (ROOT / "var" / "broker").mkdir(parents=True, exist_ok=True)
    (ROOT / "var" / "broker-processed").mkdir(parents=True, exist_ok=True)

    def manage(*args: str) -> None:
        subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True)

    manage("migrate", "--noinput", "-v", "0")
    manage("seed_demo")

    queues = "default,imports,jobs,email,clicks,rollups"
    commands = {
        "web": [PY, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"],
        "worker": [PY, "-m", "celery", "-A", "advocacy", "worker", "-l", "info", "-Q", queues, "--concurrency", "2"],
        "beat": [PY, "-m", "celery", "-A", "advocacy", "beat", "-l", "info"],
    }
    procs = {name: subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True) for name, cmd in commands.items()}

    url = f"http://{HOST}:{PORT}"
    time.sleep(2)
    print(
        f"""
==============================================================================
  Advocacy demo is running: {url}/
    Manager:   manager@example.com / advocacy-demo   ({url}/accounts/login/)
    Viewer:    viewer@example.com / advocacy-demo
    Advocate:  ada@example.com, signs in with an emailed code at {url}/portal/demo/
    Mailbox:   {url}/_mail/   (every email the demo sends, sign-in codes included)
    API docs:  {url}/api/docs/   (create a key: Settings → API keys)
  Web server, Celery worker and beat run together; Ctrl-C stops all of them.
==============================================================================
""",
        flush=True,
    )

    def stop(*_args) -> None:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()  # the main process: Celery then stops its own pool cleanly
        deadline = time.time() + 10
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def interrupted(signum, _frame) -> None:
        print("\nStopping web, worker and beat…", flush=True)
        stop()
        sys.exit(0)

    # Installed explicitly: a shell that starts us in the background may have set SIGINT
    # to "ignore", and Ctrl-C must stop all three whatever started us.
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    while True:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"{name} exited with status {proc.returncode}; stopping the demo.", flush=True)
                stop()
                return proc.returncode or 1
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
