# Regain in a container: a build stage, then a slim runtime running as a
# non-root user with its data in a volume.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p regain

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/regain --shell /usr/sbin/nologin regain \
 && mkdir -p /var/lib/regain && chown regain:regain /var/lib/regain && chmod 0700 /var/lib/regain
COPY --from=build /src/target/release/regain /usr/local/bin/regain
USER regain
ENV REGAIN_DATA_DIR=/var/lib/regain \
    REGAIN_LISTEN=0.0.0.0:8080 \
    REGAIN_LOG_FORMAT=json
VOLUME ["/var/lib/regain"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/regain"]
CMD ["serve"]
