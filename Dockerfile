# Haystack: one image for the API/UI (`haystack serve`) and the workers (`haystack worker`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN useradd --create-home --uid 1000 haystack \
    && mkdir -p /data && chown haystack:haystack /data

# --build-arg WITH_BROWSER=true adds Debian's chromium and the [browser] extra (rendering pages;
# see docs/engines.md), about 300 MB more.
ARG WITH_BROWSER=false
RUN if [ "$WITH_BROWSER" = "true" ]; then \
        apt-get update && apt-get install -y --no-install-recommends chromium \
        && rm -rf /var/lib/apt/lists/*; \
    fi

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN if [ "$WITH_BROWSER" = "true" ]; then pip install ".[browser]"; else pip install .; fi

USER haystack
WORKDIR /data
EXPOSE 8000
ENTRYPOINT ["haystack"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
