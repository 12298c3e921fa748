//! Publish: verify the rendered file against the plan, then move it into place atomically,
//! with its result manifest beside it.

use crate::error::{Error, Result};
use crate::plan::Expected;
use crate::probe::ffprobe;
use crate::process::{self, RunError, Tools};
use crate::source::Base;

mod local;
pub use local::Place;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What ffprobe says the finished file is.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OutputFacts {
    pub duration: f64,
    pub frames: u64,
    pub width: u32,
    pub height: u32,
    pub video_codec: String,
    pub audio_codec: String,
    pub sample_rate: u32,
    pub channels: u32,
    pub audio_duration: f64,
    pub bytes: u64,
}

/// Probe the rendered file (counting its video packets) and compare with the plan.
pub async fn verify(
    tools: &Tools,
    file: &Path,
    expected: &Expected,
    cancel: &CancellationToken,
) -> Result<OutputFacts> {
    let bad = |why: String| Error::Render { step: "verifying the output".into(), code: 0, stderr: why };
    let args: Vec<String> = ["-v", "error", "-protocol_whitelist", "file", "-count_packets", "-print_format", "json"]
        .into_iter()
        .chain(["-show_streams", "-show_format"])
        .map(String::from)
        .chain([file.display().to_string()])
        .collect();
    let out = match process::capture(&tools.ffprobe, &args, Duration::from_secs(120), cancel).await {
        Ok(out) => out.stdout,
        Err(RunError::Cancelled) => return Err(Error::Cancelled),
        Err(RunError::Failed { stderr, .. }) => return Err(bad(format!("ffprobe cannot read the output: {stderr}"))),
        Err(e) => return Err(Error::Environment(format!("ffprobe ({}): {e}", tools.ffprobe.display()))),
    };
    let v = ffprobe::parse(&out).map_err(bad)?;
    let video = v.streams.iter().find(|s| s.is("video")).ok_or_else(|| bad("the output has no video stream".into()))?;
    let audio = match expected.audio_codec {
        Some(_) => {
            Some(v.streams.iter().find(|s| s.is("audio")).ok_or_else(|| bad("the output has no audio stream".into()))?)
        }
        None => None,
    };
    let frames = video.nb_read_packets.ok_or_else(|| bad("ffprobe did not count the output's frames".into()))?;
    let facts = OutputFacts {
        duration: v.format.duration.unwrap_or(0.0),
        frames: frames as u64,
        width: video.width.unwrap_or(0),
        height: video.height.unwrap_or(0),
        video_codec: video.codec_name.clone().unwrap_or_default(),
        audio_codec: audio.and_then(|a| a.codec_name.clone()).unwrap_or_default(),
        sample_rate: audio.and_then(|a| a.sample_rate).unwrap_or(0.0) as u32,
        channels: audio.and_then(|a| a.channels).unwrap_or(0),
        // Matroska/WebM keeps stream durations in a tag.
        audio_duration: audio
            .and_then(|a| a.duration.or_else(|| a.tags.duration.as_deref().and_then(ffprobe::hms)))
            .unwrap_or(0.0),
        bytes: std::fs::metadata(file).map(|m| m.len()).unwrap_or(0),
    };
    let want_dur = expected.duration();
    let frame = 1.0 / expected.fps.as_f64();
    let mut problems = Vec::new();
    if facts.frames != expected.frames {
        problems.push(format!("{} video frames instead of {}", facts.frames, expected.frames));
    }
    if (facts.width, facts.height) != (expected.width, expected.height) {
        problems.push(format!("{}×{} instead of {}×{}", facts.width, facts.height, expected.width, expected.height));
    }
    let want_audio = expected.audio_codec.unwrap_or("");
    if facts.video_codec != expected.video_codec || facts.audio_codec != want_audio {
        problems.push(format!(
            "codecs {}/{} instead of {}/{}",
            facts.video_codec,
            facts.audio_codec,
            expected.video_codec,
            if want_audio.is_empty() { "none" } else { want_audio }
        ));
    }
    if expected.audio_codec.is_some() {
        if facts.sample_rate != expected.sample_rate || facts.channels != expected.channels as u32 {
            problems.push(format!(
                "audio {} Hz × {} instead of {} Hz × {}",
                facts.sample_rate, facts.channels, expected.sample_rate, expected.channels
            ));
        }
        // Audio frames are up to 1024 samples (AAC; Opus 960): the audio may end up to one frame past the video.
        if (facts.audio_duration - want_dur).abs() > frame + 1024.0 / expected.sample_rate as f64 {
            problems.push(format!("audio lasts {:.3} s instead of {want_dur:.3} s", facts.audio_duration));
        }
    }
    if !problems.is_empty() {
        return Err(bad(format!("the rendered file is not what was planned: {}", problems.join("; "))));
    }
    Ok(facts)
}

