# reader web image: gunicorn serving config.wsgi:application on 0.0.0.0:8000.
# The database schema is not touched here: run `python manage.py migrate` first
# (docker-compose.yml does so in its `migrate` service).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

COPY requirements.txt .
RUN pip install -r requirements.txt

# The code stays owned by root (read-only for the app user); only media is writable.
COPY . .
# collectstatic needs no database or Redis: a throwaway key just satisfies the settings.
RUN SECRET_KEY=collectstatic-only REDIS_CACHE_ENABLED=false python manage.py collectstatic --noinput \
    && mkdir -p /app/media \
    && chown app:app /app/media

ENV MEDIA_ROOT=/app/media \
    GUNICORN_BIND=0.0.0.0:8000

USER app
EXPOSE 8000

CMD ["gunicorn", "-c", "gunicorn.conf.py", "config.wsgi:application"]
