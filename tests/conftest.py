from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import django
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone
from factories import NEW, OLD, SHIPPED, encode, synthetic_slice, write_blocks, write_dataset

# Settings refuse to start without a secret key unless DJANGO_DEBUG=1, and tests run with
# DEBUG off, as in production. pytest-django would import settings before this file loads
# if DJANGO_SETTINGS_MODULE were in pyproject.toml, so both are set here instead.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kidneyweb.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key")
# Not the checkout's .env of `make run` (debug on, its database): tests, and the
# processes they start, see only what they set.
os.environ.setdefault("KIDNEYWEB_ENV_FILE", os.devnull)
# The test client and the test servers speak plain HTTP (tests/security checks the
# production redirect with `check --deploy`).
os.environ.setdefault("DJANGO_SSL_REDIRECT", "0")
# Tasks the tests send through the folder broker must not wait in var/broker for the
# next `make run` worker.
os.environ.setdefault("KIDNEYWEB_BROKER_DIR", tempfile.mkdtemp(prefix="kidneyweb-test-broker-"))
# Nor may the API and login counts of one test process land in the file cache of
# `make run` or of another test process running beside it.
os.environ.setdefault("KIDNEYWEB_CACHE_DIR", tempfile.mkdtemp(prefix="kidneyweb-test-cache-"))
# Now, not in pytest_configure: conftest files below this one import models at their top.
django.setup()

from scans.models import Diagnosis, ModelVersion, Prediction, Scan  # noqa: E402


def pytest_configure() -> None:
    # The default hasher is slow on purpose; tests only need logins to work.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# What CI's second leg adds to the first (.ci/run): PostgreSQL, with Redis for the
# servers tests start on it, and the real CT sample. A test reaches them only through
# these fixtures (or pytest-django's django_db mark); the folder broker, the cache and
# every other service a test needs it starts on its own, the same in both legs.
SERVICE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
        "live_server",
        "sample_dir",
    }
)


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--services-only",
        action="store_true",
        help="run only the tests that reach the database or the real CT sample "
        "(CI's second leg; the first ran every other test without them)",
    )


def reaches_services(item: pytest.Item) -> bool:
    fixtures = set(getattr(item, "fixturenames", ()))
    return bool(fixtures & SERVICE_FIXTURES) or item.get_closest_marker("django_db") is not None


