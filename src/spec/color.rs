//! Colours: parsed from the spec into RGB, formatted for FFmpeg by us (never passed through).

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A colour with its opacity (`a`, 255 = opaque).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: u8,
}

impl Default for Color {
    /// Opaque black.
    fn default() -> Self {
        Color::rgb(0, 0, 0)
    }
}

/// The CSS named colours (CSS Color Module Level 4), sorted, and `transparent`.
pub fn names() -> Vec<&'static str> {
    let mut n: Vec<&str> = csscolorparser::NAMED_COLORS.keys().copied().chain(["transparent"]).collect();
    n.sort_unstable();
    n
}

impl Color {
    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Color { r, g, b, a: 255 }
    }

    /// `#RRGGBB`, `#RRGGBBAA`, `#RGB`, `#RGBA`, a CSS named colour (case-insensitive),
    /// `rgb()`/`rgba()` or `hsl()`/`hsla()` as CSS writes them.
    pub fn parse(s: &str) -> Option<Color> {
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        let hex = s
            .strip_prefix('#')
            .is_some_and(|h| matches!(h.len(), 3 | 4 | 6 | 8) && h.bytes().all(|b| b.is_ascii_hexdigit()));
        let function = ["rgb(", "rgba(", "hsl(", "hsla("].iter().any(|f| lower.starts_with(f)) && lower.ends_with(')');
        let named = lower == "transparent" || csscolorparser::NAMED_COLORS.contains_key(lower.as_str());
        if !(hex || function || named) {
            return None;
        }
        let [r, g, b, a] = csscolorparser::parse(&lower).ok()?.to_rgba8();
        Some(Color { r, g, b, a })
    }

    pub fn is_opaque(&self) -> bool {
        self.a == 255
    }

    /// Where a colour fills the frame itself (the background, a colour clip, a fade's colour),
    /// nothing lies beneath to show through: a colour with opacity is an error there.
    pub(super) fn check_opaque(&self, path: impl Into<String>, errs: &mut super::validate::Errors) {
        if !self.is_opaque() {
            errs.add(
                path,
                format!(
                    "{self} is partly transparent, but nothing lies beneath it in the frame: give an opaque \
                     colour (#RRGGBB or a name; opacity belongs to text, outlines, shadows and boxes)"
                ),
            );
        }
    }

    /// The opacity, 0–1.
    pub fn alpha(&self) -> f32 {
        self.a as f32 / 255.0
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)?;
        if self.a != 255 {
            write!(f, "{:02x}", self.a)?;
        }
        Ok(())
    }
}

impl Serialize for Color {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Color {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Color::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{s:?} is not a colour: use #RRGGBB, #RRGGBBAA (with opacity), a CSS colour name such as \"black\" or \"rebeccapurple\", or rgb()/rgba()/hsl()/hsla()"
            ))
        })
    }
}

impl JsonSchema for Color {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Color".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "#RRGGBB, #RRGGBBAA, #RGB, #RGBA, a CSS colour name, or rgb()/rgba()/hsl()/hsla().",
            "anyOf": [
                { "type": "string", "pattern": "^#([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$" },
                { "type": "string", "enum": names() },
                { "type": "string", "pattern": "^(?i)(rgba?|hsla?)\\(.*\\)$" }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        assert_eq!(Color::parse("#ff8000"), Some(Color::rgb(255, 128, 0)));
        assert_eq!(Color::parse("#F80"), Some(Color::rgb(255, 136, 0)));
        assert_eq!(Color::parse("Navy"), Some(Color::rgb(0, 0, 128)));
        assert_eq!(Color::parse("red:x"), None);
        assert_eq!(Color::parse("#12345"), None);
        assert_eq!(Color::parse("#+1+2+3"), None);
        assert_eq!(Color::parse("#00000080"), Some(Color { r: 0, g: 0, b: 0, a: 128 }));
        assert_eq!(Color::parse("#f808"), Some(Color { r: 255, g: 136, b: 0, a: 136 }));
        assert_eq!(Color::parse("RebeccaPurple"), Some(Color::rgb(102, 51, 153)));
        assert_eq!(Color::parse("transparent").map(|c| c.a), Some(0));
        assert_eq!(Color::parse("rgba(255, 0, 0, 0.5)"), Some(Color { r: 255, g: 0, b: 0, a: 128 }));
        assert_eq!(Color::parse("hsl(120, 100%, 25%)"), Some(Color::rgb(0, 128, 0)));
        // Not colours here, though a lenient parser takes them.
        assert_eq!(Color::parse("ff0000"), None);
        assert_eq!(Color::parse("0xff0000"), None);
        assert_eq!(Color::parse("notacolour"), None);
        assert_eq!(Color::parse("#00000080").unwrap().to_string(), "#00000080");
        assert_eq!(names().len(), 149);
    }
}
