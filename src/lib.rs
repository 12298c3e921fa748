//! cutlist: turns a JSON video timeline into a finished MP4 with FFmpeg, inside a proven
//! memory budget.
//!
//! The pipeline reads top to bottom: [`spec`] (types and validation) → [`fetch`] →
//! [`probe`] → [`plan`] (pure: which FFmpeg runs, which graphs) → [`render`] (runs them
//! through [`process`]) → [`publish`] (verify, move into place) → [`report`]. [`job`]
//! strings the stages together; [`workspace`] owns the temp files, [`memory`] measures and [`memreport`] shows it.

pub mod captions;
pub mod demo;
pub mod error;
pub mod fetch;
pub mod job;
pub mod memory;
pub mod memreport;
pub mod plan;
pub mod probe;
pub mod process;
pub mod publish;
pub mod render;
pub mod report;
pub mod runtime;
pub mod spec;
pub mod storage;
pub mod text;
pub mod webhook;
pub mod workspace;

pub use error::{exit, Error, Result};
pub use job::{render_spec, JobOptions, JobResult};
