"""Upload over HTTP, read by a real Celery worker process, through the configured broker
(Redis in CI, the folder broker elsewhere). No eager mode here."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from factories import encode, synthetic_slice
from PIL import Image
from support import stack

from mlcore.inference import load_classifier
from scans.models import Prediction, Scan

pytestmark = pytest.mark.django_db(transaction=True)


def wait_done(scan_ids, timeout=60.0):
    def all_finished():
        finished = Scan.objects.filter(pk__in=scan_ids, status__in=["done", "failed"]).count()
        return finished == len(scan_ids)

    stack.wait_for(all_finished, timeout=timeout, what=f"{len(scan_ids)} scans", interval=0.1)


def slices(n: int) -> list[tuple[str, bytes]]:
    return [(f"slice-{i}.png", encode(synthetic_slice(i % 4, i, size=96))) for i in range(n)]


def large_slices(n: int) -> list[tuple[str, bytes]]:
    slices_ = []
    for i in range(n):
        image = synthetic_slice(i % 4, i, size=64).resize((3000, 3000), Image.Resampling.BILINEAR)
        slices_.append((f"large-{i}.jpg", encode(image, "JPEG", quality=90)))
    return slices_


def upload_each(browser, files) -> list[int]:
    return [stack.scan_id_from(browser.upload(f)) for f in files]


def test_upload_returns_queued_and_a_worker_reads_it_like_mlcore(
    make_stack, clinician, password, sample_dir
):
    services = make_stack()
    web = services.web()
    browser = stack.Browser(web.url, clinician.username, password)
    data = (sample_dir / "Cyst" / "Cyst- (390).jpg").read_bytes()

    # No worker yet: the answer cannot have waited for the model (no timing needed).
    scan_id = stack.scan_id_from(browser.upload(("Cyst- (390).jpg", data)))
    first = browser.status(scan_id)
    services.worker()
    wait_done([scan_id])

    assert first["status"] == "queued"
    scan = Scan.objects.select_related("prediction").get(pk=scan_id)
    assert scan.status == "done"
    assert browser.status(scan_id)["label"] == scan.prediction.label
    expected = load_classifier().classify(data)
    assert scan.prediction.label == expected.label
    for name, probability in expected.probabilities.items():
        assert scan.prediction.probabilities[name] == pytest.approx(probability, abs=1e-5)


def test_burst_of_uploads_is_read_exactly_once_each(make_stack, clinician, password):
    services = make_stack()
    web = services.web()
    worker = services.worker(concurrency=2)
    browser = stack.Browser(web.url, clinician.username, password)

    scan_ids = upload_each(browser, slices(20))
    wait_done(scan_ids)

    assert Scan.objects.filter(pk__in=scan_ids, status="done").count() == 20
    assert Prediction.objects.filter(scan__in=scan_ids).count() == 20
    # The model was loaded once per pool process, at start, not per task.
    assert worker.log().count("Model version 20") == 2


def test_worker_process_killed_mid_task_still_reads_every_scan_once(
    make_stack, clinician, password
):
    services = make_stack()
    web = services.web()
    worker = services.worker(concurrency=1)
    browser = stack.Browser(web.url, clinician.username, password)
    # Large slices (3000x3000 JPEG): decoding one takes tens of milliseconds, time
    # enough to kill the process in the middle of reading it.
    scan_ids = upload_each(browser, large_slices(30))

    # Kill the pool process while it is reading a scan (the scan is 'processing'). A
    # kill can still land just after a reading: try again until the worker reports a
    # task lost in the middle.
    # A reading takes ~30 ms: when a kill missed and the pool read every scan before
    # the next try, upload another batch to kill it in.
    interrupted = []
    for _ in range(10):
        if not Scan.objects.filter(pk__in=scan_ids).exclude(status="done").exists():
            scan_ids += upload_each(browser, large_slices(30))
        children = subprocess.run(
            ["pgrep", "-P", str(worker.process.pid)], capture_output=True, text=True
        ).stdout.split()
        try:
            interrupted += stack.wait_for(
                lambda: list(Scan.objects.filter(status="processing").values_list("pk", flat=True)),
                timeout=20,
                what="a scan in processing",
                interval=0.001,
            )
        except TimeoutError:
            continue  # every scan was read before one was seen processing: try again
        for pid in children:
            subprocess.run(["kill", "-KILL", pid], check=False)
        time.sleep(1.0)
        if "WorkerLostError" in worker.log():
            break
    wait_done(scan_ids, timeout=120)

    assert "WorkerLostError" in worker.log()  # it died in the middle of a task
    assert Scan.objects.filter(pk__in=scan_ids, status="done").count() == len(scan_ids)
    assert Prediction.objects.filter(scan__in=scan_ids).count() == len(scan_ids)
    assert all(Scan.objects.get(pk=pk).status == "done" for pk in interrupted)


def test_whole_worker_killed_then_beat_recovers_the_scans(make_stack, clinician, password):
    services = make_stack(
        KIDNEYWEB_REQUEUE_AFTER="3", KIDNEYWEB_REQUEUE_EVERY="1", KIDNEYWEB_VISIBILITY_TIMEOUT="600"
    )
    web = services.web()
    worker = services.worker(concurrency=1)
    browser = stack.Browser(web.url, clinician.username, password)
    scan_ids = upload_each(browser, slices(30))
    stack.wait_for(
        lambda: Scan.objects.filter(status="processing").exists(),
        timeout=60,
        what="a scan in processing",
        interval=0.002,
    )
    worker.kill(signal.SIGKILL)  # parent and pool: nobody acknowledges, nobody rejects
    stranded = Scan.objects.filter(pk__in=scan_ids).exclude(status="done").count()

    services.worker(name="worker2", concurrency=1)
    services.beat()
    wait_done(scan_ids, timeout=120)

    assert stranded > 0
    assert Scan.objects.filter(pk__in=scan_ids, status="done").count() == 30
    assert Prediction.objects.filter(scan__in=scan_ids).count() == 30


def test_upload_while_the_broker_is_down_is_kept_and_read_once_it_is_back(
    make_stack, clinician, password, tmp_path
):
    try:
        redis = stack.RedisServer(tmp_path).start()
    except FileNotFoundError:
        pytest.skip("redis-server is not installed")
    try:
        services = make_stack(
            broker_url=redis.url, KIDNEYWEB_REQUEUE_AFTER="2", KIDNEYWEB_REQUEUE_EVERY="1"
        )
        web = services.web()
        services.worker()
        browser = stack.Browser(web.url, clinician.username, password)
        redis.stop()

        started = time.perf_counter()
        scan_id = stack.scan_id_from(browser.upload(*slices(1)))
        answered = time.perf_counter() - started
        time.sleep(3)
        assert Scan.objects.get(pk=scan_id).status == "queued"

        redis.start()
        services.beat()
        wait_done([scan_id], timeout=90)

        assert answered < 15  # the upload did not hang on the dead broker
        assert Scan.objects.get(pk=scan_id).status == "done"
        assert Prediction.objects.filter(scan_id=scan_id).count() == 1
    finally:
        redis.stop()


def test_redelivered_task_for_a_done_scan_changes_nothing(make_stack, clinician, password):
    services = make_stack()
    web = services.web()
    worker = services.worker()
    browser = stack.Browser(web.url, clinician.username, password)
    scan_id = stack.scan_id_from(browser.upload(*slices(1)))
    wait_done([scan_id])
    done_at = Scan.objects.get(pk=scan_id).done_at

    send = f"from scans.tasks import classify_scan; [classify_scan.delay({scan_id}) for _ in '12']"
    subprocess.run(
        [str(stack.BIN / "python"), "manage.py", "shell", "-c", send],
        cwd=stack.ROOT,
        env=services.env,
        check=True,
        capture_output=True,
    )
    stack.wait_for(
        lambda: worker.log().count("succeeded") >= 3, timeout=60, what="the redelivered tasks"
    )

    assert Prediction.objects.filter(scan_id=scan_id).count() == 1
    assert Scan.objects.get(pk=scan_id).done_at == done_at


@pytest.mark.parametrize("problem", ["no active version", "corrupt model file"])
def test_missing_or_corrupt_model_fails_the_scan_with_a_reason(
    make_stack, clinician, password, tmp_path, problem
):
    models = tmp_path / "models"
    models.mkdir()
    if problem == "corrupt model file":
        (models / "v1").mkdir()
        (models / "v1" / "metadata.json").write_text('{"version": "v1", "input_size": [96, 96, 3]}')
        (models / "v1" / "model.tflite").write_bytes(b"not a flatbuffer")
        (models / "ACTIVE").write_text("v1\n")
    services = make_stack(KIDNEYWEB_MODELS_DIR=str(models))
    web = services.web()
    services.worker()
    browser = stack.Browser(web.url, clinician.username, password)

    scan_id = stack.scan_id_from(browser.upload(*slices(1)))
    wait_done([scan_id])

    scan = Scan.objects.get(pk=scan_id)
    assert scan.status == "failed"
    expected = "No model version is active" if problem == "no active version" else "v1 cannot be"
    assert expected in scan.failure_reason
    assert browser.status(scan_id)["failure_reason"] == scan.failure_reason
    assert browser.session.get(f"{web.url}/").ok  # the web stays up
