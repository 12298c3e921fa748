//! Colours: parsed from the spec into RGB, formatted for FFmpeg by us (never passed through).

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Color {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

const NAMES: &[(&str, [u8; 3])] = &[
    ("black", [0, 0, 0]),
    ("white", [255, 255, 255]),
    ("red", [255, 0, 0]),
    ("lime", [0, 255, 0]),
    ("green", [0, 128, 0]),
    ("blue", [0, 0, 255]),
    ("yellow", [255, 255, 0]),
    ("cyan", [0, 255, 255]),
    ("aqua", [0, 255, 255]),
    ("magenta", [255, 0, 255]),
    ("fuchsia", [255, 0, 255]),
    ("gray", [128, 128, 128]),
    ("grey", [128, 128, 128]),
    ("silver", [192, 192, 192]),
    ("maroon", [128, 0, 0]),
    ("olive", [128, 128, 0]),
    ("purple", [128, 0, 128]),
    ("teal", [0, 128, 128]),
    ("navy", [0, 0, 128]),
    ("orange", [255, 165, 0]),
];

impl Color {
    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Color { r, g, b }
    }

    /// `#RRGGBB`, `#RGB` or a CSS basic colour name (case-insensitive).
    pub fn parse(s: &str) -> Option<Color> {
        let s = s.trim();
        if let Some(hex) = s.strip_prefix('#') {
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let v = |i: usize, n: usize| u8::from_str_radix(&hex[i..i + n], 16).ok();
            return match hex.len() {
                6 => Some(Color::rgb(v(0, 2)?, v(2, 2)?, v(4, 2)?)),
                3 => Some(Color::rgb(v(0, 1)? * 17, v(1, 1)? * 17, v(2, 1)? * 17)),
                _ => None,
            };
        }
        let lower = s.to_ascii_lowercase();
        NAMES.iter().find(|(n, _)| *n == lower).map(|(_, [r, g, b])| Color::rgb(*r, *g, *b))
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
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
                "{s:?} is not a colour: use #RRGGBB, #RGB or a basic CSS name such as \"black\""
            ))
        })
    }
}

impl JsonSchema for Color {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Color".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
        schemars::json_schema!({
            "description": "#RRGGBB, #RGB or a basic CSS colour name.",
            "anyOf": [
                { "type": "string", "pattern": "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$" },
                { "type": "string", "enum": names }
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
    }
}
