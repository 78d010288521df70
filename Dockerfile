# The production image: one image for web (gunicorn), worker and beat (docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=advocacy.settings \
    VAR_DIR=/app/var

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. The project's code is
# run from /app (pyproject installs no packages, only the dependencies).
COPY pyproject.toml ./
RUN pip install . && rm -rf build *.egg-info

COPY . .

# Static files with hashed names (STATIC_MANIFEST=1), collected at build time so every
# container (web, worker, beat) has the manifest; web collects again on start.
RUN useradd --system --uid 10001 --home-dir /app advocacy \
    && mkdir -p /app/var \
    && STATIC_MANIFEST=1 DEBUG=0 python manage.py collectstatic --noinput -v 0 \
    && chown -R advocacy:advocacy /app/var

USER advocacy
EXPOSE 8000

CMD ["gunicorn", "advocacy.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--access-logfile", "-", "--forwarded-allow-ips", "*"]
