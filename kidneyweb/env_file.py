"""The local `.env` of a checkout, loaded before the settings by every entry point.

`make run` writes `.env` once (debug on, a generated secret key, the embedded
database and broker) so that `manage.py`, the Celery app and gunicorn started
from a new shell read the same settings as `make run`. Variables already in the
environment win over the file. This is the one place outside settings.py that
reads the environment: it must run before settings.py does.
"""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

DEFAULT_ENV_FILE = Path(__file__).resolve().parent.parent / ".env"


def load_env_file() -> None:
    """Fill unset variables from $KIDNEYWEB_ENV_FILE (default: the checkout's `.env`)."""
    load_dotenv(os.getenv("KIDNEYWEB_ENV_FILE") or DEFAULT_ENV_FILE, override=False)
