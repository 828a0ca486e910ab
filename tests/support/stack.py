"""The real kidneyweb stack on loopback: web (gunicorn), Celery worker, optional Redis.

Used by the integration tests (tests/integration/), bench/e2e.py and bench/load.py;
``make_run`` starts `make run` itself (tests/deploy/test_make_run.py, bench/e2e.py).
Every part is a separate process started from the project's own commands; nothing
is mocked. Logs go to files in the given folder.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SAMPLE_DIR = ROOT.parent / "shared" / "data" / "kidney-ct-sample"


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
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class Process(NamedTuple):
    parent: int
    name: str
    cpu: float  # CPU seconds used so far
    rss: int  # resident memory now, bytes


def _processes() -> dict[int, Process]:
    """Every process, by pid."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended meanwhile
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        rss = int(fields[21]) * PAGE_SIZE
        table[int(stat.parent.name)] = Process(int(fields[1]), name, ticks / CLOCK_TICKS, rss)
    return table


def _tree(root: int, table: dict[int, Process]) -> list[Process]:
    """A process and all its descendants that are still running."""
    children: dict[int, list[int]] = {}
    for pid, process in table.items():
        children.setdefault(process.parent, []).append(pid)
    stack, tree = [root], []
    while stack:
        pid = stack.pop()
        if pid in table:
            tree.append(table[pid])
        stack.extend(children.get(pid, []))
    return tree


def cpu_seconds(
    roots: dict[str, int], names: dict[str, str] | None = None, alone: dict[str, int] | None = None
) -> dict[str, float]:
    """CPU seconds used so far by each named process tree (``roots``: name -> pid), by
    every process with a given command name (``names``: name -> command, e.g. the
    PostgreSQL server's backends, which are not our children) and by single processes
    without their children (``alone``: name -> pid)."""
    table = _processes()
    totals = {label: sum(p.cpu for p in _tree(root, table)) for label, root in roots.items()}
    for label, command in (names or {}).items():
        totals[label] = sum(p.cpu for p in table.values() if p.name == command)
    for label, pid in (alone or {}).items():
        totals[label] = table[pid].cpu if pid in table else 0.0
    return totals


def rss_mb(roots: dict[str, int]) -> dict[str, float]:
    """Resident memory of each named process tree (name -> pid of its root), in MB: the
    sum over the processes, so pages that forked children share are counted in each."""
    table = _processes()
    return {
        label: round(sum(p.rss for p in _tree(root, table)) / 2**20, 1)
        for label, root in roots.items()
    }


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


