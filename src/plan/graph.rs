//! A small typed filtergraph builder: allowlisted filter names, escaped values.
//!
//! Every option value passes through [`escape`] (FFmpeg's two levels of filtergraph
//! quoting), so no value can end an option, a filter or a chain. Graphs are written to
//! a script file and passed with `-filter_complex_script`, never as an argument.

use std::fmt::{self, Write};

/// The filters a plan may use: the planner's whole vocabulary. A name outside it cannot be
/// built, and [`check_vocabulary`] refuses any that reaches a run's arguments or script files
/// anyway: it keeps `movie`, `amovie`, `sendcmd`, `zmq` and friends out of every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Name {
    Setpts,
    Settb,
    Asetpts,
    Fps,
    Scale,
    Crop,
    Pad,
    Setsar,
    Format,
    Tpad,
    Trim,
    Atrim,
    Loop,
    Color,
    Anullsrc,
    Aresample,
    Aformat,
    Volume,
    Apad,
    Zscale,
    Tonemap,
    Transpose,
    Null,
    Anull,
    Xfade,
    Fade,
    Afade,
    Amix,
    Concat,
    Ebur128,
    Alimiter,
    Aloop,
    Adelay,
    Asetnsamples,
    Overlay,
    Colorchannelmixer,
    Perspective,
    Atempo,
    Palettegen,
    Paletteuse,
}

impl Name {
    pub const ALL: &'static [Name] = &[
        Name::Setpts,
        Name::Settb,
        Name::Asetpts,
        Name::Fps,
        Name::Scale,
        Name::Crop,
        Name::Pad,
        Name::Setsar,
        Name::Format,
        Name::Tpad,
        Name::Trim,
        Name::Atrim,
        Name::Loop,
        Name::Color,
        Name::Anullsrc,
        Name::Aresample,
        Name::Aformat,
        Name::Volume,
        Name::Apad,
        Name::Zscale,
        Name::Tonemap,
        Name::Transpose,
        Name::Null,
        Name::Anull,
        Name::Xfade,
        Name::Fade,
        Name::Afade,
        Name::Amix,
        Name::Concat,
        Name::Ebur128,
        Name::Alimiter,
        Name::Aloop,
        Name::Adelay,
        Name::Asetnsamples,
        Name::Overlay,
        Name::Colorchannelmixer,
        Name::Perspective,
        Name::Atempo,
        Name::Palettegen,
        Name::Paletteuse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Name::Setpts => "setpts",
            Name::Settb => "settb",
            Name::Asetpts => "asetpts",
            Name::Fps => "fps",
            Name::Scale => "scale",
            Name::Crop => "crop",
            Name::Pad => "pad",
            Name::Setsar => "setsar",
            Name::Format => "format",
            Name::Tpad => "tpad",
            Name::Trim => "trim",
            Name::Atrim => "atrim",
            Name::Loop => "loop",
            Name::Color => "color",
            Name::Anullsrc => "anullsrc",
            Name::Aresample => "aresample",
            Name::Aformat => "aformat",
            Name::Volume => "volume",
            Name::Apad => "apad",
            Name::Zscale => "zscale",
            Name::Tonemap => "tonemap",
            Name::Transpose => "transpose",
            Name::Null => "null",
            Name::Anull => "anull",
            Name::Xfade => "xfade",
            Name::Fade => "fade",
            Name::Afade => "afade",
            Name::Amix => "amix",
            Name::Concat => "concat",
            Name::Ebur128 => "ebur128",
            Name::Alimiter => "alimiter",
            Name::Aloop => "aloop",
            Name::Adelay => "adelay",
            Name::Asetnsamples => "asetnsamples",
            Name::Overlay => "overlay",
            Name::Colorchannelmixer => "colorchannelmixer",
            Name::Perspective => "perspective",
            Name::Atempo => "atempo",
            Name::Palettegen => "palettegen",
            Name::Paletteuse => "paletteuse",
        }
    }

    pub fn parse(s: &str) -> Option<Name> {
        Name::ALL.iter().copied().find(|n| n.as_str() == s)
    }
}

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
    name: Name,
    opts: Vec<(&'static str, Value)>,
    /// Its other options come from an earlier run's measurement (the second loudness pass):
    /// the render fills it in ([`Graph::fill_pending`]) before the run.
    pending: bool,
}

impl Filter {
    pub fn new(name: Name) -> Self {
        Filter { name, opts: Vec::new(), pending: false }
    }

    /// Mark this filter as awaiting a measurement (see [`Graph::fill_pending`]).
    pub fn pending(mut self) -> Self {
        self.pending = true;
        self
    }

    pub fn opt(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.opts.push((key, value.into()));
        self
    }

    pub fn name(&self) -> Name {
        self.name
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name.as_str())?;
        for (i, (k, v)) in self.opts.iter().enumerate() {
            f.write_char(if i == 0 { '=' } else { ':' })?;
            write!(f, "{k}={v}")?;
        }
        if self.pending {
            f.write_str(if self.opts.is_empty() { "=" } else { ":" })?;
            f.write_str("measured=pending")?;
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

    pub fn filter_names(&self) -> impl Iterator<Item = Name> + '_ {
        self.chains.iter().flat_map(|c| c.filters.iter().map(Filter::name))
    }

    /// Whether a filter still awaits a measurement.
    pub fn has_pending(&self) -> bool {
        self.chains.iter().any(|c| c.filters.iter().any(|f| f.pending))
    }

