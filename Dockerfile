# syntax=docker/dockerfile:1
# One image for every Pingan process: `pingan migrate | worker | api | simulate` (see
# docker-compose.yml). The build context is only the packages, pyproject and the police
# console (.dockerignore); the API serves the console from /opt/pingan/console.

FROM node:20-slim AS console
# The police console with its local GraphiQL (make console does the same on a workstation).
WORKDIR /console
COPY dashboards/console/ ./
RUN npm ci --no-audit --no-fund --ignore-scripts && node build.mjs \
    && rm -rf node_modules package.json package-lock.json build.mjs

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PINGAN_DATA_DIR=/var/lib/pingan \
    PINGAN_CONSOLE_DIR=/opt/pingan/console
# opencv-python (insightface requires it, not the headless build) links libGL and glib, which
# the slim image lacks: without them `pingan` cannot even import.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pylock.toml ./
# Exactly the versions and hashes the tests ran with (see make lock).
RUN pip install --no-cache-dir --disable-pip-version-check pip==26.3 \
    && pip install --no-cache-dir --disable-pip-version-check -r pylock.toml
COPY . .
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps . \
    && rm -rf /src \
    && useradd --system --uid 10001 --create-home --home-dir /var/lib/pingan pingan
COPY --from=console /console /opt/pingan/console
USER pingan
WORKDIR /var/lib/pingan
ENTRYPOINT ["pingan"]
CMD ["--help"]
