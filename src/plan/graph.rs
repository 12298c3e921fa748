//! A small typed filtergraph builder: allowlisted filter names, escaped values.
//!
//! Every option value passes through [`escape`] (FFmpeg's two levels of filtergraph
//! quoting), so no value can end an option, a filter or a chain. Graphs are written to
//! a script file and passed with `-filter_complex_script`, never as an argument.

use std::fmt::{self, Write};

/// The filters a plan may use. A filter outside this list is a bug (checked in tests):
/// it keeps `movie`, `amovie`, `sendcmd`, `zmq` and friends out of every graph.
pub const ALLOWED_FILTERS: &[&str] = &[
    "setpts",
    "asetpts",
    "fps",
    "scale",
    "crop",
    "pad",
    "setsar",
    "format",
    "tpad",
    "trim",
    "atrim",
    "loop",
    "color",
    "anullsrc",
    "aresample",
    "aformat",
    "volume",
    "apad",
    "zscale",
    "tonemap",
    "transpose",
    "null",
    "anull",
    "xfade",
    "fade",
    "afade",
    "amix",
    "concat",
    "loudnorm",
    "aloop",
    "adelay",
    "asetnsamples",
    "overlay",
    "colorchannelmixer",
    "perspective",
    "atempo",
    "palettegen",
    "paletteuse",
];

/// An option value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    /// Printed with up to 6 decimals, never in exponent form.
    Num(f64),
    /// Any text: escaped.
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(v as i64)
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Int(v as i64)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v as i64)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Num(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

/// Format a number for FFmpeg: fixed point, trailing zeros trimmed.
pub fn num(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" || s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// Quote `s` for use as one option value inside a filtergraph description.
///
/// Level 1 (option value): wrap in `'…'`, writing each `'` as `'\''`.
/// Level 2 (graph description): backslash-escape `\ ' [ ] , ;`.
/// Values made only of harmless characters are left as they are, for readable graphs.
pub fn escape(s: &str) -> String {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-+/*()".contains(c));
    if plain {
        return s.to_string();
    }
    let level1 = format!("'{}'", s.replace('\'', "'\\''"));
    let mut out = String::with_capacity(level1.len() * 2);
    for c in level1.chars() {
        if "\\'[],;".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Num(v) => f.write_str(&num(*v)),
            Value::Text(s) => f.write_str(&escape(s)),
        }
    }
}

/// One filter with named options, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    name: &'static str,
    opts: Vec<(&'static str, Value)>,
}

impl Filter {
    pub fn new(name: &'static str) -> Self {
        debug_assert!(ALLOWED_FILTERS.contains(&name), "filter {name} is not allowlisted");
        Filter { name, opts: Vec::new() }
    }

    pub fn opt(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.opts.push((key, value.into()));
        self
    }

    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)?;
        for (i, (k, v)) in self.opts.iter().enumerate() {
            f.write_char(if i == 0 { '=' } else { ':' })?;
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

/// A pad label: our own names only (`0:v`, `v`, `a`).
#[derive(Debug, Clone, PartialEq)]
pub struct Pad(String);

impl Pad {
    pub fn new(label: impl Into<String>) -> Self {
        let label = label.into();
        assert!(
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "pad label {label:?}"
        );
        Pad(label)
    }
}

/// `[in]filter,filter[out]`
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    pub inputs: Vec<Pad>,
    pub filters: Vec<Filter>,
    pub outputs: Vec<Pad>,
}

impl Chain {
    pub fn new(inputs: &[&str]) -> Self {
        Chain { inputs: inputs.iter().map(|s| Pad::new(*s)).collect(), filters: vec![], outputs: vec![] }
    }

    pub fn then(mut self, f: Filter) -> Self {
        self.filters.push(f);
        self
    }

    pub fn then_all(mut self, fs: impl IntoIterator<Item = Filter>) -> Self {
        self.filters.extend(fs);
        self
    }

    pub fn to(mut self, out: &str) -> Self {
        self.outputs.push(Pad::new(out));
        self
    }
}

/// A whole graph: chains separated by `;`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    pub chains: Vec<Chain>,
}

impl Graph {
    pub fn push(&mut self, c: Chain) {
        self.chains.push(c);
    }

    pub fn filter_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.chains.iter().flat_map(|c| c.filters.iter().map(Filter::name))
    }
}

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.chains.iter().enumerate() {
            if i > 0 {
                f.write_str(";\n")?;
            }
            for p in &c.inputs {
                write!(f, "[{}]", p.0)?;
            }
            for (j, flt) in c.filters.iter().enumerate() {
                if j > 0 {
                    f.write_char(',')?;
                }
                write!(f, "{flt}")?;
            }
            for p in &c.outputs {
                write!(f, "[{}]", p.0)?;
            }
        }
        f.write_char('\n')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_never_use_exponents() {
        assert_eq!(num(1e-7), "0");
        assert_eq!(num(2.5), "2.5");
        assert_eq!(num(3.0), "3");
        assert_eq!(num(1e21), "1000000000000000000000");
        assert_eq!(num(-0.0000001), "0");
    }

    #[test]
    fn escaping_closes_every_door() {
        assert_eq!(escape("0x10FF00"), "0x10FF00");
        assert_eq!(escape("a:b"), r"\'a:b\'");
        assert_eq!(escape("it's"), r"\'it\'\\\'\'s\'");
        let hostile = "x';movie=/etc/passwd[m];[m]null";
        let e = escape(hostile);
        // No unescaped graph separator survives.
        let mut prev = ' ';
        for c in e.chars() {
            if "[];,".contains(c) {
                assert_eq!(prev, '\\', "unescaped {c} in {e}");
            }
            prev = c;
        }
    }

    #[test]
    fn renders_chains() {
        let mut g = Graph::default();
        g.push(
            Chain::new(&["0:v"])
                .then(Filter::new("scale").opt("w", 320u32).opt("h", 240u32))
                .then(Filter::new("setsar").opt("r", 1u32))
                .to("v"),
        );
        g.push(Chain::new(&[]).then(Filter::new("anullsrc").opt("r", 48000u32).opt("cl", "stereo")).to("a"));
        assert_eq!(g.to_string(), "[0:v]scale=w=320:h=240,setsar=r=1[v];\nanullsrc=r=48000:cl=stereo[a]\n");
    }
}
