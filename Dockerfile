# syntax=docker/dockerfile:1
# One image for every Pingan process: `pingan migrate | worker | api | simulate` (see
# docker-compose.yml). The build context is only the packages and pyproject (.dockerignore).

FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PINGAN_DATA_DIR=/var/lib/pingan
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels pingan \
    && useradd --system --uid 10001 --create-home --home-dir /var/lib/pingan pingan
USER pingan
WORKDIR /var/lib/pingan
ENTRYPOINT ["pingan"]
CMD ["--help"]
