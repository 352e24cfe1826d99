# Builds callq from source; used by docker-compose.yml.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin callq

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/callq --create-home callq
COPY --from=build /src/target/release/callq /usr/local/bin/callq
USER callq
WORKDIR /var/lib/callq
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/callq"]
CMD ["serve"]
