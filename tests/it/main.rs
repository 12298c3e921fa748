//! The integration tests, one binary (so `common` is compiled once): real FFmpeg, real
//! HTTP, S3, Azure and GCS servers on 127.0.0.1, the `cutlist` binary run as users run it.
//! The `memory_measured` tests measure the machine: `./dev test` runs them alone, one at a time.

mod common;

mod cli;
mod copy;
mod deploy_shape;
mod downloads;
mod editing;
mod failures;
mod hostile;
mod loudness;
mod memory_measured;
mod render;
mod storage;
mod webhook;