class PostgresServer(Service):
    """A private PostgreSQL server on its own port, in a new cluster of its own, which
    a test may stop and start; ``remove()`` stops it and deletes the cluster.

    PostgreSQL refuses to run as root: as root, initdb and the server run as the
    ``postgres`` user, in a new folder under the temporary folder (pytest's folders
    are private to root).
    """

    def __init__(self, log_dir: Path, port: int | None = None):
        self.port = port or free_port()
        self.bin_dir = _postgres_bin_dir()
        # setpriv executes the program in its own process: the pid is the server's.
        as_user = []
        if os.geteuid() == 0:
            as_user = ["setpriv", "--reuid", "postgres", "--regid", "postgres", "--clear-groups"]
        self.folder = Path(tempfile.mkdtemp(prefix="kidneyweb-postgres-"))
        data = self.folder / "data"
        initdb = [*as_user, str(self.bin_dir / "initdb"), "-D", str(data), "-U", "postgres"]
        initdb += ["-A", "trust", "-E", "UTF8", "--locale", "C", "--no-sync"]
        try:
            if as_user:
                shutil.chown(self.folder, "postgres")
            subprocess.run(initdb, check=True, capture_output=True, cwd=self.folder)
        except (OSError, LookupError, subprocess.CalledProcessError):
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        argv = [*as_user, str(self.bin_dir / "postgres"), "-D", str(data), "-p", str(self.port)]
        argv += ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="]
        argv += ["-c", "fsync=off"]  # a throw-away cluster: no need to survive a power cut
        super().__init__(f"postgres-{self.port}", argv, dict(os.environ), log_dir)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> PostgresServer:
        super().start()
        wait_for(self._answers, timeout=30, what="postgres", interval=0.1)
        return self

    def stop(self) -> None:
        """Fast shutdown: sessions are ended at once (SIGTERM waits for clients to leave,
        and web processes keep their connections)."""
        if not self.running:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _answers(self) -> bool:
        _fail_if_dead(self)
        ready = [str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(ready, check=False).returncode == 0


def _postgres_bin_dir() -> Path:
    """The newest installed PostgreSQL's programs (Debian keeps them off the PATH)."""
    installed = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    if installed:
        return max(installed, key=lambda p: int(p.parent.name))
    on_path = shutil.which("postgres")
    if on_path is None:
        raise FileNotFoundError("PostgreSQL's server programs are not installed")
    return Path(on_path).resolve().parent


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
    """Environment for web and worker processes: production settings, local services.
    The file cache (API and login counts) is a folder beside ``media_root``: shared by
    this stack's processes, not by a stack another test runs at the same time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KIDNEYWEB_"))}
    env.update(
        DJANGO_SECRET_KEY="stack-on-loopback-only",
        DJANGO_SECURE_COOKIES="0",  # plain HTTP on loopback
        KIDNEYWEB_ENV_FILE=os.devnull,  # production settings, not the checkout's .env
        DATABASE_URL=database_url,
        MEDIA_ROOT=str(media_root),
        KIDNEYWEB_CACHE_DIR=str(media_root.with_name("cache")),
        PYTHONUNBUFFERED="1",
    )
    env.pop("CELERY_BROKER_URL", None)
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    env.update(extra)
    return env


def bench_parser(doc: str, *, timeout: float) -> argparse.ArgumentParser:
    """The options of every benchmark that starts the stack; the first line of ``doc``
    describes it."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument(
        "--timeout", type=float, default=timeout, help="seconds to wait for scans to be read"
    )
    parser.add_argument(
        "--image",
        type=Path,
        default=SAMPLE_DIR / "Stone",
        help="a JPEG/PNG file or a folder of them (default: the sample's Stone slices)",
    )
    return parser


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the value below which ``fraction`` of them lie."""
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


def load_images(path: Path) -> list[bytes]:
    """The bytes of a JPEG/PNG file, or of the first 200 files of a folder."""
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    return [p.read_bytes() for p in files[:200]]


def prepare_database(env: dict, *, username: str, password: str) -> None:
    """Migrate, record the model versions and create (or reset) a clinician to log in as."""
    manage = [str(BIN / "python"), "manage.py"]
    code = (
        "from django.contrib.auth.models import User\n"
        "from scans.roles import CLINICIAN, role_group\n"
        f"u, _ = User.objects.get_or_create(username={username!r})\n"
        f"u.set_password({password!r}); u.save(); u.groups.add(role_group(CLINICIAN))"
    )
    for command in (["migrate", "--noinput"], ["sync_model_versions"], ["shell", "-c", code]):
        subprocess.run(manage + command, cwd=ROOT, env=env, check=True, capture_output=True)


@dataclass
class Bench:
    """A running bench stack: private redis-server, gunicorn, one Celery worker."""

    web: Service
    worker: Service
    redis: RedisServer
    database_url: str

    def pids(self) -> dict[str, int]:
        return {name: getattr(self, name).process.pid for name in ("web", "worker", "redis")}


@contextmanager
def bench_stack(
    name: str,
    *,
    database_url: str | None,
    web_workers: int,
    username: str,
    password: str,
    **extra: str,
) -> Iterator[Bench]:
    """Start the stack for the benchmark ``name``, with logs in a new temporary folder.

    The database (default: a new SQLite file there) is prepared for ``username``, and
    this process is set up with Django on it too, to read what the stack wrote."""
    import django

    work = Path(tempfile.mkdtemp(prefix=f"kidneyweb-{name}-"))
    database_url = database_url or f"sqlite:///{work / 'db.sqlite3'}"
    services = [RedisServer(work).start()]
    try:
        env = stack_env(
            database_url=database_url,
            broker_url=services[0].url,
            media_root=work / "media",
            **extra,
        )
        prepare_database(env, username=username, password=password)
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "kidneyweb.settings"
        django.setup()
        services.append(web(env, work, workers=web_workers).start())
        services.append(worker(env, work).start())
        for service in services[1:]:
            wait_until_ready(service)
        yield Bench(services[1], services[2], services[0], database_url)
    finally:
        for service in reversed(services):
            service.stop()


@dataclass
class Upload:
    scan_id: int
    sent_at: float  # wall clock (time.time()) when the POST was sent
    seconds: float  # until its answer


@dataclass
class Burst:
    uploads: list[Upload]  # the accepted ones
    errors: list[str]  # one line per refused or failed request
    started: float  # time.perf_counter() at the first POST
    seconds: float  # from the first POST until the last answer


def upload_burst(browsers: Sequence[Browser], images: list[bytes], count: int, *, prefix: str):
    """Upload ``count`` one-file scans, one thread per browser sending one after another."""
    uploads: list[Upload] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(count))

    def client(browser: Browser) -> None:
        for i in counter:
            sent_at, began = time.time(), time.perf_counter()
            try:
                response = browser.upload((f"{prefix}-{i}.jpg", images[i % len(images)]))
                scan_id = scan_id_from(response)
            except Exception as exc:  # a refused or failed request is what this counts
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            with lock:
                uploads.append(Upload(scan_id, sent_at, time.perf_counter() - began))

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Burst(uploads, errors, started, time.perf_counter() - started)


def wait_scans_done(scan_ids: Sequence[int], *, timeout: float, interval: float = 0.05) -> int:
    """Wait until every scan is done or the timeout passes; return how many are done.

    Read from the database (as the status endpoint does), not by polling every scan's
    URL, which would load the web server being measured."""
    from scans.models import Scan

    done = Scan.objects.filter(pk__in=scan_ids, status=Scan.Status.DONE)
    deadline = time.monotonic() + timeout
    while True:
        finished = done.count()
        if finished >= len(scan_ids) or time.monotonic() > deadline:
            return finished
        time.sleep(interval)


# `make run` as a user starts it, in a state folder of its own (database, media,
# broker, .env) on a free port: tests/deploy/test_make_run.py and bench/e2e.py.
PROGRAM_MARKS = {  # how each program of supervisord.conf shows in its command line
    "web": "runserver",
    "worker": "-Q kidneyweb ",
    "heatmaps": "-Q kidneyweb-heatmaps ",
    "beat": " beat ",
}


def _session(session: int) -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process of a session."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # it ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == session:
            found[int(entry.name)] = (int(fields[1]), cmdline)
    return found


@dataclass
class MakeRun:
    url: str
    env: dict
    session: int  # make's pid, the id of the session of everything it started
    log: Path

    def program_pid(self, program: str) -> int | None:
        """The process supervisord started for a program (not that program's children)."""
        processes = _session(self.session)
        for pid, (parent, cmdline) in processes.items():
            if (
                PROGRAM_MARKS[program] in f"{cmdline} "
                and "supervisord" in processes.get(parent, (0, ""))[1]
            ):
                return pid
        return None

    def api_token(self, username: str = "demo") -> str:
        result = subprocess.run(
            [str(BIN / "python"), "manage.py", "create_api_token", username],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return result.stdout.strip()

    def answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/accounts/login/", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False


def new_shell_env(state: Path, **extra: str) -> dict[str, str]:
    """A new shell's environment in this checkout (PATH and HOME only, no venv
    activated), with `.env`, database, media, broker and cache folders under ``state``
    instead of the checkout's own `.env` and `var/`."""
    return {
        "PATH": os.environ["PATH"].replace(f"{ROOT / '.venv' / 'bin'}:", ""),
        "HOME": os.environ.get("HOME", str(state)),
        "KIDNEYWEB_ENV_FILE": str(state / ".env"),
        "DATABASE_URL": f"sqlite:///{state / 'db.sqlite3'}",
        "MEDIA_ROOT": str(state / "media"),
        "KIDNEYWEB_BROKER_DIR": str(state / "broker"),
        "KIDNEYWEB_CACHE_DIR": str(state / "cache"),
        **extra,
    }


@contextmanager
def make_run(state: Path, *, timeout: float = 300, **extra: str) -> Iterator[MakeRun]:
    """Start `make run` in a new session; yield once the site answers and both workers
    are ready; stop it as Ctrl-C does, then kill by pid anything of it still running."""
    port = free_port()
    env = new_shell_env(state, KIDNEYWEB_PORT=str(port), **extra)
    log = state / "make-run.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            ["make", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run = MakeRun(f"http://127.0.0.1:{port}", env, process.pid, log)
    try:
        wait_for(run.answers, timeout=timeout, what="the site of make run", interval=0.2)
        wait_for(
            lambda: all(
                re.search(rf"{name}@\S+ ready\.", log.read_text())
                for name in ("readings", "heatmaps")
            ),
            timeout=timeout,
            what="both workers of make run",
            interval=0.2,
        )
        yield run
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: supervisord stops its programs
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=60)
        for pid in _session(process.pid):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
