# Keyrelay activity: activity: the JetStream consumer writing request records (MongoDB).
# Build from the repository root:  docker build -f deploy/docker/activity.Dockerfile -t keyrelay-activity .
# Versions come from requirements.lock (its pins, as constraints); only this service's own
# dependencies (services/activity/pyproject.toml and shared's) are installed.
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements.lock ./
RUN sed -e '/--hash/d' -e 's/ \\$//' requirements.lock > constraints.txt
COPY shared ./shared
COPY services/activity ./services/activity
RUN python -m venv /opt/keyrelay \
 && /opt/keyrelay/bin/pip install --no-cache-dir -c constraints.txt ./shared ./services/activity

FROM python:3.11-slim
RUN groupadd --system --gid 10001 keyrelay \
 && useradd --system --uid 10001 --gid keyrelay --no-create-home --home-dir /nonexistent keyrelay
COPY --from=build /opt/keyrelay /opt/keyrelay
ENV PATH=/opt/keyrelay/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KEYRELAY_LOG_FORMAT=json \
    KEYRELAY_ENV_FILE=/dev/null \
    KEYRELAY_METRICS_PORT=9090
USER 10001:10001
EXPOSE 9090
ENTRYPOINT ["keyrelay", "serve", "activity"]
