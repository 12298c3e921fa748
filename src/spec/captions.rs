//! Captions tracks: cues from a file or inline, burned in with a style, muxed or written
//! beside the output; and their checks.

use super::overlays::bottom;
use super::validate::*;
use super::*;

/// Captions from a file or inline cues, burned in with a style.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptionsTrack {
    /// An SRT or WebVTT file (URL or path). WebVTT inline timestamps (`<00:01.500>`) give word timings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// Inline cues (instead of `src`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cues: Option<Vec<Cue>>,
    /// Seconds added to every cue's times (negative: earlier).
    #[serde(default)]
    pub offset: f64,
    #[serde(default = "caption_style")]
    pub style: TextStyle,
    #[serde(default = "bottom")]
    pub position: Position,
    #[serde(default = "caption_margin")]
    pub margin: f64,
    /// Colour of the word being spoken (needs word timings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highlight: Option<Color>,
    /// Also mux the cues as a soft subtitle track (mov_text) in the MP4.
    #[serde(default)]
    pub soft: bool,
    /// Also write the cues beside the output as `<output>.srt` or `<output>.vtt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<SidecarFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SidecarFormat {
    Srt,
    Vtt,
}

/// One caption: shown over [start, end) on the output timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    /// The text; absent when `words` are given (then it is the words joined by spaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Word timings, for highlighting the word being spoken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words: Option<Vec<Word>>,
}

impl Cue {
    /// The text shown.
    pub fn display(&self) -> String {
        match (&self.text, &self.words) {
            (Some(t), _) => t.clone(),
            (None, Some(w)) => w.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "),
            (None, None) => String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Word {
    pub text: String,
    pub start: f64,
    pub end: f64,
}

fn caption_style() -> TextStyle {
    serde_json::from_value(serde_json::json!({"size": 44, "outline": {"width": 3}, "width": 0.85}))
        .expect("valid style")
}

fn caption_margin() -> f64 {
    0.08
}

/// Most cues in one captions track.
pub const MAX_CUES: usize = 20_000;

pub(super) fn check_captions_track(t: &CaptionsTrack, path: &str, errs: &mut Errors) {
    match (&t.src, &t.cues) {
        (Some(src), None) => {
            if let Err(reason) = check_src(src) {
                errs.add(join(path, "src"), reason);
            }
        }
        (None, Some(cues)) => {
            if cues.is_empty() {
                errs.add(join(path, "cues"), "no cues");
            }
            if cues.len() > MAX_CUES {
                errs.add(join(path, "cues"), format!("{} cues; the limit is {MAX_CUES}", cues.len()));
            }
            for (i, c) in cues.iter().enumerate() {
                let p = format!("{path}.cues[{i}]");
                if check_time(c.start, join(&p, "start"), errs) & check_time(c.end, join(&p, "end"), errs)
                    && c.end <= c.start
                {
                    errs.add(join(&p, "end"), format!("end ({}) must be after start ({})", c.end, c.start));
                }
                match (&c.text, &c.words) {
                    (None, None) => errs.add(p.clone(), "give text, words, or both"),
                    (Some(text), _) => check_text(text, join(&p, "text"), errs),
                    _ => {}
                }
                for (j, w) in c.words.iter().flatten().enumerate() {
                    let wp = format!("{p}.words[{j}]");
                    check_text(&w.text, join(&wp, "text"), errs);
                    if w.end <= w.start || w.start < c.start - 1e-9 || w.end > c.end + 1e-9 {
                        errs.add(
                            wp,
                            format!("[{}, {}) must be a span inside its cue [{}, {})", w.start, w.end, c.start, c.end),
                        );
                    }
                }
            }
        }
        _ => errs.add(path.to_string(), "give src (an SRT or WebVTT file) or cues, one of them"),
    }
    check_range(t.offset, -MAX_SECONDS..=MAX_SECONDS, join(path, "offset"), " s", errs);
    check_style(&t.style, &join(path, "style"), errs);
    check_place(&t.position, t.margin, path, errs);
}
