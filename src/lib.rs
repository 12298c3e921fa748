//! cutlist: turns a JSON video timeline into a finished video with FFmpeg, inside a proven
//! memory budget. See ARCHITECTURE.md for the map.
//!
//! The pipeline, one module a stage: [`source`] (the one door a spec comes through) → [`spec`]
//! (types and validation) →
//! [`fetch`] → [`probe`] → [`text`] → [`plan`] (pure: which FFmpeg runs, which graphs) →
//! [`render`] → [`publish`] → [`report`] (logs, progress, webhooks). [`job`] runs the stages
//! in order; [`batch`] runs jobs as a task of a batch platform; [`command`] is the command
//! line. Infrastructure, apart: [`process`] (the one door to FFmpeg), [`storage`] (object
//! stores), [`workspace`] (temp files), [`memory`] (limits, measurement, its report),
//! [`retry`], [`error`].

pub mod batch;
pub mod captions;
pub mod command;
pub mod demo;
pub mod error;
pub mod fetch;
pub mod job;
pub mod memory;
pub mod plan;
pub mod probe;
pub mod process;
pub mod publish;
pub mod render;
pub mod report;
pub mod retry;
pub mod source;
pub mod spec;
pub mod storage;
pub mod text;
pub mod workspace;

pub use error::{exit, Error, Result};
pub use job::{render_spec, JobOptions, JobResult};
