"""The active model version's folder is deleted while the platform serves, then an admin
activates another version. Works on a copy of the shipped models, never on models/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests
from integration.test_pipeline import slices, wait_done
from support import stack

from mlcore import versions
from scans.models import Prediction, Scan
from scans.services.model_versions import model_version_activate

pytestmark = pytest.mark.django_db(transaction=True)


def upload_one(browser) -> int:
    return stack.scan_id_from(browser.upload(*slices(1)))


def test_deleted_model_version_fails_scans_with_a_reason_until_another_is_activated(
    make_stack, clinician, password, tmp_path, settings
):
    shipped = Path(settings.MODELS_DIR)
    active = versions.active_version(shipped)
    other = max(v for v in versions.list_versions(shipped) if v != active)
    models = tmp_path / "models"
    for version in (active, other):
        shutil.copytree(shipped / version, models / version)
    versions.activate(active, models)
    services = make_stack(KIDNEYWEB_MODELS_DIR=str(models), KIDNEYWEB_HEATMAPS="0")
    web = services.web()
    worker = services.worker(concurrency=1)
    browser = stack.Browser(web.url, clinician.username, password)
    before = upload_one(browser)
    wait_done([before])

    shutil.rmtree(models / active)
    # The worker's process loaded the version when it started and still holds it.
    from_memory = upload_one(browser)
    wait_done([from_memory])
    # A process that must load it (a restart, a replaced pool process) cannot.
    worker.stop()
    restarted = services.worker(name="worker2", concurrency=1)
    stranded = [upload_one(browser) for _ in range(3)]
    wait_done(stranded)
    health = requests.get(f"{web.url}/api/v1/health/", timeout=10)

    settings.MODELS_DIR = models
    model_version_activate(version_id=other)  # what the admin action does
    after = upload_one(browser)
    retried = browser.session.post(
        f"{web.url}/scans/{stranded[0]}/retry/",
        data={"csrfmiddlewaretoken": browser.session.cookies.get("csrftoken")},
        headers={"Referer": f"{web.url}/scans/{stranded[0]}/"},
        allow_redirects=False,
    )
    wait_done([after, stranded[0]])

    def reading(scan_id: int) -> tuple[str, str | None]:
        scan = Scan.objects.select_related("prediction").get(pk=scan_id)
        return scan.status, scan.prediction and scan.prediction.model_version_id

    assert reading(before) == reading(from_memory) == ("done", active)
    reason = f"Model version {active} cannot be loaded"
    for scan_id in stranded[1:]:
        scan = Scan.objects.get(pk=scan_id)
        assert scan.status == "failed"
        assert scan.failure_reason.startswith(reason)
        assert str(models) not in scan.failure_reason  # no server path shown to users
        assert browser.status(scan_id)["failure_reason"] == scan.failure_reason
    assert f"No model loaded at start: {reason}" in restarted.log()
    assert health.status_code == 503
    assert health.json()["model"] == {
        "ok": False,
        "detail": f"The active version {active} has no files (or no metadata.json).",
        "version": active,
    }
    assert retried.status_code == 302
    assert reading(after) == reading(stranded[0]) == ("done", other)
    assert Prediction.objects.filter(scan_id=stranded[0]).count() == 1
