//! The timeline spec, version 1: the JSON a backend writes, as Rust types.
//!
//! These types are the single source of truth: serde reads them, `cutlist schema`
//! derives the JSON Schema from them, and each part's checks (beside its types: [`output`],
//! [`clips`], [`overlays`], [`captions`], [`audio`]) say what types cannot; [`validate`]
//! reads a document part by part so that every error is found at once.

pub mod address;
mod audio;
mod captions;
mod clips;
mod color;
mod output;
mod overlays;
mod schema;
pub mod template;
pub mod time;
pub mod timing;
mod validate;

pub use audio::*;
pub use captions::*;
pub use clips::*;
pub use color::Color;
pub use output::*;
pub use overlays::*;
pub use schema::json_schema;
pub use time::{even, Rational};
pub use validate::{parse, parse_with, SpecError, ValidationErrors, MAX_SECONDS};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The only spec version this build reads.
pub const SPEC_VERSION: u32 = 1;

/// A job: what to render and where the result goes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Spec format version; must be 1.
    pub version: u32,
    /// The job's id: 1–128 characters from `A-Z a-z 0-9 . _ -`. Appears in logs, file names and the result.
    pub id: String,
    pub output: Output,
    pub timeline: Timeline,
    /// A receiver of status events (`http(s)://`) besides the operator's: accepted only at an
    /// origin the deployment allows (`--webhook-allow`); its events are never signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSpec>,
    /// Values for `{{placeholders}}` in any string of the spec (`--set` wins); filled in, and
    /// removed, before the spec is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A status webhook named by the spec (it goes through the same address guard as assets, and
/// its events are never signed).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    pub url: String,
}

/// What happens over time.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timeline {
    /// Colour behind everything: bars of `contain`, the canvas. `#RRGGBB`, `#RGB` or a CSS basic colour name.
    #[serde(default)]
    pub background: Color,
    /// The first track is the main `video` track (exactly one); `audio`, `overlay` and
    /// `captions` tracks follow, any number. Overlays and captions are drawn in track order.
    pub tracks: Vec<Track>,
}

/// A track of the timeline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Track {
    /// The main track (the first track, and the only one of this type): clips played one
    /// after another.
    Video(VideoTrack),
    /// Music, voice-over or effects, mixed under the main track's sound.
    Audio(AudioTrack),
    /// Text, images and videos drawn over the picture; later tracks draw on top.
    Overlay(OverlayTrack),
    /// Subtitles burned into the picture (and optionally muxed or written beside it).
    Captions(CaptionsTrack),
}

impl Spec {
    /// The main track (validation guarantees it is the first track).
    pub fn main_track(&self) -> &VideoTrack {
        match &self.timeline.tracks[0] {
            Track::Video(t) => t,
            _ => unreachable!("validated: the first track is the main video track"),
        }
    }

    /// The overlay items, in drawing order (track order, then item order), with their places.
    pub fn overlays(&self) -> Vec<(ItemRef, &OverlayItem)> {
        let mut out = Vec::new();
        for (track, t) in self.timeline.tracks.iter().enumerate() {
            if let Track::Overlay(o) = t {
                out.extend(o.items.iter().enumerate().map(|(item, it)| (ItemRef { track, item }, it)));
            }
        }
        out
    }

    /// The audio tracks, in order.
    pub fn audio_tracks(&self) -> impl Iterator<Item = &AudioTrack> {
        self.timeline.tracks.iter().filter_map(|t| match t {
            Track::Audio(a) => Some(a),
            _ => None,
        })
    }

    /// Every asset the job needs, each once, with the JSON path of its first use, in spec order.
    pub fn sources(&self) -> Vec<AssetRef> {
        let mut out: Vec<AssetRef> = Vec::new();
        let mut add = |src: &str, used_at: String, kind: AssetKind| {
            if !out.iter().any(|a| a.src == src) {
                out.push(AssetRef { src: src.to_string(), used_at, kind });
            }
        };
        for (t, track) in self.timeline.tracks.iter().enumerate() {
            match track {
                Track::Video(v) => {
                    for (i, c) in v.clips.iter().enumerate() {
                        if let Some(src) = c.src() {
                            add(src, format!("timeline.tracks[{t}].clips[{i}].src"), AssetKind::Media);
                        }
                    }
                }
                Track::Audio(a) => {
                    for (i, c) in a.clips.iter().enumerate() {
                        add(&c.src, format!("timeline.tracks[{t}].clips[{i}].src"), AssetKind::Media);
                    }
                }
                Track::Captions(c) => {
                    if let Some(src) = &c.src {
                        add(src, format!("timeline.tracks[{t}].src"), AssetKind::Captions);
                    }
                    if let Some(font) = &c.style.font {
                        add(font, format!("timeline.tracks[{t}].style.font"), AssetKind::Font);
                    }
                }
                Track::Overlay(o) => {
                    for (i, item) in o.items.iter().enumerate() {
                        let path = format!("timeline.tracks[{t}].items[{i}]");
                        match item {
                            OverlayItem::Text(x) => {
                                if let Some(font) = &x.style.font {
                                    add(font, format!("{path}.style.font"), AssetKind::Font);
                                }
                            }
                            OverlayItem::Image(x) => add(&x.src, format!("{path}.src"), AssetKind::Media),
                            OverlayItem::Video(x) => add(&x.src, format!("{path}.src"), AssetKind::Media),
                        }
                    }
                }
            }
        }
        out
    }
}

/// The place of an overlay item in the spec: item `item` of track `track`. Displays as its
/// JSON path, `timeline.tracks[2].items[0]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemRef {
    pub track: usize,
    pub item: usize,
}

impl std::fmt::Display for ItemRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "timeline.tracks[{}].items[{}]", self.track, self.item)
    }
}

/// An asset the spec refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRef {
    pub src: String,
    /// JSON path of the field of its first use (`timeline.tracks[0].clips[3].src`).
    pub used_at: String,
    pub kind: AssetKind,
}

/// What an asset is, which decides how the job reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetKind {
    /// Audio, video or a picture: probed with ffprobe, opened by FFmpeg.
    Media,
    /// A font file, read by the text stage.
    Font,
    /// An SRT or WebVTT file, read by the text stage.
    Captions,
}

fn one() -> f64 {
    1.0
}

/// A value a spec gives as a number or as text with a unit (`"-6dB"`, `"5vh"`), read by the
/// types that take both.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum NumberOrText {
    Number(f64),
    Text(String),
}
