"""The real kidneyweb stack on loopback: web (gunicorn), Celery worker, optional Redis.

Used by the integration tests (tests/integration/) and bench/e2e.py. Every part
is a separate process started from the project's own commands; nothing is
mocked. Logs go to files in the given folder.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check, *, timeout: float, what: str, interval: float = 0.05):
    """Poll ``check()`` until it returns something truthy; TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"Timed out after {timeout:g} s waiting for {what}.")
        time.sleep(interval)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, str, float]]:
    """Every process: pid -> (parent pid, command name, CPU seconds used so far)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended meanwhile
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        table[int(stat.parent.name)] = (int(fields[1]), name, ticks / CLOCK_TICKS)
    return table


def cpu_seconds(
    roots: dict[str, int], names: dict[str, str] | None = None, alone: dict[str, int] | None = None
) -> dict[str, float]:
    """CPU seconds used so far by each named process tree (``roots``: name -> pid), by
    every process with a given command name (``names``: name -> command, e.g. the
    PostgreSQL server's backends, which are not our children) and by single processes
    without their children (``alone``: name -> pid)."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    totals = {}
    for label, root in roots.items():
        stack, total = [root], 0.0
        while stack:
            pid = stack.pop()
            total += table.get(pid, (0, "", 0.0))[2]
            stack.extend(children.get(pid, []))
        totals[label] = total
    for label, command in (names or {}).items():
        totals[label] = sum(cpu for _, name, cpu in table.values() if name == command)
    for label, pid in (alone or {}).items():
        totals[label] = table.get(pid, (0, "", 0.0))[2]
    return totals


class Service:
    """One child process with its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: dict, log_dir: Path):
        self.name, self.argv, self.env = name, list(argv), env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Service:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() reaches its children
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (the worker's pool processes included)."""
        if self.running:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if not self.running:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


class RedisServer(Service):
    """A private redis-server on its own port, which a test may stop and start."""

    def __init__(self, log_dir: Path, port: int | None = None):
        self.port = port or free_port()
        executable = shutil.which("redis-server")
        if executable is None:
            raise FileNotFoundError("redis-server is not installed")
        argv = [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(log_dir)]
        super().__init__(f"redis-{self.port}", argv, dict(os.environ), log_dir)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        super().start()
        wait_for(self._answers, timeout=10, what="redis-server")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def web(env: dict, log_dir: Path, *, port: int | None = None, workers: int = 2) -> Service:
    """gunicorn serving kidneyweb.wsgi; ``service.url`` is its base URL."""
    port = port or free_port()
    argv = [str(BIN / "gunicorn"), "kidneyweb.wsgi", "--bind", f"127.0.0.1:{port}"]
    argv += ["--workers", str(workers), "--access-logfile", "-", "--graceful-timeout", "5"]
    service = Service(f"web-{port}", argv, env, log_dir)
    service.url = f"http://127.0.0.1:{port}"
    return service


def worker(env: dict, log_dir: Path, *, name: str = "worker", concurrency: int | None = None):
    argv = [str(BIN / "celery"), "-A", "kidneyweb", "worker", "--loglevel=info"]
    argv += ["--hostname", f"{name}@%h", "--without-gossip", "--without-mingle"]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    return Service(name, argv, env, log_dir)


def wait_until_ready(service: Service, *, timeout: float = 60) -> None:
    """Web: answers HTTP. Worker: logged that it is ready."""
    if hasattr(service, "url"):

        def check():
            _fail_if_dead(service)
            try:
                return requests.get(f"{service.url}/accounts/login/", timeout=1).ok
            except requests.RequestException:  # not listening yet, or still starting
                return False

    else:

        def check():
            _fail_if_dead(service)
            return re.search(r"\bready\.", service.log())

    wait_for(check, timeout=timeout, what=service.name, interval=0.1)


def _fail_if_dead(service: Service) -> None:
    if not service.running:
        raise RuntimeError(f"{service.name} exited:\n{service.log()[-3000:]}")


class Browser:
    """A logged-in HTTP session against the web service (CSRF handled)."""

    def __init__(self, base_url: str, username: str, password: str):
        self.base = base_url
        self.session = requests.Session()
        self.session.get(f"{self.base}/accounts/login/", timeout=10)
        response = self.session.post(
            f"{self.base}/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": self._csrf()},
            headers={"Referer": f"{self.base}/accounts/login/"},
            timeout=10,
        )
        if "/accounts/login/" in response.url:  # a failed login renders the form again
            raise RuntimeError(f"Login failed for {username}: {response.status_code}")

    def _csrf(self) -> str:
        return self.session.cookies.get("csrftoken", "")

    def upload(self, *files: tuple[str, bytes], note: str = "") -> requests.Response:
        """POST files to /upload/ and return the response (redirects not followed)."""
        return self.session.post(
            f"{self.base}/upload/",
            data={"note": note, "csrfmiddlewaretoken": self._csrf()},
            files=[("files", (name, data)) for name, data in files],
            headers={"Referer": f"{self.base}/upload/"},
            allow_redirects=False,
            timeout=60,
        )

    def status(self, scan_id: int) -> dict:
        response = self.session.get(f"{self.base}/scans/{scan_id}/status/", timeout=10)
        response.raise_for_status()
        return response.json()


def scan_id_from(response: requests.Response) -> int:
    """The scan id in the redirect of a one-file upload."""
    match = re.search(r"/scans/(\d+)/", response.headers.get("Location", ""))
    if response.status_code != 302 or not match:
        raise RuntimeError(f"Upload was not accepted: {response.status_code} {response.text[:300]}")
    return int(match.group(1))


def stack_env(*, database_url: str, broker_url: str | None, media_root: Path, **extra: str) -> dict:
    """Environment for web and worker processes: production settings, local services."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KIDNEYWEB_"))}
    env.update(
        DJANGO_SECRET_KEY="stack-on-loopback-only",
        DJANGO_SECURE_COOKIES="0",  # plain HTTP on loopback
        DATABASE_URL=database_url,
        MEDIA_ROOT=str(media_root),
        PYTHONUNBUFFERED="1",
    )
    env.pop("CELERY_BROKER_URL", None)
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    env.update(extra)
    return env
