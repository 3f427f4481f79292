# One image for the web app, the workers and the scheduler (docs/deploy.md; compose.yaml runs them together):
#   docker run -p 8080:8080 -v minddocs-data:/data IMAGE          -> minddocs serve (embedded: SQLite, in-process worker)
#   docker run IMAGE minddocs worker -Q default -Q documents      -> a worker (set MINDDOCS_REDIS_URL and _DATABASE_URL)
#   docker run IMAGE minddocs scheduler                           -> schedules and watched folders
# Build with the heavy media nodes (transcription, diffusion): docker build --build-arg EXTRAS=media -t minddocs .
# Checked by tests/test_deploy.py (hadolint, and the rules below); keep the base images on fixed tags.

# --- 1. the browser libraries and the compiled Tailwind stylesheet -------------------------------------------------
FROM node:20-bookworm-slim AS web
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --include=dev
COPY ui ui
# Tailwind compiled once here (as `make install` does), not in every browser; then the build tools go
RUN node_modules/.bin/tailwindcss --input ui/tailwind.css --output ui/static/tailwind.css --minify \
 && npm prune --omit=dev --no-audit --no-fund

# --- 2. the Python dependencies, in a layer that only pyproject.toml changes rebuild -----------------------------
FROM python:3.11-slim-bookworm AS python-deps
ARG EXTRAS=""
# e.g. a CPU-only PyTorch wheel index for a smaller EXTRAS=media image without a GPU
ARG PIP_EXTRA_INDEX_URL=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml /tmp/pyproject.toml
COPY scripts/pyproject_deps.py /tmp/pyproject_deps.py
RUN python -m venv /opt/venv \
 && python /tmp/pyproject_deps.py /tmp/pyproject.toml "$EXTRAS" > /tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt ${PIP_EXTRA_INDEX_URL:+--extra-index-url "$PIP_EXTRA_INDEX_URL"}

# --- 3. the image that runs ----------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm
ARG EXTRAS=""
LABEL org.opencontainers.image.title="MindDocs" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later" \
      io.minddocs.extras="$EXTRAS"
# Debian's current versions of Tesseract (OCR) and its English and Spanish data; pinning them would break the
# build at each Debian point release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 minddocs \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/minddocs minddocs \
 && mkdir /data && chown 10001:10001 /data
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MINDDOCS_DATA_DIR=/data \
    MINDDOCS_SERVER__HOST=0.0.0.0 \
    MINDDOCS_SERVER__PORT=8080
COPY --from=python-deps /opt/venv /opt/venv
WORKDIR /opt/minddocs
COPY pyproject.toml README.md LICENSE ./
COPY app app
COPY nodes nodes
COPY graph_runtime graph_runtime
COPY storage storage
COPY marketplace marketplace
COPY ui ui
COPY sample_graphs sample_graphs
COPY --from=web /src/ui/static ui/static
COPY --from=web /src/node_modules node_modules
# Editable install (no dependencies: stage 2 has them): the UI serves the editor's ESM files from node_modules/
# beside the sources.
RUN pip install --no-cache-dir --no-deps -e . && minddocs --help > /dev/null
USER 10001:10001
WORKDIR /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('MINDDOCS_SERVER__PORT', '8080'), timeout=4)"]
CMD ["minddocs", "serve"]