    /// Replace each filter awaiting a measurement by the filters `fill` makes of it.
    pub fn fill_pending(&mut self, fill: impl Fn(&Filter) -> Vec<Filter>) {
        for c in &mut self.chains {
            c.filters = c.filters.drain(..).flat_map(|f| if f.pending { fill(&f) } else { vec![f] }).collect();
        }
    }
}

impl serde::Serialize for Graph {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
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

/// One token of a filtergraph description, read as FFmpeg reads it (`av_get_token`): `\`
/// escapes the next character, `'…'` quotes, and an unquoted character of `stop` ends it.
fn token(chars: &mut std::iter::Peekable<std::str::Chars>, stop: &str) -> String {
    let mut out = String::new();
    while let Some(&c) = chars.peek() {
        if stop.contains(c) {
            break;
        }
        chars.next();
        match c {
            '\\' => out.extend(chars.next()),
            '\'' => {
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    out.push(q);
                }
            }
            c => out.push(c),
        }
    }
    out.trim().to_string()
}

/// The names of the filters a filtergraph description uses, as FFmpeg would read them
/// (labels, quoting and escapes honoured; `name@instance` is `name`).
pub fn names_in(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        // Whitespace and input labels before a filter.
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
            } else if c == '[' {
                chars.by_ref().find(|&c| c == ']');
            } else {
                break;
            }
        }
        if chars.peek().is_none() {
            break;
        }
        let name = token(&mut chars, "=,;[");
        names.push(name.split('@').next().unwrap_or("").to_string());
        if chars.peek() == Some(&'=') {
            chars.next();
            token(&mut chars, "[],;");
        }
        // Output labels, then the separator.
        while let Some(&c) = chars.peek() {
            match c {
                '[' => {
                    chars.by_ref().find(|&c| c == ']');
                }
                ',' | ';' => {
                    chars.next();
                    break;
                }
                c if c.is_whitespace() => {
                    chars.next();
                }
                _ => break,
            }
        }
    }
    names
}

/// Options whose value is a filtergraph, and options whose value names a file holding one.
const GRAPH_OPTIONS: &[&str] = &["-vf", "-af", "-filter_complex", "-lavfi", "-filter", "-filter:v", "-filter:a"];
const GRAPH_FILE_OPTIONS: &[&str] =
    &["-filter_complex_script", "-filter_script", "-filter_script:v", "-filter_script:a", "-/filter_complex"];

/// Check that every filter a run would use — in its final arguments and in the script files
/// it reads (`files`: name → contents) — is in the planner's vocabulary ([`Name`]). A graph
/// file the run names that is not among `files` is refused too: cutlist writes every graph.
pub fn check_vocabulary(args: &[String], files: &[(&str, &str)]) -> Result<(), String> {
    for (i, pair) in args.windows(2).enumerate() {
        let (opt, value) = (pair[0].as_str(), pair[1].as_str());
        let text = if GRAPH_OPTIONS.contains(&opt) {
            value
        } else if GRAPH_FILE_OPTIONS.contains(&opt) {
            match files.iter().find(|(name, _)| *name == value) {
                Some((_, contents)) => contents,
                None => return Err(format!("argument {}: the graph file {value:?} is not one cutlist wrote", i + 1)),
            }
        } else {
            continue;
        };
        if let Some(bad) = names_in(text).into_iter().find(|n| Name::parse(n).is_none()) {
            return Err(format!("argument {}: the filter {bad:?} is outside cutlist's vocabulary", i + 1));
        }
    }
    Ok(())
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
    fn reads_filter_names_as_ffmpeg_does() {
        let g = "[0:v]scale=w=320:h=240,setsar=r=1[v];\n[a][b]amix=inputs=2[out];anullsrc@x=r=48000[z]";
        assert_eq!(names_in(g), ["scale", "setsar", "amix", "anullsrc"]);
        // Escaped and quoted separators belong to option values, not to the graph.
        let quoted = format!("color=c={}:s=2x2,null", escape("red,movie=x;[m]"));
        assert_eq!(names_in(&quoted), ["color", "null"]);
        assert_eq!(names_in("'mo'vie=f.mp4"), ["movie"]);
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_vocabulary(&args(&["-vf", "scale=2:2,palettegen"]), &[]).is_ok());
        let e = check_vocabulary(&args(&["-i", "a.mp4", "-vf", "scale=2:2,movie=/etc/passwd"]), &[]).unwrap_err();
        assert!(e.contains("\"movie\""), "{e}");
        let files = [("seg.graph", "[0:v]null[v];amovie=x.wav[a]")];
        assert!(check_vocabulary(&args(&["-filter_complex_script", "seg.graph"]), &files).is_err());
        assert!(check_vocabulary(&args(&["-filter_complex_script", "other.graph"]), &files).is_err());
        assert!(
            check_vocabulary(&args(&["-filter_complex_script", "seg.graph"]), &[("seg.graph", "[0:v]null[v]")]).is_ok()
        );
    }

    #[test]
    fn renders_chains() {
        let mut g = Graph::default();
        g.push(
            Chain::new(&["0:v"])
                .then(Filter::new(Name::Scale).opt("w", 320u32).opt("h", 240u32))
                .then(Filter::new(Name::Setsar).opt("r", 1u32))
                .to("v"),
        );
        g.push(Chain::new(&[]).then(Filter::new(Name::Anullsrc).opt("r", 48000u32).opt("cl", "stereo")).to("a"));
        assert_eq!(g.to_string(), "[0:v]scale=w=320:h=240,setsar=r=1[v];\nanullsrc=r=48000:cl=stereo[a]\n");
    }
}
