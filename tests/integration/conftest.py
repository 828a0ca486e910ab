"""Real stack fixtures: gunicorn, a Celery worker (and beat) as separate processes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from support import stack

from scans.roles import CLINICIAN, role_group

pytestmark = pytest.mark.django_db(transaction=True)


def database_url() -> str:
    """The test database, for processes outside this one."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def clinician(django_user_model, password):
    """A user the web processes can log in (they use Django's default hasher)."""
    hasher = PBKDF2PasswordHasher()
    user = django_user_model(username="carol")
    user.password = hasher.encode(password, hasher.salt())
    user.save()
    user.groups.add(role_group(CLINICIAN))
    return user


class Stack:
    """Services started for one test; stopped (and their logs kept) at its end."""

    def __init__(self, tmp_path: Path, broker_url: str, **extra: str):
        self.logs = tmp_path / "logs"
        self.logs.mkdir(parents=True)
        self.media_root = tmp_path / "media"
        extra.setdefault("KIDNEYWEB_TASK_QUEUE", f"test-{uuid.uuid4().hex[:8]}")
        extra.setdefault("KIDNEYWEB_MODELS_DIR", str(settings.MODELS_DIR))
        self.env = stack.stack_env(
            database_url=database_url(),
            broker_url=broker_url,
            media_root=self.media_root,
            **extra,
        )
        self.services: list[stack.Service] = []

    def start(self, service: stack.Service, *, wait: bool = True) -> stack.Service:
        self.services.append(service.start())
        if wait:
            stack.wait_until_ready(service)
        return service

    def web(self) -> stack.Service:
        return self.start(stack.web(self.env, self.logs))

    def worker(self, name: str = "worker", **kwargs) -> stack.Service:
        return self.start(stack.worker(self.env, self.logs, name=name, **kwargs))

    def beat(self) -> stack.Service:
        argv = [str(stack.BIN / "celery"), "-A", "kidneyweb", "beat", "--loglevel=info"]
        argv += ["--schedule", str(self.logs / "beat-schedule")]
        return self.start(stack.Service("beat", argv, self.env, self.logs), wait=False)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def logs_text(self) -> str:
        return "\n".join(f"--- {s.name}\n{s.log()[-4000:]}" for s in self.services)


@pytest.fixture
def make_stack(tmp_path, request):
    stacks: list[Stack] = []

    def make(*, broker_url: str | None = None, **extra: str) -> Stack:
        broker_url = broker_url or settings.CELERY_BROKER_URL
        if not broker_url.startswith("redis://"):
            pytest.skip("integration tests run on Redis: set CELERY_BROKER_URL=redis://...")
        made = Stack(tmp_path / f"stack{len(stacks)}", broker_url, **extra)
        stacks.append(made)
        return made

    yield make
    failed = getattr(request.node, "rep_call", None) and request.node.rep_call.failed
    for made in stacks:
        made.stop()
        if failed:
            print(made.logs_text())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
