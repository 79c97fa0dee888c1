# smarthost in a container: built in a Debian 12 stage, run from a slim Debian 12 stage as a non-root user.
# Configure it entirely from the environment (SMARTHOST_PROVIDER, SMARTHOST_API_KEY or SMARTHOST_API_KEY_FILE, ...:
# see docs/deployment.md). It runs as PID 1 (signals handled, children reaped), logs to stdout, and needs only the
# spool volume writable, so `docker run --read-only` works:
#   docker build -t smarthost .
#   docker run --read-only -v smarthost-spool:/var/spool/smarthost -p 2525:2525 \
#     -e SMARTHOST_PROVIDER=mailgun -e SMARTHOST_DOMAIN=mg.example.com -e SMARTHOST_API_KEY_FILE=/run/secrets/mg \
#     -e SMARTHOST_ALLOWED_IPS=172.16.0.0/12 smarthost

FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake ninja-build g++ pkg-config make ca-certificates \
      libboost1.81-dev libssl-dev libcurl4-openssl-dev libtomlplusplus-dev libspdlog-dev libfmt-dev \
      libgmime-3.0-dev libcrypt-dev libhiredis-dev libjemalloc-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN rm -rf build* \
 && cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSMARTHOST_TESTS=OFF \
 && cmake --build /build --target smarthost \
 && strip /build/smarthost

FROM debian:12-slim
# The runtime libraries of the build stage's -dev packages, curl for the HEALTHCHECK, CA certificates for TLS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
      libssl3 libcurl4 libtomlplusplus3 libspdlog1.10 libfmt9 libgmime-3.0-0 libcrypt1 libhiredis0.14 libjemalloc2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10025 smarthost \
 && useradd --system --uid 10025 --gid smarthost --home-dir /var/spool/smarthost --shell /usr/sbin/nologin smarthost \
 && install -d -o smarthost -g smarthost -m 0750 /var/spool/smarthost
COPY --from=build /build/smarthost /usr/sbin/smarthost

# Container defaults; every one can be overridden with -e.
ENV SMARTHOST_LISTEN=0.0.0.0:2525 \
    SMARTHOST_QUEUE_DIR=/var/spool/smarthost/queue \
    SMARTHOST_METRICS_LISTEN=0.0.0.0:9325
VOLUME ["/var/spool/smarthost"]
EXPOSE 2525 9325
USER smarthost:smarthost
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9325/readyz"]
ENTRYPOINT ["/usr/sbin/smarthost"]
CMD ["serve"]
