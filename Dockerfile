# The fntrace image: fntrace (the tracer command), fntrace-collector, fntrace-flamescope
# (with its web UI), fntrace-seccomp and fnhandler-examples, for docker-compose.yml and for running the
# collector and viewer anywhere Docker runs.  Context: the top of the source tree.
# Function images come from the templates (handler/templates/openfaas, azure).
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends build-essential pkg-config libmicrohttpd-dev libcjson-dev libcurl4-openssl-dev libelf-dev zlib1g-dev libseccomp-dev libbpf-dev libgnutls28-dev libssl-dev libxxhash-dev clang bpftool \
 && rm -rf /var/lib/apt/lists/*
# the web UI is bundled by esbuild under node; its npm packages come from the context
# (flamescope/web/node_modules, made by `make deps`), else from the npm registry
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/*
COPY . /src/fntrace/
WORKDIR /src/fntrace
RUN if [ ! -d flamescope/web/node_modules ]; then apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm ca-certificates \
    && (cd flamescope/web && npm ci --no-audit --no-fund); fi
RUN make -j"$(nproc)" build/bin/fntrace build/bin/fntrace-collector build/bin/fntrace-flamescope \
        build/bin/fntrace-seccomp build/bin/fnhandler-examples \
 && mkdir -p /out && cp build/bin/* /out/ \
 && tools/docker/runtime-packages.sh /out/* > /out/runtime-packages

FROM debian:bookworm-slim
COPY --from=build /out/runtime-packages /tmp/runtime-packages
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates $(cat /tmp/runtime-packages) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages \
 && groupadd --gid 10001 fntrace \
 && useradd --uid 10001 --gid fntrace --home-dir /home/fntrace --create-home --shell /usr/sbin/nologin fntrace \
 && mkdir /traces && chown fntrace:fntrace /traces
COPY --from=build /out/fntrace /out/fntrace-collector /out/fntrace-flamescope /out/fntrace-seccomp \
     /out/fnhandler-examples /usr/local/bin/
USER fntrace
WORKDIR /home/fntrace
VOLUME /traces
EXPOSE 8081 5000
CMD ["fntrace-collector", "--listen", "0.0.0.0", "--port", "8081", "--dir", "/traces"]
