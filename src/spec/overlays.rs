//! Overlay tracks: text, pictures and picture-in-picture over the main track, where they sit
//! and how text looks; and their checks.

use super::validate::*;
use super::*;

/// Pictures drawn over the main track.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OverlayTrack {
    pub items: Vec<OverlayItem>,
}

/// One thing drawn over the picture for a while.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum OverlayItem {
    /// Text laid out and drawn by cutlist (shaping, wrapping, colour emoji).
    Text(TextItem),
    /// A picture: logo, watermark, sticker (PNG transparency kept).
    Image(ImageItem),
    /// A video in a corner: picture-in-picture, with its own sound.
    Video(VideoItem),
}

impl OverlayItem {
    /// [start, start + duration) on the output timeline, seconds (video items: their trim's length).
    pub fn span(&self) -> (f64, Option<f64>) {
        match self {
            OverlayItem::Text(t) => (t.start, Some(t.duration)),
            OverlayItem::Image(i) => (i.start, Some(i.duration)),
            OverlayItem::Video(v) => (v.start, v.out.map(|o| o - v.in_)),
        }
    }
}

/// Where an overlay sits: a named place inside the safe margins, or the centre of the
/// overlay at fractions of the frame (`{"x": 0.5, "y": 0.8}`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Position {
    Named(Anchor),
    At { x: f64, y: f64 },
}

impl Default for Position {
    fn default() -> Self {
        Position::Named(Anchor::Center)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    TopLeft,
    Top,
    TopRight,
    Left,
    Center,
    Right,
    BottomLeft,
    Bottom,
    BottomRight,
}

/// Text over the picture.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextItem {
    /// The text, as is: no markup, no expansion. `\n` breaks a line; long lines wrap.
    pub text: String,
    /// Seconds on the output timeline (snaps to the frame grid).
    #[serde(default)]
    pub start: f64,
    /// Seconds.
    pub duration: f64,
    #[serde(default)]
    pub style: TextStyle,
    #[serde(default = "bottom")]
    pub position: Position,
    /// Safe margin kept by named positions, as a fraction of the frame's shorter side.
    #[serde(default = "default_margin")]
    pub margin: f64,
    #[serde(default)]
    pub fade_in: f64,
    #[serde(default)]
    pub fade_out: f64,
}

/// How text looks.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextStyle {
    /// A font file (TTF/OTF; URL or path), fetched like any asset. Absent: the bundled DejaVu
    /// Sans. Glyphs the font lacks (emoji, other scripts) come from the fonts installed on
    /// the machine (Noto Color Emoji for emoji).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font: Option<String>,
    /// Font size: output pixels (4–1000), or relative to the frame as CSS writes it:
    /// `"5vh"` (5 % of its height), `"5vw"` (of its width), `"5vmin"` (of the smaller).
    #[serde(default = "default_font_size")]
    pub size: FontSize,
    #[serde(default = "white")]
    pub color: Color,
    /// Opacity of the whole text, 0–1.
    #[serde(default = "one")]
    pub opacity: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outline: Option<Outline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<Shadow>,
    /// A box behind the text.
    #[serde(rename = "box", default, skip_serializing_if = "Option::is_none")]
    pub box_: Option<TextBox>,
    #[serde(default)]
    pub align: TextAlign,
    /// Width lines wrap at, as a fraction of the frame's width (0.05–1).
    #[serde(default = "default_wrap")]
    pub width: f64,
    /// Line height as a multiple of the size.
    #[serde(default = "default_line_height")]
    pub line_height: f64,
}

