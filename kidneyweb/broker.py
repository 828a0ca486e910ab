"""The folder broker of `make run`: kombu's filesystem transport, made atomic.

kombu's own transport writes a message file in place, and a consumer may take
the file between its creation and the end of the write: it reads a partial or
empty message (the worker dies on a JSONDecodeError) and the rest of the message
is lost. It also moves taken files to the system temp folder, which on another
file system is a copy that two consumers can both make. Here a producer writes
`<name>.part` and renames it to its final name, so a message appears whole or
not at all, and a consumer claims a message by renaming it into `.claimed/` in
the same folder: a rename succeeds for exactly one consumer.

A claimed message stays in `.claimed/`, under the process id of its consumer,
until that consumer acknowledges, rejects or gives it back. If the consumer's
process no longer exists (a worker killed with SIGKILL, which runs no clean-up),
the next consumer to look renames the message back into the queue under its old
name, at the head of the queue. The folder broker serves one machine, so a
process id names one process; a dead one can never acknowledge.

A worker whose prefetch is full (all its processes busy) is woken when one of
its tasks is acknowledged, not at the next polling interval: kombu sleeps the
interval after every empty poll, so each worker process sat idle for up to the
interval between two tasks (a 50-file upload took 2.9 s to read where its
tasks took 0.5 s).
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

CLAIMED = ".claimed"  # no '<queue>.msg' name: never listed as a message
ORPHANS_EVERY = 1.0  # seconds between two looks for messages of dead consumers


class Channel(filesystem.Channel):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._claimed: dict[str, str] = {}  # delivery tag -> its file in .claimed/
        self._no_ack_queues: set[str] = set()  # never acknowledged: nothing to give back
        self._orphans_looked_at = float("-inf")

    def _put(self, queue: str, payload: dict, **kwargs) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        path = os.path.join(self.data_folder_out, name)
        try:
            with open(f"{path}.part", "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(f"{path}.part", path)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {path!r} to directory") from exc

    def _get(self, queue: str) -> dict:
        claimed_folder = os.path.join(self.data_folder_in, CLAIMED)
        os.makedirs(claimed_folder, exist_ok=True)
        self._requeue_orphans(claimed_folder)
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != f"{queue}.msg":
                continue
            claimed = os.path.join(claimed_folder, f"{os.getpid()}-{name}")
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            try:
                with open(claimed, "rb") as file:
                    payload = loads(bytes_to_str(file.read()))
                if queue in self._no_ack_queues:
                    os.remove(claimed)
            except OSError as exc:
                raise ChannelError(f"Cannot read file {claimed!r} from queue.") from exc
            if queue not in self._no_ack_queues:
                self._claimed[payload["properties"]["delivery_tag"]] = claimed
            return payload
        raise Empty()

    def _requeue_orphans(self, claimed_folder: str) -> None:
        """Put back in the queue what consumers that no longer exist had claimed."""
        if monotonic() - self._orphans_looked_at < ORPHANS_EVERY:
            return
        self._orphans_looked_at = monotonic()
        for entry in os.listdir(claimed_folder):
            pid, _, name = entry.partition("-")
            if not pid.isdigit() or not name.endswith(".msg") or _process_exists(int(pid)):
                continue
            back = os.path.join(self.data_folder_in, name)  # its old name: the queue's head
            with contextlib.suppress(FileNotFoundError):  # another consumer was first
                os.rename(os.path.join(claimed_folder, entry), back)

    def _unclaim(self, delivery_tag: str) -> None:
        if path := self._claimed.pop(delivery_tag, None):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        self.connection.slot_freed.set()

    def basic_consume(self, queue, no_ack, *args, **kwargs):
        if no_ack:
            self._no_ack_queues.add(queue)
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def basic_get(self, queue, no_ack=False, **kwargs):
        message = super().basic_get(queue, no_ack=no_ack, **kwargs)
        if message is not None and no_ack:
            self._unclaim(message.delivery_tag)
        return message

    def basic_ack(self, delivery_tag, multiple=False):
        super().basic_ack(delivery_tag, multiple=multiple)
        self._unclaim(delivery_tag)

    def basic_reject(self, delivery_tag, requeue=False):
        super().basic_reject(delivery_tag, requeue=requeue)  # requeued: put back first
        self._unclaim(delivery_tag)

    def _restore(self, message) -> None:
        """A message given back unacknowledged (a channel closed with it): queued again."""
        super()._restore(message)
        self._unclaim(message.delivery_tag)


class Transport(filesystem.Transport):
    Channel = Channel

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.slot_freed = threading.Event()  # set by acks, from the worker's pool thread

    def drain_events(self, connection, timeout=None) -> None:
        """kombu's loop (virtual.Transport.drain_events), except its wait: after an
        empty poll it waits the polling interval or until a message is acknowledged,
        whichever comes first; kombu sleeps the interval even when a message was
        waiting and only the worker's full prefetch held it back."""
        started = monotonic()
        interval = self.polling_interval or 0
        if timeout:
            interval = min(interval, timeout)
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                if timeout is not None and monotonic() - started >= timeout:
                    raise TimeoutError() from None  # socket.timeout, as kombu raises
                self.slot_freed.wait(interval)
                self.slot_freed.clear()


def _process_exists(pid: int) -> bool:
    if os.name != "posix":
        return True  # no safe way to ask: leave the message to the recovery job
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
