# One image for the web app, the workers and (later) the scheduler:
#   docker run IMAGE                     -> minddocs serve
#   docker run IMAGE minddocs worker -Q media
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY app app
COPY nodes nodes
COPY graph_runtime graph_runtime
COPY storage storage
COPY ui ui
COPY marketplace marketplace
RUN python -m venv /opt/minddocs && /opt/minddocs/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 minddocs
COPY --from=build /opt/minddocs /opt/minddocs
COPY sample_graphs /opt/minddocs/sample_graphs
ENV PATH=/opt/minddocs/bin:$PATH \
    MINDDOCS_DATA_DIR=/data \
    MINDDOCS_SAMPLES_DIR=/opt/minddocs/sample_graphs \
    MINDDOCS_SERVER__HOST=0.0.0.0
RUN mkdir /data && chown minddocs /data
USER minddocs
WORKDIR /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v1/health')"
CMD ["minddocs", "serve"]
