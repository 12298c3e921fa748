# cutlist: build in the Rust image, run on Debian slim with the distribution's FFmpeg.
#   docker build -t cutlist .
#   docker run --rm -v "$PWD:/data" -w /data cutlist render spec.json
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY assets assets
COPY docs docs
RUN cargo build --release --locked && strip target/release/cutlist

FROM debian:bookworm-slim
# FFmpeg 5.1 (libx264, libx265, libvpx, libopus, zimg), CA certificates for HTTPS and the
# object stores, and the colour emoji font text falls back to.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates fonts-noto-color-emoji \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin cutlist \
 && mkdir /work && chown cutlist /work
COPY --from=build /src/target/release/cutlist /usr/local/bin/cutlist
USER 10001
# Point this at a disk volume (Cloud Run: an ephemeral disk; Kubernetes: an emptyDir on
# disk): a workdir in the container's own filesystem or in /tmp is RAM on Cloud Run.
ENV CUTLIST_WORKDIR=/work
ENTRYPOINT ["cutlist"]
CMD ["job"]
