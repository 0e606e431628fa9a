# Samvirke in a container: migrates its database, then serves on port 8000.
#
#   docker build -t samvirke .
#   docker run -p 8000:8000 -v samvirke-data:/data -e SAMVIRKE_BASE_URL=https://krise.example.no samvirke
#
# The first start prints a one-time set-up link for the first administrator (docker logs).
# SQLite lives in the /data volume; set SAMVIRKE_DATABASE_URL=postgresql+psycopg://… instead
# to use PostgreSQL. CLI commands run in the same image: docker exec <container> samvirke verify
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SAMVIRKE_DATA_DIR=/data

RUN groupadd --system --gid 10001 samvirke \
 && useradd --system --uid 10001 --gid samvirke --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin samvirke \
 && mkdir /data \
 && chown samvirke:samvirke /data

WORKDIR /app
# Editable install of the copied tree: app/ finds migrations/ next to it, as in a checkout.
# The code stays owned by root, so the running user cannot change it.
COPY . /app
RUN pip install -e .

USER samvirke
VOLUME ["/data"]
EXPOSE 8000

# No curl in the slim image; Python's urllib raises (exit 1) on anything but a 2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# `serve` migrates the database before it starts listening.
CMD ["samvirke", "serve", "--host", "0.0.0.0", "--port", "8000"]
