# One image for the web app and the workers:
#   docker run -p 8080:8080 IMAGE                   -> minddocs serve (embedded: SQLite, in-process worker)
#   docker run IMAGE minddocs worker -Q media      -> a worker (set MINDDOCS_REDIS_URL and MINDDOCS_DATABASE_URL)
# Build with the heavy media nodes (transcription, diffusion; CPU torch): --build-arg EXTRAS=media

FROM node:20-bookworm-slim AS web
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --include=dev
# Tailwind compiled once here (as `make install` does), not in every browser
COPY ui ui
RUN node_modules/.bin/tailwindcss --input ui/tailwind.css --output ui/static/tailwind.css --minify

FROM python:3.11-slim-bookworm
ARG EXTRAS=""
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 minddocs
WORKDIR /opt/minddocs
COPY pyproject.toml README.md LICENSE ./
COPY app app
COPY nodes nodes
COPY graph_runtime graph_runtime
COPY storage storage
COPY ui ui
COPY --from=web /src/ui/static ui/static
COPY marketplace marketplace
COPY sample_graphs sample_graphs
COPY --from=web /src/node_modules node_modules
# Editable install: the UI serves the editor's ESM files from node_modules/ beside the sources.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -e ".${EXTRAS:+[$EXTRAS]}"
ENV PATH=/opt/venv/bin:$PATH \
    MINDDOCS_DATA_DIR=/data \
    MINDDOCS_SERVER__HOST=0.0.0.0
RUN mkdir /data && chown minddocs /data
USER minddocs
WORKDIR /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v1/health')"
CMD ["minddocs", "serve"]
