"""The folder broker under concurrent producers and consumers: every message
delivered once, whole, and no consumer crashes.

kombu's own filesystem transport fails this test (consumers read half-written
files: JSONDecodeError, and those messages are lost); run it against that one
with `KIDNEYWEB_STRESS_TRANSPORT=kombu.transport.filesystem:Transport`.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from queue import Empty

from kombu import Connection
from kombu.utils.imports import symbol_by_name

PRODUCERS = 4
CONSUMERS = 2
MESSAGES_PER_PRODUCER = 750
# About the size of a Celery task message, so that a write is not instantaneous.
PADDING = "x" * 2000
TRANSPORT = os.environ.get("KIDNEYWEB_STRESS_TRANSPORT", "kidneyweb.broker:Transport")


def connection(folder: Path) -> Connection:
    return Connection(
        transport=symbol_by_name(TRANSPORT),
        transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "polling_interval": 0.01,  # consumers wait on the producers, as busy workers do
        },
    )


def produce(folder: Path, producer: int) -> None:
    with connection(folder) as conn:
        queue = conn.SimpleQueue("stress")
        for number in range(MESSAGES_PER_PRODUCER):
            queue.put({"id": f"{producer}-{number}", "padding": PADDING})


def consume(folder: Path, consumer: int) -> None:
    """Write each message's id to a file of its own; stop once producers are done and
    the queue is empty. Any exception ends the process with a non-zero code."""
    with connection(folder) as conn, open(folder / f"consumed-{consumer}", "w") as out:
        queue = conn.SimpleQueue("stress")
        while True:
            try:
                message = queue.get(timeout=0.2)
            except Empty:
                if (folder / "produced").exists():
                    return
                continue
            assert message.payload["padding"] == PADDING, "a partial message"
            out.write(message.payload["id"] + "\n")
            out.flush()
            message.ack()


def test_no_message_is_lost_duplicated_or_half_read(tmp_path):
    for sub in ("queue", "control"):
        (tmp_path / sub).mkdir()
    fork = multiprocessing.get_context("fork")
    consumers = [fork.Process(target=consume, args=(tmp_path, n)) for n in range(CONSUMERS)]
    producers = [fork.Process(target=produce, args=(tmp_path, n)) for n in range(PRODUCERS)]
    for process in consumers + producers:
        process.start()
    for process in producers:
        process.join(timeout=300)
    assert [process.exitcode for process in producers] == [0] * PRODUCERS
    (tmp_path / "produced").touch()
    deadline = time.monotonic() + 120
    for process in consumers:
        process.join(timeout=max(1, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()

    consumed = [
        line
        for n in range(CONSUMERS)
        for line in (tmp_path / f"consumed-{n}").read_text().splitlines()
    ]
    expected = {f"{p}-{n}" for p in range(PRODUCERS) for n in range(MESSAGES_PER_PRODUCER)}
    assert [process.exitcode for process in consumers] == [0] * CONSUMERS, "a consumer crashed"
    assert len(consumed) == len(set(consumed)), "a message was delivered twice"
    assert set(consumed) == expected, f"{len(expected - set(consumed))} messages lost"


def test_celery_uses_the_atomic_folder_broker_by_default(tmp_path):
    """Without CELERY_BROKER_URL (a fresh machine) Celery sends through kidneyweb.broker;
    asked in a new process, as the settings decide it once at import."""
    import os
    import subprocess
    import sys

    from django.conf import settings

    env = {key: value for key, value in os.environ.items() if key != "CELERY_BROKER_URL"}
    env["KIDNEYWEB_BROKER_DIR"] = str(tmp_path)
    code = (
        "import django; django.setup()\n"
        "from kidneyweb.celery import app\n"
        "with app.connection_for_write() as conn: print(type(conn.transport).__module__)"
    )
    answer = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert answer.stdout.strip().splitlines()[-1] == "kidneyweb.broker"
