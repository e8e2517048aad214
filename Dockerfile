# syntax=docker/dockerfile:1.7
#
# One image for every process of the platform; the command chooses the role:
#   web     gunicorn smarter.asgi:application -k uvicorn_worker.UvicornWorker (the default CMD)
#   worker  celery --app=smarter worker
#   beat    celery --app=smarter beat
#   migrate python -m django migrate --noinput

# --- node: the chat's browser libraries (markdown-it, DOMPurify, highlight.js) from npm -----
FROM node:20-slim AS node
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# --- builder: compilers and headers, a virtual environment with the project and its wheels ----
# Both SQL drivers are installed: an SqlConnection may name MySQL or PostgreSQL.
FROM python:3.11-slim AS builder

# PyTorch's CPU index: the local embedding model needs torch's CPU build only, which is a tenth
# of the size of the CUDA build PyPI serves for Linux.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu \
    PYTHONDONTWRITEBYTECODE=1

# Debian's own versions are pinned by the base image's release; pinning them again here would
# break the build at each security update.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends default-libmysqlclient-dev pkg-config gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md* ./
COPY smarter ./smarter
# The versions are those of pyproject.toml; pip resolves them there.
# hadolint ignore=DL3013
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install ".[mysql,postgres]" \
    && pip check

# --- runtime: the interpreter, the MariaDB client library and the virtual environment ---------
FROM python:3.11-slim AS runtime

LABEL org.opencontainers.image.title="Smarter" \
      org.opencontainers.image.description="Multi-tenant platform to build, test and deploy LLM chatbots" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later"

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 smarter \
    && useradd --system --uid 10001 --gid smarter --home-dir /var/lib/smarter --no-create-home \
       --shell /usr/sbin/nologin smarter

COPY --from=builder /opt/venv /opt/venv
# The settings serve node_modules/ beside the installed `smarter` package under /static/vendor/
# (smarter/settings.py, VENDOR_STATIC): only the browser builds are copied, for collectstatic.
ARG NODE_MODULES=/opt/venv/lib/python3.11/site-packages/node_modules
COPY --from=node /src/node_modules/markdown-it/dist/browser ${NODE_MODULES}/markdown-it/dist/browser
COPY --from=node /src/node_modules/dompurify/dist ${NODE_MODULES}/dompurify/dist
COPY --from=node /src/node_modules/@highlightjs/cdn-assets ${NODE_MODULES}/@highlightjs/cdn-assets

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=smarter.settings \
    SMARTER_STATE_DIR=/var/lib/smarter

WORKDIR /var/lib/smarter

# Static files are collected once, here. The throwaway keys only let the settings load for this
# command, so that no generated key is left in the image.
RUN SMARTER_SECRET_KEY=collectstatic-only-not-a-secret \
    SMARTER_FERNET_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    python -m django collectstatic --noinput --verbosity 0 \
    && rm -f /var/lib/smarter/secret_key /var/lib/smarter/fernet_key /var/lib/smarter/smarter.sqlite3 \
    && chown -R smarter:smarter /var/lib/smarter

USER 10001:10001

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# The server itself trusts no proxy header (an empty --forwarded-allow-ips): the application
# believes X-Forwarded-For only from SMARTER_TRUSTED_PROXIES (smarter/lib/client_address.py).
CMD ["gunicorn", "smarter.asgi:application", "--worker-class=uvicorn_worker.UvicornWorker", "--config=python:smarter.gunicorn_conf", "--bind=0.0.0.0:8000", "--workers=2", "--access-logfile=-", "--forwarded-allow-ips="]
