//! Job errors, each with its documented exit code and whether a retry can help.

use crate::spec::ValidationErrors;

/// Exit codes, documented in README.md. Stable: later versions add codes, never renumber.
pub mod exit {
    pub const OK: u8 = 0;
    pub const INTERNAL: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const INVALID_SPEC: u8 = 3;
    pub const ASSET_REJECTED: u8 = 4;
    pub const ASSET_UNREACHABLE: u8 = 5;
    pub const MEMORY_BUDGET: u8 = 6;
    pub const RENDER_FAILED: u8 = 7;
    pub const FFMPEG_KILLED: u8 = 8;
    pub const STALLED: u8 = 9;
    pub const PUBLISH_FAILED: u8 = 10;
    pub const ENVIRONMENT: u8 = 11;
    pub const CANCELLED: u8 = 143;
}

/// Why a job did not produce its output.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidSpec(ValidationErrors),

    /// The asset can never work as given (404, not media, too large, refused by policy).
    #[error("{path}: {src}: {reason}")]
    AssetRejected { path: String, src: String, reason: String },

    /// The asset could not be fetched now; a later attempt may succeed.
    #[error("{path}: {src}: {reason} (a retry may help)")]
    AssetUnreachable { path: String, src: String, reason: String },

    #[error("does not fit the memory budget: {0}")]
    MemoryBudget(String),

    #[error("FFmpeg failed while {step} (exit code {code}): {stderr}")]
    Render { step: String, code: i32, stderr: String },

    #[error("FFmpeg was killed by signal {signal} while {step} (out of memory?): {stderr}")]
    FfmpegKilled { step: String, signal: i32, stderr: String },

    #[error("FFmpeg made no progress for {secs} s while {step}; it was stopped")]
    Stalled { step: String, secs: u64 },

    #[error("the job's deadline of {secs} s passed while {step}; FFmpeg was stopped")]
    Deadline { step: String, secs: u64 },

    /// The output could not be published; `retryable` unless the destination refused for
    /// good (access denied, the object exists already).
    #[error("publishing {dest} failed: {reason}")]
    Publish { dest: String, reason: String, retryable: bool },

    #[error("{0}")]
    Environment(String),

    #[error("cancelled")]
    Cancelled,

    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        use exit::*;
        match self {
            Error::InvalidSpec(_) => INVALID_SPEC,
            Error::AssetRejected { .. } => ASSET_REJECTED,
            Error::AssetUnreachable { .. } => ASSET_UNREACHABLE,
            Error::MemoryBudget(_) => MEMORY_BUDGET,
            Error::Render { .. } => RENDER_FAILED,
            Error::FfmpegKilled { .. } => FFMPEG_KILLED,
            Error::Stalled { .. } | Error::Deadline { .. } => STALLED,
            Error::Publish { .. } => PUBLISH_FAILED,
            Error::Environment(_) => ENVIRONMENT,
            Error::Cancelled => CANCELLED,
            Error::Internal(_) => INTERNAL,
        }
    }

    /// A short stable name for logs and the result manifest.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidSpec(_) => "invalid_spec",
            Error::AssetRejected { .. } => "asset_rejected",
            Error::AssetUnreachable { .. } => "asset_unreachable",
            Error::MemoryBudget(_) => "memory_budget",
            Error::Render { .. } => "render_failed",
            Error::FfmpegKilled { .. } => "ffmpeg_killed",
            Error::Stalled { .. } => "stalled",
            Error::Deadline { .. } => "deadline",
            Error::Publish { .. } => "publish_failed",
            Error::Environment(_) => "environment",
            Error::Cancelled => "cancelled",
            Error::Internal(_) => "internal",
        }
    }

    /// The JSON path of the spec field (clip, asset) the failure is about, if any.
    pub fn culprit(&self) -> Option<String> {
        match self {
            Error::AssetRejected { path, .. } | Error::AssetUnreachable { path, .. } if !path.is_empty() => {
                Some(path.clone())
            }
            Error::InvalidSpec(e) => e.0.first().map(|e| e.path.clone()).filter(|p| !p.is_empty()),
            _ => None,
        }
    }

    /// Whether running the same job again may succeed (a deadline that passed may not pass
    /// on a less loaded machine: exit code 9, like a stall). Batch tasks and the platforms'
    /// retry policies follow this, through the exit code.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Error::AssetUnreachable { .. }
                | Error::FfmpegKilled { .. }
                | Error::Stalled { .. }
                | Error::Deadline { .. }
                | Error::Publish { retryable: true, .. }
                | Error::Cancelled
        )
    }
}

impl From<ValidationErrors> for Error {
    fn from(e: ValidationErrors) -> Self {
        Error::InvalidSpec(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
