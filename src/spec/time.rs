//! Frame rates as exact rationals, and the output frame grid every time snaps to.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An exact frame rate such as 30/1 or 30000/1001.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rational {
    pub num: u32,
    pub den: u32,
}

/// The even whole number nearest to `v` (at least 2): what yuv420p sizes must be.
pub fn even(v: f64) -> u32 {
    ((v / 2.0).round() as u32).max(1) * 2
}

impl Rational {
    pub const fn new(num: u32, den: u32) -> Self {
        Rational { num, den }
    }

    pub fn as_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// Parse `30`, `"30"` or `"30000/1001"`.
    pub fn parse(s: &str) -> Option<Rational> {
        let s = s.trim();
        let (n, d) = match s.split_once('/') {
            Some((n, d)) => (n.trim().parse().ok()?, d.trim().parse().ok()?),
            None => (s.parse().ok()?, 1),
        };
        (d != 0).then_some(Rational::new(n, d))
    }

    /// The frame index nearest to `seconds` on this grid.
    pub fn frame_at(self, seconds: f64) -> u64 {
        (seconds * self.num as f64 / self.den as f64).round().max(0.0) as u64
    }

    /// The time, in seconds, at which frame `frame` starts.
    pub fn seconds_at(self, frame: u64) -> f64 {
        frame as f64 * self.den as f64 / self.num as f64
    }

    /// The audio sample that coincides with the start of `frame` (rounded), so that
    /// clip boundaries in samples never drift from clip boundaries in frames.
    pub fn sample_at(self, frame: u64, sample_rate: u32) -> u64 {
        let n = frame as u128 * sample_rate as u128 * self.den as u128;
        let d = self.num as u128;
        ((n + d / 2) / d) as u64
    }
}

impl fmt::Display for Rational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

impl Serialize for Rational {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.den == 1 {
            s.serialize_u32(self.num)
        } else {
            s.serialize_str(&self.to_string())
        }
    }
}

impl<'de> Deserialize<'de> for Rational {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u32),
            Float(f64),
            Str(String),
        }
        let bad = || {
            serde::de::Error::custom(
                "expected a whole number of frames per second (30) or a ratio string (\"30000/1001\")",
            )
        };
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Rational::new(n, 1)),
            Raw::Float(f) if f.fract() == 0.0 && f >= 0.0 && f <= u32::MAX as f64 => Ok(Rational::new(f as u32, 1)),
            Raw::Float(_) => Err(bad()),
            Raw::Str(s) => Rational::parse(&s).ok_or_else(bad),
        }
    }
}

impl JsonSchema for Rational {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FrameRate".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Frames per second: a whole number (30) or an exact ratio string (\"30000/1001\").",
            "oneOf": [
                { "type": "integer", "minimum": 1, "maximum": 120 },
                { "type": "string", "pattern": "^[0-9]+/[0-9]+$" }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_snap_to_nearest() {
        let r = Rational::new(30, 1);
        assert_eq!(r.frame_at(1.0), 30);
        assert_eq!(r.frame_at(1.016), 30);
        assert_eq!(r.frame_at(1.017), 31);
        let ntsc = Rational::parse("30000/1001").unwrap();
        assert_eq!(ntsc.frame_at(10.01), 300);
    }

    #[test]
    fn samples_follow_frames_without_drift() {
        let ntsc = Rational::new(30000, 1001);
        // 1001 samples-per-frame ratio: 48000*1001/30000 = 1601.6 samples per frame.
        let total: u64 = (0..1000u64).map(|f| ntsc.sample_at(f + 1, 48000) - ntsc.sample_at(f, 48000)).sum();
        assert_eq!(total, ntsc.sample_at(1000, 48000));
        assert_eq!(ntsc.sample_at(1000, 48000), 1_601_600);
    }

    #[test]
    fn parses_ratios() {
        assert_eq!(Rational::parse("25"), Some(Rational::new(25, 1)));
        assert_eq!(Rational::parse("24000/1001"), Some(Rational::new(24000, 1001)));
        assert_eq!(Rational::parse("1/0"), None);
        assert_eq!(Rational::parse("x"), None);
    }
}
