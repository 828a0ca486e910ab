from __future__ import annotations

import os

from celery import Celery

from kidneyweb.env_file import load_env_file

load_env_file()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kidneyweb.settings")

app = Celery("kidneyweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
