# EmitHub container image: native AOT binary on a small runtime-deps base (the seed's "Deploy" section, in .NET).
#   docker build -t emit-hub .
#   docker run -p 8080:8080 emit-hub
# Stage 1 publishes with exactly the command `make publish` runs (tools/publish.sh: native AOT, fails on any
# trim/AOT warning); stage 2 holds the binary, curl for the health check, and nothing else.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# The AOT link needs a C toolchain and zlib.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN bash tools/publish.sh linux-x64

FROM mcr.microsoft.com/dotnet/runtime-deps:10.0 AS runtime
# curl: the seed's docker-compose.yml health check runs `curl -f http://localhost:8080/api/v1/health` inside the container.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /app/data \
    && chown "$APP_UID" /app/data
COPY --from=build /src/dist/emit-hub /usr/local/bin/emit-hub
WORKDIR /app
# Inside a container the hub must listen on every interface (the default 127.0.0.1 is unreachable from the host).
ENV EMIT_HUB_HOST=0.0.0.0 \
    EMIT_HUB_PORT=8080 \
    EMIT_HUB_DB_PATH=/app/data
VOLUME ["/app/data"]
EXPOSE 8080
# The image's non-root user (uid 1654, "app").
USER $APP_UID
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD curl -fsS http://localhost:8080/api/v1/health || exit 1
ENTRYPOINT ["/usr/local/bin/emit-hub"]
