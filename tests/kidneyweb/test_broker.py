"""The folder broker under concurrent producers and consumers: every message
delivered once, whole, and no consumer crashes; a message claimed by a consumer
that was killed comes back; a busy consumer takes its next message as soon as it
acknowledges one.

kombu's own filesystem transport fails this test (consumers read half-written
files: JSONDecodeError, and those messages are lost); run it against that one
with `KIDNEYWEB_STRESS_TRANSPORT=kombu.transport.filesystem:Transport`.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection, Queue
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


# kombu keeps exchanges per transport class, not per folder: in one process, each test
# below uses a queue name of its own.
CLAIM_AND_HOLD = """
import sys
import pytest
from kombu import Connection, Queue
from kidneyweb.broker import Transport
folder = sys.argv[1]
options = {"data_folder_in": folder + "/queue", "data_folder_out": folder + "/queue",
           "control_folder": folder + "/control", "polling_interval": 0.01}
with Connection(transport=Transport, transport_options=options) as conn:
    message = conn.SimpleQueue("held").get(timeout=30)  # claimed, never acknowledged
    print(message.payload["scan"], flush=True)
    sys.stdin.read()  # held until the test kills this process
"""


def test_a_message_held_by_a_killed_consumer_is_delivered_again_and_only_then(tmp_path):
    """A worker killed with SIGKILL never gives back what it claimed: the next consumer
    takes it back from .claimed/ (while the holder lives, nobody else gets it)."""
    for sub in ("queue", "control"):
        (tmp_path / sub).mkdir()
    with connection(tmp_path) as conn:
        conn.SimpleQueue("held").put({"scan": 7})
    holder = subprocess.Popen(
        [sys.executable, "-c", CLAIM_AND_HOLD, str(tmp_path), TRANSPORT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert holder.stdout.readline().strip() == "7"
        with connection(tmp_path) as conn:
            queue = conn.SimpleQueue("held")
            with pytest.raises(Empty):  # its holder still lives: not delivered twice
                queue.get(timeout=1.5)  # past ORPHANS_EVERY: the orphans were looked at
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(timeout=30)
            message = queue.get(timeout=30)
            message.ack()
            assert message.payload == {"scan": 7}
            with pytest.raises(Empty):  # acknowledged: gone for good
                queue.get(timeout=1.5)
        assert os.listdir(tmp_path / "queue" / ".claimed") == []
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_a_consumer_with_a_full_prefetch_takes_the_next_message_once_it_acks_one(tmp_path):
    """A worker whose processes are all busy is woken by an acknowledgement, not left
    asleep for the polling interval (here an hour: the test would hang)."""
    for sub in ("queue", "control"):
        (tmp_path / sub).mkdir()
    options = {
        "data_folder_in": str(tmp_path / "queue"),
        "data_folder_out": str(tmp_path / "queue"),
        "control_folder": str(tmp_path / "control"),
        "polling_interval": 3600,
    }
    received = []
    with Connection(transport=symbol_by_name(TRANSPORT), transport_options=options) as conn:
        with conn.SimpleQueue("busy") as queue:
            for number in range(2):
                queue.put({"scan": number})
        busy = Queue("busy", routing_key="busy")
        consumer = conn.Consumer(busy, callbacks=[lambda body, msg: received.append(msg)])
        consumer.qos(prefetch_count=1)  # one process, busy with the first message
        with consumer:
            conn.drain_events(timeout=10)
            assert len(received) == 1
            draining = threading.Thread(target=conn.drain_events, daemon=True)
            draining.start()  # the prefetch is full: it waits
            received[0].ack()  # the pool thread acknowledges the first task
            draining.join(timeout=60)  # a bound for a hang, not a speed check
            assert not draining.is_alive(), "still asleep for the polling interval"
        assert sorted(m.payload["scan"] for m in received) == [0, 1]
        received[1].ack()


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
