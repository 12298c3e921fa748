//! Audio tracks: music, voice-over and effects placed on the timeline, looped, faded and
//! ducked; gains; and their checks.

use super::validate::*;
use super::*;

/// A track of sound: music, voice-over, effects. Its clips are placed by `start` and may overlap.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AudioTrack {
    /// A name other tracks refer to (`duck.under`): 1–64 characters from `A-Z a-z 0-9 _ -`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub clips: Vec<AudioClip>,
    /// Gain of the whole track (after each clip's own).
    #[serde(default)]
    pub volume: Gain,
    /// Lower this track while another plays (music under speech).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duck: Option<Duck>,
}

/// A piece of a sound file placed on the timeline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AudioClip {
    /// An `http(s)://` URL, an `s3://`, `gs://` or `az://` object, or a local path: MP3,
    /// AAC/M4A, WAV, FLAC, Ogg/Opus, or a video's sound.
    pub src: String,
    /// Where it starts on the output timeline, seconds (snaps to the frame grid).
    #[serde(default)]
    pub start: f64,
    /// Start in the source, seconds.
    #[serde(rename = "in", default)]
    pub in_: f64,
    /// End in the source, seconds (exclusive). Absent: the end of the media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<f64>,
    /// How long it plays on the timeline, seconds. Absent: `out − in`, or with `loop` until
    /// the end of the video. Never past the end of the video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Repeat [in, out) to fill `duration`.
    #[serde(rename = "loop", default)]
    pub loop_: bool,
    #[serde(default)]
    pub volume: Gain,
    /// Seconds of fade-in at its start.
    #[serde(default)]
    pub fade_in: f64,
    /// Seconds of fade-out at its end.
    #[serde(default)]
    pub fade_out: f64,
}

/// Ducking: this track drops by `depth` dB while `under` plays.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Duck {
    /// `"main"` (the main track's clips that play their own sound) or the `id` of another audio track.
    pub under: String,
    /// How far the track drops, dB (positive), 1–60.
    #[serde(default = "default_depth")]
    pub depth: f64,
    /// Seconds to reach full depth, ending as the speech starts (the drop anticipates it).
    #[serde(default = "default_attack")]
    pub attack: f64,
    /// Seconds to come back up after the speech ends.
    #[serde(default = "default_release")]
    pub release: f64,
}

fn default_depth() -> f64 {
    12.0
}

fn default_attack() -> f64 {
    0.15
}

fn default_release() -> f64 {
    0.5
}

/// A gain: a linear factor (`0.5`) or decibels as a string (`"-6dB"`). 0–10 linear, −60–+20 dB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gain(pub f64);

impl Default for Gain {
    fn default() -> Self {
        Gain(1.0)
    }
}

impl Gain {
    /// Parse `-6dB`, `+3 dB`, `0.5`.
    pub fn parse(s: &str) -> Option<Gain> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        match lower.strip_suffix("db") {
            Some(db) => db.trim().parse::<f64>().ok().filter(|d| d.is_finite()).map(|d| Gain(10f64.powf(d / 20.0))),
            None => t.parse::<f64>().ok().filter(|v| v.is_finite()).map(Gain),
        }
    }
}

impl Serialize for Gain {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Gain {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bad = || serde::de::Error::custom("expected a linear gain (0.5) or decibels as a string (\"-6dB\")");
        let g = match NumberOrText::deserialize(d)? {
            NumberOrText::Number(v) => Gain(v),
            NumberOrText::Text(s) => Gain::parse(&s).ok_or_else(bad)?,
        };
        if !(0.0..=10.0).contains(&g.0) {
            return Err(serde::de::Error::custom(format!("{} is out of range: 0–10 linear, or −60 to +20 dB", g.0)));
        }
        Ok(g)
    }
}

impl JsonSchema for Gain {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Gain".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A linear gain (0.5) or decibels as a string (\"-6dB\").",
            "oneOf": [
                { "type": "number", "minimum": 0, "maximum": 10 },
                { "type": "string", "pattern": "^[+-]?[0-9.]+ ?[dD][bB]$" }
            ]
        })
    }
}

pub(super) fn valid_track_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b)) && s != "main"
}

pub(super) fn check_audio_track(t: &AudioTrack, path: &str, errs: &mut Errors) {
    if let Some(id) = &t.id {
        if !valid_track_id(id) {
            errs.add(join(path, "id"), "must be 1–64 characters from A-Z a-z 0-9 _ - (and not \"main\")");
        }
    }
    let clips_path = join(path, "clips");
    if t.clips.is_empty() {
        errs.add(clips_path.clone(), "the track has no clips");
    }
    if t.clips.len() > MAX_CLIPS {
        errs.add(clips_path.clone(), format!("{} clips; the limit is {MAX_CLIPS}", t.clips.len()));
    }
    for (j, c) in t.clips.iter().enumerate() {
        let p = format!("{clips_path}[{j}]");
        if let Err(reason) = check_src(&c.src) {
            errs.add(join(&p, "src"), reason);
        }
        check_time(c.start, join(&p, "start"), errs);
        let in_ok = check_time(c.in_, join(&p, "in"), errs);
        if let Some(out) = c.out {
            if check_time(out, join(&p, "out"), errs) && in_ok && out <= c.in_ {
                errs.add(join(&p, "out"), format!("out ({out}) must be after in ({})", c.in_));
            }
        }
        if let Some(d) = c.duration {
            if d <= 0.0 {
                errs.add(join(&p, "duration"), format!("{d} must be positive"));
            } else {
                check_time(d, join(&p, "duration"), errs);
            }
        }
        let fades_ok =
            check_time(c.fade_in, join(&p, "fade_in"), errs) & check_time(c.fade_out, join(&p, "fade_out"), errs);
        let length = c.duration.or(if c.loop_ { None } else { c.out.map(|o| o - c.in_) });
        if let (true, Some(len)) = (fades_ok, length) {
            if c.fade_in + c.fade_out > len + 1e-9 {
                errs.add(
                    join(&p, "fade_out"),
                    format!("fade_in + fade_out ({} s) is longer than the clip ({len} s)", c.fade_in + c.fade_out),
                );
            }
        }
    }
    if let Some(d) = &t.duck {
        check_range(d.depth, 1.0..=60.0, join(path, "duck.depth"), " dB", errs);
        check_range(d.attack, 0.0..=10.0, join(path, "duck.attack"), " s", errs);
        check_range(d.release, 0.0..=10.0, join(path, "duck.release"), " s", errs);
    }
}
