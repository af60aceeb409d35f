# syntax=docker/dockerfile:1
# Slim image for the roles that never load a model: camera, streams, sink, db migrate.
# Build from the repository root:
#   docker build -f docker/slim.Dockerfile -t classroom-analytics-slim:0.1.0 .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
COPY docker/constraints.txt docker/slim-requirements.txt /tmp/
COPY pyproject.toml README.md /src/
COPY classroom /src/classroom
COPY schemas /src/schemas
COPY core /src/core
COPY workers /src/workers
COPY streams /src/streams
COPY dashboards /src/dashboards
# The package goes in without its dependencies (torch, dlib, chdb: several GB); these
# roles import only what slim-requirements.txt lists, which tests/deploy checks.
RUN pip install --constraint /tmp/constraints.txt --requirement /tmp/slim-requirements.txt \
    && pip install --no-deps /src

FROM ${PYTHON_IMAGE}
# Faust keeps its table state under the working directory, so the user must own it.
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin classroom \
    && install -d -o classroom -g classroom /var/lib/classroom
COPY --from=build /opt/venv /opt/venv
# HOME=/tmp: library caches (matplotlib, torch) need a writable home, and the root
# filesystem is read-only in the compose stack and the cluster.
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    PYTHONUNBUFFERED=1
WORKDIR /var/lib/classroom
USER 10001:10001
EXPOSE 9100
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CLASSROOM_SERVICE__HTTP_PORT', '9100'), timeout=4)"]
ENTRYPOINT ["classroom"]
CMD ["--help"]