def pytest_collection_modifyitems(config, items) -> None:
    if not config.getoption("services_only"):
        return
    kept, dropped = [], []
    for item in items:
        (kept if reaches_services(item) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


SERVICES_BEFORE = pytest.StashKey[dict[str, str]]()


def service_addresses() -> dict[str, str]:
    """Where this process sends tasks and queries right now."""
    from celery import current_app
    from django.db import connection

    from kidneyweb.celery import app

    database = connection.settings_dict
    return {
        # Celery prefers the environment variable to its setting: a change of either,
        # even one the other hides on this machine, shows on another.
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", ""),
        "broker_url": app.conf["broker_url"],
        "broker_transport": str(app.conf["broker_transport"]),  # wins over the URL's scheme
        # Shared tasks (scans.tasks) are sent by the current app, not by kidneyweb's.
        "current_app": current_app.main,
        "database": " ".join(str(database[key]) for key in ("ENGINE", "HOST", "PORT", "NAME")),
    }


@pytest.fixture(autouse=True)
def record_service_addresses(request) -> None:
    """Where the services are as the test starts (the test database is set up by then)."""
    request.node.stash[SERVICES_BEFORE] = service_addresses()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A test that points Celery or the database elsewhere (an outage test) must point
    them back: a broker left at a dead address once failed later tests only on
    machines without CELERY_BROKER_URL, far from the test that caused it. Checked once
    every fixture, monkeypatch's undo included, is torn down."""
    result = yield
    before = item.stash.get(SERVICES_BEFORE, None)
    if before is not None:
        after = service_addresses()
        if nextitem is None:  # the last test's teardown also ends the test database
            del before["database"], after["database"]
        if after != before:
            pytest.fail(f"the test left the services changed: {before} -> {after}")
    return result


@pytest.fixture
def password() -> str:
    return "correct horse battery staple"


def user_in_role(username: str, password: str, role: str):
    """A user made as staff make one (scans.services.accounts.user_create): the role's
    flags and group come from the service, not restated here."""
    from scans.services.accounts import user_create

    return user_create(
        username=username, role=role, password=password, email=f"{username}@example.org"
    )


@pytest.fixture
def alice(db, password):
    """A clinician."""
    return user_in_role("alice", password, "clinician")


@pytest.fixture
def bob(db, password):
    """Another clinician."""
    return user_in_role("bob", password, "clinician")


@pytest.fixture
def rita(db, password):
    """A reviewer."""
    return user_in_role("rita", password, "reviewer")


@pytest.fixture
def adam(db, password):
    """An admin."""
    return user_in_role("adam", password, "admin")


@pytest.fixture
def dataset_dir(tmp_path) -> Path:
    return write_dataset(tmp_path / "download" / "CT-KIDNEY" / "images")


@pytest.fixture(scope="session")
def tiny_training(tmp_path_factory):
    """One real training run, one epoch on tiny synthetic data with one broken file.

    Returns the TrainResult and the lines it logged; shared by the whole session, so
    tests must not change what it wrote.
    """
    from mlcore.training import TrainConfig, train

    base = tmp_path_factory.mktemp("tiny")
    data_dir = write_dataset(base / "data")
    (data_dir / "Stone" / "Stone- (3).jpg").write_bytes(b"\xff\xd8\xff garbage")
    config = TrainConfig(
        data_dirs=(data_dir,),
        models_dir=base / "models",
        epochs=1,
        batch_size=8,
        image_size=32,
        val_fraction=0.34,
    )
    lines: list[str] = []
    return train(config, log=lines.append), lines


@pytest.fixture(scope="session")
def tiny_version(tiny_training) -> Path:
    return tiny_training[0].version_dir


@pytest.fixture(scope="session")
def view_members(tmp_path_factory):
    """Two real one-epoch networks trained on every slice of the same data, one
    reading the whole masked slice and one the crop around the body: the members of
    a version of two views (mlcore.ensembles). Returns the data folder, the two
    recipes and the two version folders."""
    from dataclasses import replace

    from mlcore.training import TrainConfig, train

    base = tmp_path_factory.mktemp("views")
    data_dir = write_blocks(base / "data")
    common = {"epochs": 1, "batch_size": 8, "image_size": 32, "average_last": 1}
    configs = [
        TrainConfig((data_dir,), base / "models", body_mask=True, **common),
        TrainConfig((data_dir,), base / "models", body_mask=True, body_crop=True, **common),
    ]
    members = [
        train(replace(config, val_fraction=0.0), log=lambda line: None).version_dir
        for config in configs
    ]
    return data_dir, configs, members


@pytest.fixture
def sample_dir() -> Path:
    """The real kidney CT sample, when the machine has it."""
    path = os.environ.get("KIDNEY_SAMPLE_DIR")
    if not path or not Path(path).is_dir():
        pytest.skip("KIDNEY_SAMPLE_DIR is not set to the real sample")
    return Path(path)


@pytest.fixture
def eager_tasks():
    """Celery tasks run in the calling process (unit tests only; integration tests use a
    real worker). Uploads enqueue after commit, so wrap the request in
    ``django_capture_on_commit_callbacks(execute=True)`` when the test's transaction
    never commits."""
    from kidneyweb.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture(autouse=True)
def default_language():
    """Every test starts and ends in the default language. The test client runs
    LocaleMiddleware in the test's own thread, and the language it activates for a
    request (Indonesian, from a cookie or a header) stays active there after the
    response: a later test's command then answered in Indonesian, depending only on
    which test ran before it."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test stores uploads in its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def png_bytes() -> bytes:
    return encode(synthetic_slice(0, 1, size=64))


@pytest.fixture
def make_scan(db, png_bytes) -> Callable[..., Scan]:
    """A stored scan in any state, without running the model."""

    def make(
        owner,
        *,
        status: str = Scan.Status.DONE,
        label: str = "Cyst",
        confidence: float = 0.9,
        reading_state: str = "confident",
        name: str = "slice.png",
        note: str = "",
        uploaded_at: datetime | None = None,
    ) -> Scan:
        uploaded_at = uploaded_at or timezone.now()
        scan = Scan(
            owner=owner,
            original_name=name,
            image_format="PNG",
            size_bytes=len(png_bytes),
            sha256="0" * 64,
            width=64,
            height=64,
            note=note,
            status=status,
            uploaded_at=uploaded_at,
            queued_at=uploaded_at,
        )
        scan.image.save("scan.png", ContentFile(png_bytes), save=False)
        scan.thumbnail.save("thumbnail.png", ContentFile(png_bytes), save=False)
        if status == Scan.Status.FAILED:
            scan.failure_reason = "The image cannot be read: test reason."
        scan.save()
        if status == Scan.Status.DONE:
            version, _ = ModelVersion.objects.get_or_create(id="test-version")
            rest = (1 - confidence) / 3
            probabilities = {n: (confidence if n == label else rest) for n in Diagnosis.values}
            scan.prediction = Prediction.objects.create(
                scan=scan,
                model_version=version,
                label=label,
                confidence=confidence,
                probabilities=probabilities,
                uncertain=reading_state == "uncertain",
                out_of_distribution=reading_state == "not_a_ct",
                milliseconds=2.5,
            )
            scan.done_at = uploaded_at + timedelta(seconds=1)
            scan.save()
        return scan

    return make


@pytest.fixture
def two_versions(settings, tmp_path) -> Path:
    """A models folder holding two shipped versions (linked, not copied)."""
    root = tmp_path / "models"
    root.mkdir()
    for version in (OLD, NEW):
        (root / version).symlink_to(SHIPPED / version)
    (root / "ACTIVE").write_text(f"{OLD}\n")
    settings.MODELS_DIR = root
    return root