impl Default for TextStyle {
    fn default() -> Self {
        serde_json::from_value(serde_json::json!({})).expect("every field has a default")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outline {
    #[serde(default)]
    pub color: Color,
    /// Pixels, 0–20.
    #[serde(default = "two")]
    pub width: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shadow {
    #[serde(default)]
    pub color: Color,
    /// Offset in pixels, −50–50.
    #[serde(default = "two")]
    pub x: f64,
    #[serde(default = "two")]
    pub y: f64,
    /// 0–1.
    #[serde(default = "default_shadow_opacity")]
    pub opacity: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBox {
    #[serde(default)]
    pub color: Color,
    /// 0–1.
    #[serde(default = "default_box_opacity")]
    pub opacity: f64,
    /// Pixels around the text, 0–200.
    #[serde(default = "default_padding")]
    pub padding: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TextAlign {
    Left,
    #[default]
    Center,
    Right,
}

/// A picture over the video.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageItem {
    /// PNG (transparency kept), JPEG, WebP…: a URL, an object or a local path.
    pub src: String,
    #[serde(default)]
    pub start: f64,
    pub duration: f64,
    #[serde(default = "top_right")]
    pub position: Position,
    #[serde(default = "default_margin")]
    pub margin: f64,
    /// Width as a fraction of the frame's width (0.01–1); the height keeps the aspect ratio.
    /// Absent: the picture's own size (shrunk to fit the frame).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    /// 0–1.
    #[serde(default = "one")]
    pub opacity: f64,
    #[serde(default)]
    pub fade_in: f64,
    #[serde(default)]
    pub fade_out: f64,
}

/// A video over the video (picture-in-picture).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoItem {
    pub src: String,
    /// Where it starts on the output timeline, seconds.
    #[serde(default)]
    pub start: f64,
    /// Start in the source, seconds.
    #[serde(rename = "in", default)]
    pub in_: f64,
    /// End in the source, seconds. Absent: the end of the media (or of the video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<f64>,
    #[serde(default = "bottom_right")]
    pub position: Position,
    #[serde(default = "default_margin")]
    pub margin: f64,
    /// Width as a fraction of the frame's width (0.05–1); the height keeps the aspect ratio.
    #[serde(default = "default_pip_width")]
    pub width: f64,
    /// Gain of its sound, mixed with the rest.
    #[serde(default)]
    pub volume: Gain,
    #[serde(default)]
    pub mute: bool,
}

fn white() -> Color {
    Color::rgb(255, 255, 255)
}

fn two() -> f64 {
    2.0
}

pub(super) fn bottom() -> Position {
    Position::Named(Anchor::Bottom)
}

fn top_right() -> Position {
    Position::Named(Anchor::TopRight)
}

fn bottom_right() -> Position {
    Position::Named(Anchor::BottomRight)
}

fn default_margin() -> f64 {
    0.05
}

fn default_font_size() -> FontSize {
    FontSize { value: 48.0, unit: SizeUnit::Px }
}

/// What a font size is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeUnit {
    /// Output pixels.
    Px,
    /// Hundredths of the frame's height.
    Vh,
    /// Hundredths of the frame's width.
    Vw,
    /// Hundredths of the frame's smaller side.
    Vmin,
}

/// A font size: pixels, or relative to the frame (a template then looks the same at every
/// resolution).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FontSize {
    pub value: f64,
    pub unit: SizeUnit,
}

impl FontSize {
    /// Parse `48`, `"48px"`, `"5vh"`, `"5vw"`, `"5vmin"`.
    pub fn parse(s: &str) -> Option<FontSize> {
        let t = s.trim().to_ascii_lowercase();
        let (num, unit) = [("vmin", SizeUnit::Vmin), ("vh", SizeUnit::Vh), ("vw", SizeUnit::Vw), ("px", SizeUnit::Px)]
            .into_iter()
            .find_map(|(suffix, unit)| t.strip_suffix(suffix).map(|n| (n.trim().to_string(), unit)))
            .unwrap_or((t.clone(), SizeUnit::Px));
        num.parse::<f64>().ok().filter(|v| v.is_finite()).map(|value| FontSize { value, unit })
    }

    /// The size in pixels of a `frame` (width, height).
    pub fn pixels(&self, frame: (u32, u32)) -> f64 {
        let (w, h) = (frame.0 as f64, frame.1 as f64);
        match self.unit {
            SizeUnit::Px => self.value,
            SizeUnit::Vh => self.value / 100.0 * h,
            SizeUnit::Vw => self.value / 100.0 * w,
            SizeUnit::Vmin => self.value / 100.0 * w.min(h),
        }
    }
}

impl Serialize for FontSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.unit {
            SizeUnit::Px => s.serialize_f64(self.value),
            SizeUnit::Vh => s.collect_str(&format_args!("{}vh", self.value)),
            SizeUnit::Vw => s.collect_str(&format_args!("{}vw", self.value)),
            SizeUnit::Vmin => s.collect_str(&format_args!("{}vmin", self.value)),
        }
    }
}

impl<'de> Deserialize<'de> for FontSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumberOrText::deserialize(d)? {
            NumberOrText::Number(value) => Ok(FontSize { value, unit: SizeUnit::Px }),
            NumberOrText::Text(s) => FontSize::parse(&s).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{s:?} is not a size: give pixels (48) or a share of the frame: \"5vh\" (of its height), \"5vw\" (of its width), \"5vmin\" (of the smaller side)"
                ))
            }),
        }
    }
}

impl JsonSchema for FontSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FontSize".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Pixels (48), or relative to the frame: \"5vh\", \"5vw\", \"5vmin\".",
            "oneOf": [
                { "type": "number", "minimum": 4, "maximum": 1000 },
                { "type": "string", "pattern": "^ *[0-9.]+ *([pP][xX]|[vV][hHwW]|[vV][mM][iI][nN])? *$" }
            ]
        })
    }
}

fn default_wrap() -> f64 {
    0.9
}

fn default_line_height() -> f64 {
    1.25
}

fn default_shadow_opacity() -> f64 {
    0.6
}

fn default_box_opacity() -> f64 {
    0.6
}

fn default_padding() -> f64 {
    12.0
}

fn default_pip_width() -> f64 {
    0.3
}

/// Longest text of one overlay, characters.
pub const MAX_TEXT_CHARS: usize = 5000;

