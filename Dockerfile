# kidneyweb: one image for web (gunicorn), worker and beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files are collected into the image and served by WhiteNoise.
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 kidneyweb \
    && mkdir -p /data/media /data/models \
    && chown -R kidneyweb /data /app/var /app/models

USER kidneyweb
EXPOSE 8000
# 3 workers, 30 s timeout: the upload budget (README) is at most 12 s and 450 MB a request.
CMD ["gunicorn", "kidneyweb.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "30", "--access-logfile", "-"]
