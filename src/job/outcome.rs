//! What a job leaves behind: the result manifest of a success, the record of a failure, and
//! what `cutlist plan` reports.

use crate::error::Error;
use crate::memory::Peaks;
use crate::plan::{ClipTiming, EncoderSettings};
use crate::report::{Phase, Status};
use serde::Serialize;
use std::collections::HashMap;

/// Memory figures of a job, bytes (see MEMORY.md for how they are measured).
#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    pub limit: u64,
    pub limit_source: &'static str,
    pub workspace_in_ram: bool,
    pub peak: Peaks,
    pub phases: HashMap<Phase, Peaks>,
}

/// The result manifest of a job that succeeded.
#[derive(Debug, Clone, Serialize)]
pub struct JobResult {
    pub job_id: String,
    pub status: Status,
    /// Where the output was published: a path or an `s3://`, `gs://`, `az://` address.
    pub output: String,
    pub duration: f64,
    pub frames: u64,
    pub fps: String,
    pub width: u32,
    pub height: u32,
    pub video_codec: String,
    pub audio_codec: String,
    pub bytes: u64,
    pub wall_seconds: f64,
    pub started_at: String,
    pub ffmpeg_version: String,
    pub encoder: EncoderSettings,
    pub memory: MemoryReport,
    pub clips: Vec<ClipTiming>,
    /// Files written beside the output: caption sidecars, poster, thumbnail.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<String>,
    /// The finished file's loudness, measured, when the spec sets a target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loudness: Option<LoudnessReport>,
    /// Decoding errors FFmpeg reported in the sources (the output was still made; see
    /// `--strict-decode`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decode_errors: Vec<crate::render::DecodeErrors>,
}

/// Loudness of the finished file (EBU R128), beside the target it was brought to.
#[derive(Debug, Clone, Serialize)]
pub struct LoudnessReport {
    /// The integrated target, LUFS.
    pub target: f64,
    /// The true-peak ceiling, dBTP.
    pub ceiling: f64,
    /// Integrated loudness, LUFS (`null`: silent).
    pub integrated: Option<f64>,
    /// True peak, dBTP (`null`: silent).
    pub true_peak: Option<f64>,
    /// Loudness range, LU.
    pub lra: f64,
    /// The gain applied to the mix, dB (`null`: silent, passed unchanged).
    pub gain: Option<f64>,
    /// How many times the sound was encoded: 2 when the first encode missed its target or
    /// ceiling and was corrected.
    pub passes: u32,
    /// Why the file misses its target or ceiling, when it does (also a `loudness_warning` event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl LoudnessReport {
    pub fn new(target: &crate::spec::Loudness, l: &crate::render::LoudnessOutcome) -> Self {
        let finite = |v: f64| (v.is_finite() && v > -69.95).then_some((v * 100.0).round() / 100.0);
        LoudnessReport {
            target: target.integrated,
            ceiling: target.true_peak,
            integrated: finite(l.measured.integrated),
            true_peak: finite(l.measured.true_peak),
            lra: l.measured.lra,
            gain: l.correction.map(|c| (c.gain * 100.0).round() / 100.0),
            passes: l.passes,
            warning: l.warning.clone(),
        }
    }
}

/// What `--result` holds when a job failed.
#[derive(Debug, Serialize)]
pub struct FailureRecord<'a> {
    pub job_id: Option<&'a str>,
    pub status: Status,
    pub error: &'static str,
    pub exit_code: u8,
    pub retryable: bool,
    pub message: String,
}

impl<'a> FailureRecord<'a> {
    pub fn new(job_id: Option<&'a str>, e: &Error) -> Self {
        FailureRecord {
            job_id,
            status: if matches!(e, Error::Cancelled) { Status::Cancelled } else { Status::Failed },
            error: e.kind(),
            exit_code: e.exit_code(),
            retryable: e.retryable(),
            message: e.to_string(),
        }
    }
}

/// What `cutlist plan` reports: the budget, the settings fitted to it, and the runs.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub job_id: String,
    pub memory_limit: u64,
    pub limit_source: &'static str,
    pub cpus: u32,
    pub cpus_source: &'static str,
    pub workspace_in_ram: bool,
    /// Estimated peak of the whole job, bytes: the largest FFmpeg run, cutlist's own share
    /// and, when the workspace is in RAM, its bytes.
    pub estimate: u64,
    pub encoder: EncoderSettings,
    pub frames: u64,
    pub duration: f64,
    pub runs: Vec<String>,
    pub clips: Vec<ClipTiming>,
}
