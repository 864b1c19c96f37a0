# Haystack: one image for the API/UI (`haystack serve`) and the workers (`haystack worker`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN useradd --create-home --uid 1000 haystack \
    && mkdir -p /data && chown haystack:haystack /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install .

USER haystack
WORKDIR /data
EXPOSE 8000
ENTRYPOINT ["haystack"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