pub(super) fn check_span(start: f64, duration: f64, fades: (f64, f64), path: &str, errs: &mut Errors) {
    check_time(start, join(path, "start"), errs);
    if duration <= 0.0 {
        errs.add(join(path, "duration"), format!("{duration} must be positive"));
    } else if check_time(duration, join(path, "duration"), errs) {
        let ok = check_time(fades.0, join(path, "fade_in"), errs) & check_time(fades.1, join(path, "fade_out"), errs);
        if ok && fades.0 + fades.1 > duration + 1e-9 {
            errs.add(
                join(path, "fade_out"),
                format!("fade_in + fade_out ({} s) is longer than the duration ({duration} s)", fades.0 + fades.1),
            );
        }
    }
}

pub(super) fn check_place(position: &Position, margin: f64, path: &str, errs: &mut Errors) {
    if let Position::At { x, y } = position {
        check_range(*x, -1.0..=2.0, join(path, "position.x"), " (fraction of the width)", errs);
        check_range(*y, -1.0..=2.0, join(path, "position.y"), " (fraction of the height)", errs);
    }
    check_range(margin, 0.0..=0.4, join(path, "margin"), " (fraction of the shorter side)", errs);
}

pub(super) fn check_text(text: &str, path: String, errs: &mut Errors) {
    if text.trim().is_empty() {
        errs.add(path, "must not be empty");
    } else if text.chars().count() > MAX_TEXT_CHARS {
        errs.add(path, format!("{} characters; the limit is {MAX_TEXT_CHARS}", text.chars().count()));
    } else if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        errs.add(path, "contains a control character (only \\n and \\t are allowed)");
    }
}

pub(super) fn check_style(st: &TextStyle, p: &str, errs: &mut Errors) {
    if let Some(font) = &st.font {
        if let Err(reason) = check_src(font) {
            errs.add(join(p, "font"), reason);
        }
    }
    match st.size.unit {
        SizeUnit::Px => check_range(st.size.value, 4.0..=1000.0, join(p, "size"), " px", errs),
        _ => check_range(st.size.value, 0.2..=50.0, join(p, "size"), " (hundredths of the frame)", errs),
    }
    check_range(st.opacity, 0.0..=1.0, join(p, "opacity"), "", errs);
    check_range(st.width, 0.05..=1.0, join(p, "width"), " (fraction of the width)", errs);
    check_range(st.line_height, 0.5..=3.0, join(p, "line_height"), "", errs);
    if let Some(o) = &st.outline {
        check_range(o.width, 0.0..=20.0, join(p, "outline.width"), " px", errs);
    }
    if let Some(sh) = &st.shadow {
        check_range(sh.x, -50.0..=50.0, join(p, "shadow.x"), " px", errs);
        check_range(sh.y, -50.0..=50.0, join(p, "shadow.y"), " px", errs);
        check_range(sh.opacity, 0.0..=1.0, join(p, "shadow.opacity"), "", errs);
    }
    if let Some(b) = &st.box_ {
        check_range(b.opacity, 0.0..=1.0, join(p, "box.opacity"), "", errs);
        check_range(b.padding, 0.0..=200.0, join(p, "box.padding"), " px", errs);
    }
}

pub(super) fn check_overlay_track(t: &OverlayTrack, path: &str, errs: &mut Errors) {
    if t.items.is_empty() {
        errs.add(join(path, "items"), "the track has no items");
    }
    if t.items.len() > MAX_CLIPS {
        errs.add(join(path, "items"), format!("{} items; the limit is {MAX_CLIPS}", t.items.len()));
    }
    for (i, item) in t.items.iter().enumerate() {
        let p = format!("{path}.items[{i}]");
        match item {
            OverlayItem::Text(x) => {
                check_text(&x.text, join(&p, "text"), errs);
                check_span(x.start, x.duration, (x.fade_in, x.fade_out), &p, errs);
                check_place(&x.position, x.margin, &p, errs);
                check_style(&x.style, &join(&p, "style"), errs);
            }
            OverlayItem::Image(x) => {
                if let Err(reason) = check_src(&x.src) {
                    errs.add(join(&p, "src"), reason);
                }
                check_span(x.start, x.duration, (x.fade_in, x.fade_out), &p, errs);
                check_place(&x.position, x.margin, &p, errs);
                if let Some(w) = x.width {
                    check_range(w, 0.01..=1.0, join(&p, "width"), " (fraction of the width)", errs);
                }
                check_range(x.opacity, 0.0..=1.0, join(&p, "opacity"), "", errs);
            }
            OverlayItem::Video(x) => {
                if let Err(reason) = check_src(&x.src) {
                    errs.add(join(&p, "src"), reason);
                }
                check_time(x.start, join(&p, "start"), errs);
                let in_ok = check_time(x.in_, join(&p, "in"), errs);
                if let Some(out) = x.out {
                    if check_time(out, join(&p, "out"), errs) && in_ok && out <= x.in_ {
                        errs.add(join(&p, "out"), format!("out ({out}) must be after in ({})", x.in_));
                    }
                }
                check_place(&x.position, x.margin, &p, errs);
                check_range(x.width, 0.05..=1.0, join(&p, "width"), " (fraction of the width)", errs);
            }
        }
    }
}