/// Write `value` as pretty JSON to the operator's `path` (`--result`), atomically, replacing
/// the file an earlier run wrote.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Internal(format!("cannot serialize: {e}")))?;
    Place::trusted(path).put_text(&text, true).map_err(|e| local_failure(&path.display().to_string(), e))
}

/// Where a published file goes: a local place or an object in a store.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A local file: beneath its root, never replacing anything unless `overwrite` (then a
    /// regular file only).
    Local { place: Place, overwrite: bool },
    /// An object, published create-only.
    Object(crate::storage::Location),
}

impl Destination {
    /// An address the operator gives (`-o`, `--records`): `s3://…`, `gs://…`, `az://…`, or a
    /// local path anywhere (a relative one starts at the current directory).
    pub fn parse(s: &str) -> Result<Destination> {
        if crate::spec::address::is_object(s) {
            return Self::object(s);
        }
        Ok(Destination::Local { place: Place::trusted(Path::new(s)), overwrite: false })
    }

    /// A path a spec writes: an object, a name beside a spec read from a bucket, or a local
    /// path relative to the spec's directory, kept beneath `output_root` when given (else
    /// beneath that directory).
    pub fn of_spec(addr: &str, base: &Base, output_root: Option<&Path>) -> Result<Destination> {
        match base {
            _ if crate::spec::address::is_object(addr) => Self::object(addr),
            Base::Prefix(_) => Self::object(&base.resolve(addr)),
            Base::Dir(dir) => {
                let rel = PathBuf::from(addr);
                if rel.is_absolute() || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                    return Err(Error::Publish {
                        dest: addr.into(),
                        reason: "a path in a spec must be relative, without `..`".into(),
                        retryable: false,
                    });
                }
                let root = output_root.unwrap_or(dir).to_path_buf();
                Ok(Destination::Local { place: Place { root, rel }, overwrite: false })
            }
        }
    }

    fn object(uri: &str) -> Result<Destination> {
        let loc = crate::storage::locate(uri).map_err(|e| Error::Publish {
            dest: uri.to_string(),
            reason: e.to_string(),
            retryable: false,
        })?;
        Ok(Destination::Object(loc))
    }

    /// Allow replacing an existing local file (`--overwrite`); objects stay create-only.
    pub fn overwriting(self, yes: bool) -> Destination {
        match self {
            Destination::Local { place, .. } => Destination::Local { place, overwrite: yes },
            d => d,
        }
    }

    pub fn display(&self) -> String {
        match self {
            Destination::Local { place, .. } => place.path().display().to_string(),
            Destination::Object(l) => l.uri.clone(),
        }
    }

    fn with_name(&self, name: impl FnOnce(&str) -> String) -> Destination {
        match self {
            Destination::Local { place, overwrite } => {
                Destination::Local { place: place.sibling(&name(&place.file_name())), overwrite: *overwrite }
            }
            Destination::Object(l) => Destination::Object(l.sibling(&name(l.path.filename().unwrap_or("output")))),
        }
    }

    /// The file beside this one with its extension replaced (`out.mp4` → `out.srt`).
    pub fn with_extension(&self, ext: &str) -> Destination {
        self.with_name(|n| format!("{}.{ext}", n.rsplit_once('.').map(|(stem, _)| stem).unwrap_or(n)))
    }

    /// The file beside this one named `name + suffix` (`out.mp4` → `out.mp4.json`).
    pub fn with_suffix(&self, suffix: &str) -> Destination {
        self.with_name(|n| format!("{n}{suffix}"))
    }

    /// A hidden file beside this one: `.<name>.<suffix>`.
    pub fn sibling_hidden(&self, suffix: &str) -> Destination {
        self.with_name(|n| format!(".{n}.{suffix}"))
    }

    /// Refuse at once, before any work, a local destination that is taken (exit 10).
    pub fn check_free(&self) -> Result<()> {
        match self {
            Destination::Local { place, overwrite: false } if place.exists() => Err(taken(&self.display())),
            _ => Ok(()),
        }
    }

    /// The text of the (small) file here, or `None` if there is none.
    pub async fn read_text(&self) -> Result<Option<String>> {
        let bytes = match self {
            Destination::Local { place, .. } => match std::fs::read(place.path()) {
                Ok(b) => Some(b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(Error::Environment(format!("cannot read {}: {e}", self.display()))),
            },
            Destination::Object(l) => l.read_optional(1 << 20).await.map_err(|e| match e {
                crate::storage::StoreError::Transient(r) => {
                    Error::AssetUnreachable { path: "record".into(), src: l.uri.clone(), reason: r }
                }
                crate::storage::StoreError::Permanent(r) => Error::Environment(format!("{}: {r}", l.uri)),
                crate::storage::StoreError::Cancelled => Error::Cancelled,
            })?,
        };
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Publish `file` here: an atomic move for a local path, a create-only upload for an
    /// object; an existing file or object is never replaced (a local one with `--overwrite`).
    pub async fn put_file(&self, file: &Path, cancel: &CancellationToken) -> Result<()> {
        match self {
            Destination::Local { place, overwrite } => {
                place.put_file(file, *overwrite).map_err(|e| local_failure(&self.display(), e))
            }
            Destination::Object(l) => l.upload_create_only(file, cancel).await.map(|_| ()).map_err(|e| match e {
                crate::storage::StoreError::Cancelled => Error::Cancelled,
                e => store_failure(&l.uri, e),
            }),
        }
    }

    /// Publish a small `text` here, on the same terms (one create-only PUT for an object).
    pub async fn put_text(&self, text: &str) -> Result<()> {
        match self {
            Destination::Local { place, overwrite } => {
                place.put_text(text, *overwrite).map_err(|e| local_failure(&self.display(), e))
            }
            Destination::Object(l) => {
                l.put_small_create_only(text.as_bytes().to_vec()).await.map_err(|e| store_failure(&l.uri, e))
            }
        }
    }
}

fn taken(dest: &str) -> Error {
    Error::Publish {
        dest: dest.into(),
        reason: "it exists already: outputs never replace a file (pass --overwrite to replace it)".into(),
        retryable: false,
    }
}

/// A local write that failed: a taken name or a refused path is for good; the rest may pass.
fn local_failure(dest: &str, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::AlreadyExists => taken(dest),
        _ if e.raw_os_error() == Some(libc::ELOOP) || e.raw_os_error() == Some(libc::EXDEV) => Error::Publish {
            dest: dest.into(),
            reason: "its path leads through a link or out of its directory; outputs never follow one".into(),
            retryable: false,
        },
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::InvalidInput => {
            Error::Publish { dest: dest.into(), reason: e.to_string(), retryable: false }
        }
        _ => Error::Publish { dest: dest.into(), reason: e.to_string(), retryable: true },
    }
}

/// A store's refusal to take an object: retryable unless it refused for good.
fn store_failure(uri: &str, e: crate::storage::StoreError) -> Error {
    let retryable = !matches!(e, crate::storage::StoreError::Permanent(_));
    Error::Publish { dest: uri.to_string(), reason: e.to_string(), retryable }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn published_files_are_readable_as_any_new_file_is() {
        // SAFETY: umask only reads and restores this process's file mode mask.
        let mask = unsafe {
            let m = libc::umask(0o022);
            libc::umask(m);
            m
        } as u32;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.mp4.json");
        write_json(&p, &serde_json::json!({})).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o666 & !mask);
    }
}
