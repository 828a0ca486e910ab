"""The folder broker of `make run`: kombu's filesystem transport, made atomic.

kombu's own transport writes a message file in place, and a consumer may take
the file between its creation and the end of the write: it reads a partial or
empty message (the worker dies on a JSONDecodeError) and the rest of the message
is lost. It also moves taken files to the system temp folder, which on another
file system is a copy that two consumers can both make. Here a producer writes
`<name>.part` and renames it to its final name, so a message appears whole or
not at all, and a consumer claims a message by renaming it into `.claimed/` in
the same folder: a rename succeeds for exactly one consumer.
"""

from __future__ import annotations

import os
import uuid
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

CLAIMED = ".claimed"  # no '<queue>.msg' name: never listed as a message


class Channel(filesystem.Channel):
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
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != f"{queue}.msg":
                continue
            claimed = os.path.join(claimed_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            try:
                with open(claimed, "rb") as file:
                    payload = file.read()
                os.remove(claimed)
            except OSError as exc:
                raise ChannelError(f"Cannot read file {claimed!r} from queue.") from exc
            return loads(bytes_to_str(payload))
        raise Empty()


class Transport(filesystem.Transport):
    Channel = Channel
