"""The hostile corpus against the running stack (gunicorn, a Celery worker, CSRF on):
every file is refused over real HTTP, and web and worker keep serving afterwards."""

from __future__ import annotations

import random

import pytest
from support import stack
from support.corpus import SEED, hostile_corpus, png_slice

from scans.models import Scan

pytestmark = pytest.mark.django_db(transaction=True)


def test_hostile_corpus_is_refused_and_the_stack_stays_up(make_stack, clinician, password):
    services = make_stack()
    web = services.web()
    worker = services.worker()
    browser = stack.Browser(web.url, clinician.username, password)

    for case in hostile_corpus():
        response = browser.upload((case.name, case.data))
        assert response.status_code == 400, case.name
        assert case.reason in response.text, case.name
    broken = browser.session.post(
        f"{web.url}/upload/",
        data=b"--XYZ\r\n" + random.Random(SEED).randbytes(8192),  # headers that never end
        headers={
            "Content-Type": "multipart/form-data; boundary=XYZ",
            "Referer": f"{web.url}/upload/",
            "X-CSRFToken": browser.session.cookies.get("csrftoken", ""),
        },
        timeout=30,
    )
    assert broken.status_code == 400
    assert "could not be read" in broken.text
    assert not Scan.objects.exists()

    scan_id = stack.scan_id_from(browser.upload(("after.png", png_slice())))
    stack.wait_for(
        lambda: Scan.objects.filter(pk=scan_id, status="done").exists(),
        timeout=60,
        what="the good scan after the corpus",
    )

    assert Scan.objects.get(pk=scan_id).status == "done"
    assert web.running and worker.running
