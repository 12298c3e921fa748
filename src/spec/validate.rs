//! Reading a spec: every error at once, each with its JSON path and reason.
//!
//! serde stops at the first error, so the document is read part by part (the output,
//! each track, each clip) and every part that reads is then checked for what types
//! cannot say (ranges, in < out, frame grid, schemes).

use super::address::scheme_of;
use super::audio::check_audio_track;
use super::captions::check_captions_track;
use super::clips::{check_clip, read_clip};
use super::output::check_output;
use super::overlays::check_overlay_track;
use super::*;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::fmt;

/// Longest timeline and latest source time accepted, in seconds (4 hours).
pub const MAX_SECONDS: f64 = 4.0 * 3600.0;

/// Most clips on one track.
pub const MAX_CLIPS: usize = 2000;
/// Most tracks on a timeline.
pub const MAX_TRACKS: usize = 32;

/// Largest output side in pixels.
pub const MAX_SIDE: u32 = 7680;

/// One problem in a spec: where (a JSON path such as `timeline.tracks[0].clips[3].out`) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecError {
    pub path: String,
    pub reason: String,
}

/// All problems found in a spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationErrors(pub Vec<SpecError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "the spec has {n} error{}:", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            let path = if e.path.is_empty() { "(document)" } else { &e.path };
            write!(f, "\n  {path}: {}", e.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

#[derive(Default)]
pub(super) struct Errors(Vec<SpecError>);

impl Errors {
    pub(super) fn add(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.0.push(SpecError { path: path.into(), reason: reason.into() });
    }
}

pub(super) fn join(base: &str, field: &str) -> String {
    match (base.is_empty(), field.is_empty() || field == ".") {
        (_, true) => base.to_string(),
        (true, false) => field.to_string(),
        (false, false) if field.starts_with('[') => format!("{base}{field}"),
        (false, false) => format!("{base}.{field}"),
    }
}

/// Deserialize one part, recording at most one error for it with its full path.
/// Deserialize one part, recording an error for every field that does not read (serde stops
/// at the first: each failing field is set aside and the part read again), so one object
/// with several problems lists them all. The part is returned when the rest reads, for the
/// checks that follow; the errors recorded keep the spec from being accepted.
/// The path below `v` of the one string equal to `s` (none when several are), `depth` levels
/// down at most.
fn holding(v: &Value, s: &str, depth: u32) -> Option<Vec<String>> {
    fn walk(v: &Value, s: &str, depth: u32, at: &mut Vec<String>, found: &mut Vec<Vec<String>>) {
        match v {
            Value::String(x) if x == s => found.push(at.clone()),
            Value::Object(m) if depth > 0 => {
                for (k, x) in m {
                    at.push(k.clone());
                    walk(x, s, depth - 1, at, found);
                    at.pop();
                }
            }
            Value::Array(a) if depth > 0 => {
                for (i, x) in a.iter().enumerate() {
                    at.push(format!("[{i}]"));
                    walk(x, s, depth - 1, at, found);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(v, s, depth, &mut Vec::new(), &mut found);
    (found.len() == 1).then(|| found.remove(0)).filter(|p| !p.is_empty())
}

pub(super) fn read<T: DeserializeOwned>(mut value: Value, path: &str, errs: &mut Errors) -> Option<T> {
    let mut removed: Vec<Vec<String>> = Vec::new();
    for _ in 0..64 {
        let e = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let mut keys: Vec<String> = e
            .path()
            .iter()
            .map(|seg| match seg {
                serde_path_to_error::Segment::Map { key } => key.clone(),
                serde_path_to_error::Segment::Seq { index } => format!("[{index}]"),
                _ => String::new(),
            })
            .filter(|k| !k.is_empty())
            .collect();
        let mut reason = e.inner().to_string();
        // An untagged enum's error names the object, not its field: find the field.
        if let Some(name) = reason.split("untagged enum ").nth(1).map(snake_case) {
            if lookup(&value, &keys).and_then(|v| v.get(&name)).is_some() {
                keys.push(name);
            }
        }
        // A value our own types refuse (`"6em" is not a size`) inside a tagged part (an overlay
        // item, a clip) is reported at the part: find the field holding that value.
        // A required field set aside for its error is missing now: it was reported already.
        if let Some(name) = reason.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
            let mut at = keys.clone();
            at.push(name.to_string());
            if removed.contains(&at) {
                return None;
            }
        }
        if let Some(quoted) = reason.strip_prefix('"').and_then(|r| r.split_once("\" is not ")).map(|(q, _)| q) {
            if let Some(more) = lookup(&value, &keys).and_then(|v| holding(v, quoted, 4)) {
                keys.extend(more);
            }
        }
        let field = keys.iter().fold(String::new(), |p, k| join(&p, k));
        reason = explain(&reason, lookup(&value, &keys));
        errs.add(join(path, &field), reason);
        // Set the field aside (its default takes its place) and read the rest; a field that
        // is required, or the part as a whole, ends it here.
        if !remove(&mut value, &keys) {
            return None;
        }
        removed.push(keys);
    }
    None
}

/// `Position` → `position`.
fn snake_case(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.trim().chars().take_while(|c| c.is_ascii_alphanumeric()).enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn lookup<'a>(v: &'a Value, keys: &[String]) -> Option<&'a Value> {
    keys.iter().try_fold(v, |v, k| match k.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
        Some(i) => v.get(i.parse::<usize>().ok()?),
        None => v.get(k),
    })
}

/// Remove the field at `keys` (an object's key, not an array element); whether it was there.
fn remove(v: &mut Value, keys: &[String]) -> bool {
    let Some((last, parents)) = keys.split_last() else { return false };
    if last.starts_with('[') {
        return false;
    }
    let mut cur = v;
    for k in parents {
        cur = match k.strip_prefix('[').and_then(|k| k.strip_suffix(']')).and_then(|i| i.parse::<usize>().ok()) {
            Some(i) => match cur.get_mut(i) {
                Some(c) => c,
                None => return false,
            },
            None => match cur.get_mut(k) {
                Some(c) => c,
                None => return false,
            },
        };
    }
    cur.as_object_mut().is_some_and(|m| m.remove(last).is_some())
}

/// serde's reason in the words of a spec: the names a value may take, the nearest one to what
/// was written, the shape an object takes.
fn explain(reason: &str, given: Option<&Value>) -> String {
    if reason.contains("untagged enum Position") {
        let names = "top_left, top, top_right, left, center, right, bottom_left, bottom, bottom_right";
        let hint =
            given.and_then(Value::as_str).and_then(|s| nearest(s, names)).map(|n| format!("; did you mean {n:?}?"));
        return format!(
            "expected one of {names}, or {{\"x\": …, \"y\": …}} (fractions of the frame){}",
            hint.unwrap_or_default()
        );
    }
    if let Some(rest) = reason.strip_prefix("unknown variant `") {
        let (got, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let names: String = expected
            .replace('`', "")
            .trim_start_matches(", expected one of ")
            .trim_start_matches(", expected ")
            .to_string();
        // Names other tools use for the same thing (Shotstack's fits).
        let foreign = [("crop", "cover"), ("none", "contain"), ("stretch", "fill")];
        if let Some((_, ours)) = foreign.iter().find(|(theirs, ours)| *theirs == got && names.contains(ours)) {
            return format!("{reason}; what other tools call {got:?} is {ours:?} here");
        }
        if let Some(n) = nearest(got, &names) {
            return format!("{reason}; did you mean {n:?}?");
        }
    }
    if let (Some(kind), Some(Value::String(s))) = (reason.split("expected struct ").nth(1), given) {
        return format!("{s:?} is a string; expected an object ({kind}), such as {{\"type\": {s:?}, …}}");
    }
    reason.to_string()
}

/// The name in `names` (comma-separated) nearest to `got`, if near enough.
fn nearest(got: &str, names: &str) -> Option<String> {
    let norm = |s: &str| s.to_ascii_lowercase().replace(['_', '-', ' '], "");
    let g = norm(got);
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| (distance(&g, &norm(n)), n))
        .filter(|(d, _)| *d <= 2.max(g.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.to_string())
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + (ca != *cb) as usize).min(row[j] + 1).min(row[j + 1] + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

pub(super) fn object<'a>(v: &'a Value, path: &str, errs: &mut Errors) -> Option<&'a Map<String, Value>> {
    match v.as_object() {
        Some(m) => Some(m),
        None => {
            errs.add(path, format!("expected an object, found {}", kind_of(v)));
            None
        }
    }
}

pub(super) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(super) fn check_keys(m: &Map<String, Value>, known: &[&str], path: &str, errs: &mut Errors) {
    for k in m.keys() {
        if !known.contains(&k.as_str()) {
            errs.add(join(path, k), format!("unknown field; expected one of: {}", known.join(", ")));
        }
    }
}

/// Read and check a spec. On success every invariant the planner relies on holds.
pub fn parse(text: &str) -> Result<Spec, ValidationErrors> {
    parse_with(text, &[])
}

/// Read and check a spec, first filling its `{{placeholders}}` from its `merge` object and
/// `set` (which wins).
pub fn parse_with(text: &str, set: &[(String, Value)]) -> Result<Spec, ValidationErrors> {
    let mut errs = Errors::default();
    let mut doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            errs.add("", format!("not valid JSON: {e}"));
            return Err(ValidationErrors(errs.0));
        }
    };
    // JSON readers differ on a key given twice (serde keeps the last); refuse it instead.
    duplicate_keys(text, &mut errs);
    if !errs.0.is_empty() {
        return Err(capped(errs.0));
    }
    let unfilled = super::template::apply(&mut doc, set);
    if !unfilled.is_empty() {
        return Err(capped(unfilled));
    }
    let spec = read_spec(&doc, &mut errs);
    match spec {
        Some(s) if errs.0.is_empty() => Ok(s),
        _ => Err(capped(errs.0)),
    }
}

/// Most errors reported for one spec; the rest are counted.
pub const MAX_ERRORS: usize = 100;

fn capped(mut errs: Vec<SpecError>) -> ValidationErrors {
    if errs.len() > MAX_ERRORS {
        let more = errs.len() - MAX_ERRORS;
        errs.truncate(MAX_ERRORS);
        errs.push(SpecError { path: String::new(), reason: format!("… and {more} more errors") });
    }
    ValidationErrors(errs)
}

/// Record every key an object of `text` (valid JSON) names more than once, with its path.
fn duplicate_keys(text: &str, errs: &mut Errors) {
    use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
    struct Walk<'a> {
        path: String,
        errs: &'a mut Errors,
    }
    impl<'de> DeserializeSeed<'de> for Walk<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = m.next_key::<String>()? {
                let path = join(&self.path, &key);
                if !seen.insert(key.clone()) {
                    self.errs.add(path.clone(), format!("{key:?} is given more than once (name each key once)"));
                }
                m.next_value_seed(Walk { path, errs: &mut *self.errs })?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
            let mut i = 0;
            while s.next_element_seed(Walk { path: format!("{}[{i}]", self.path), errs: &mut *self.errs })?.is_some() {
                i += 1;
            }
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }
    let mut d = serde_json::Deserializer::from_str(text);
    let _ = Walk { path: String::new(), errs }.deserialize(&mut d);
}

fn read_spec(doc: &Value, errs: &mut Errors) -> Option<Spec> {
    let top = object(doc, "", errs)?;
    check_keys(top, &["version", "id", "output", "timeline", "webhook"], "", errs);
    for key in ["version", "id", "output", "timeline"] {
        if !top.contains_key(key) {
            errs.add(key, "missing (required)");
        }
    }

    let version = top.get("version").and_then(|v| {
        let n = v.as_u64().filter(|n| *n == SPEC_VERSION as u64);
        if n.is_none() {
            errs.add("version", format!("must be {SPEC_VERSION}, found {v}"));
        }
        n.map(|n| n as u32)
    });

    let id = top.get("id").and_then(|v| match v.as_str() {
        Some(s) if valid_id(s) => Some(s.to_string()),
        _ => {
            errs.add("id", "must be a string of 1–128 characters from A-Z a-z 0-9 . _ - (not starting with . or -)");
            None
        }
    });

    let output: Option<Output> = top.get("output").and_then(|v| read(implied_output(v, errs), "output", errs));
    if let Some(o) = &output {
        check_output(o, errs);
    }
    let fps = output.as_ref().map(|o| o.fps).filter(|r| r.num > 0 && r.den > 0);

    let timeline = top.get("timeline").and_then(|v| read_timeline(v, fps, errs));

    let webhook: Option<WebhookSpec> = top.get("webhook").and_then(|v| read(v.clone(), "webhook", errs));
    if let Some(w) = &webhook {
        if !matches!(scheme_of(&w.url), Some("http" | "https")) || url::Url::parse(&w.url).is_err() {
            errs.add("webhook.url", "must be an http:// or https:// URL");
        }
    }
    Some(Spec { version: version?, id: id?, output: output?, timeline: timeline?, webhook, merge: None })
}

/// `output` with what it implies filled in: the format its path's extension names, and the
/// dimension `aspect` implies (from the one given).
fn implied_output(v: &Value, errs: &mut Errors) -> Value {
    let mut v = v.clone();
    let Some(m) = v.as_object_mut() else { return v };
    // The format follows the path's extension when the spec does not say it.
    if !m.contains_key("format") {
        let ext =
            m.get("path").and_then(Value::as_str).and_then(|p| p.rsplit_once('.')).map(|(_, e)| e.to_ascii_lowercase());
        if let Some(f) = ext.as_deref().filter(|e| matches!(*e, "webm" | "gif")) {
            m.insert("format".into(), Value::from(f));
        }
    }
    let Some(aspect) = m.get("aspect").and_then(Value::as_str).map(str::to_string) else { return v };
    let ratio = aspect
        .split_once(':')
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)))
        .filter(|(w, h)| *w > 0 && *h > 0 && *w <= 100 && *h <= 100);
    let Some((rw, rh)) = ratio else {
        errs.add("output.aspect", format!("{aspect:?} is not a ratio such as 16:9, 9:16, 1:1 or 4:5"));
        return v;
    };
    let even = |x: f64| Value::from(super::even(x));
    match (m.get("width").and_then(Value::as_u64), m.get("height").and_then(Value::as_u64)) {
        (Some(w), None) => {
            m.insert("height".into(), even(w as f64 * rh as f64 / rw as f64));
        }
        (None, Some(h)) => {
            m.insert("width".into(), even(h as f64 * rw as f64 / rh as f64));
        }
        (Some(_), Some(_)) => errs.add("output.aspect", "give width or height with aspect, not both"),
        (None, None) => errs.add("output.aspect", "give width or height with it (the other follows)"),
    }
    v
}

fn valid_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && !s.starts_with(['.', '-'])
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn read_timeline(v: &Value, fps: Option<Rational>, errs: &mut Errors) -> Option<Timeline> {
    let m = object(v, "timeline", errs)?;
    check_keys(m, &["background", "tracks"], "timeline", errs);
    let background = match m.get("background") {
        Some(b) => read::<Color>(b.clone(), "timeline.background", errs)
            .inspect(|c| c.check_opaque("timeline.background", errs)),
        None => Some(Color::default()),
    };
    let Some(tracks_v) = m.get("tracks") else {
        errs.add("timeline.tracks", "missing (required): give one track of type \"video\"");
        return None;
    };
    let Some(arr) = tracks_v.as_array() else {
        errs.add("timeline.tracks", format!("expected an array, found {}", kind_of(tracks_v)));
        return None;
    };
    if arr.is_empty() {
        errs.add("timeline.tracks", "the timeline is empty: give one track of type \"video\" with at least one clip");
    }
    if arr.len() > MAX_TRACKS {
        errs.add("timeline.tracks", format!("{} tracks; the limit is {MAX_TRACKS}", arr.len()));
        return None;
    }
    let mut tracks = Vec::new();
    let mut ok = true;
    for (i, t) in arr.iter().enumerate() {
        match read_track(t, &format!("timeline.tracks[{i}]"), i, fps, errs) {
            Some(t) => tracks.push(t),
            None => ok = false,
        }
    }
    if ok {
        check_track_refs(&tracks, errs);
        let total: f64 = tracks
            .iter()
            .filter_map(|t| match t {
                Track::Video(v) => Some(v),
                _ => None,
            })
            .flat_map(|t| &t.clips)
            .filter_map(clip_length)
            .sum();
        if total > MAX_SECONDS {
            errs.add("timeline", format!("the timeline lasts {total:.0} s; the limit is {MAX_SECONDS:.0} s"));
        }
    }
    Some(Timeline { background: background?, tracks }).filter(|_| ok)
}

/// A clip's length in seconds where the spec alone tells it.
fn clip_length(c: &Clip) -> Option<f64> {
    match c {
        Clip::Video(v) => v.out.map(|o| o - v.in_),
        Clip::Image(i) => Some(i.duration),
        Clip::Color(c) => Some(c.duration),
    }
}

/// Split an internally tagged object into its tag and the rest, so the rest can be
/// read with exact field paths.
pub(super) fn untag(v: &Value, path: &str, allowed: &[&str], errs: &mut Errors) -> Option<(String, Value)> {
    let m = object(v, path, errs)?;
    let tag = match m.get("type") {
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => s.clone(),
        Some(other) => {
            errs.add(join(path, "type"), format!("{other} is not one of: {}", allowed.join(", ")));
            return None;
        }
        None => {
            errs.add(join(path, "type"), format!("missing (required): one of {}", allowed.join(", ")));
            return None;
        }
    };
    let mut rest = m.clone();
    rest.remove("type");
    Some((tag, Value::Object(rest)))
}

fn read_track(v: &Value, path: &str, index: usize, fps: Option<Rational>, errs: &mut Errors) -> Option<Track> {
    let (tag, rest) = untag(v, path, &["video", "audio", "overlay", "captions"], errs)?;
    match (tag.as_str(), index) {
        ("video", 0) => {}
        ("video", _) => {
            errs.add(join(path, "type"), "only the first track is the main video track; there is one");
            return None;
        }
        (other, 0) => {
            errs.add(
                join(path, "type"),
                format!("the first track must be the main track of type \"video\", not {other:?}"),
            );
            return None;
        }
        ("captions", _) => {
            let t: CaptionsTrack = read(rest, path, errs)?;
            check_captions_track(&t, path, errs);
            return Some(Track::Captions(t));
        }
        ("overlay", _) => {
            let t: OverlayTrack = read(rest, path, errs)?;
            check_overlay_track(&t, path, errs);
            return Some(Track::Overlay(t));
        }
        _ => {
            let t: AudioTrack = read(rest, path, errs)?;
            check_audio_track(&t, path, errs);
            return Some(Track::Audio(t));
        }
    }
    let m = rest.as_object().expect("untag returns an object");
    check_keys(m, &["clips"], path, errs);
    let clips_path = join(path, "clips");
    let Some(arr) = m.get("clips").and_then(Value::as_array) else {
        errs.add(clips_path, "missing or not an array: give the track's clips");
        return None;
    };
    if arr.is_empty() {
        errs.add(clips_path.clone(), "the track has no clips: the timeline is empty");
    }
    if arr.len() > MAX_CLIPS {
        errs.add(clips_path.clone(), format!("{} clips; the limit is {MAX_CLIPS}", arr.len()));
    }
    let mut clips = Vec::with_capacity(arr.len());
    for (j, c) in arr.iter().enumerate() {
        let p = format!("{clips_path}[{j}]");
        if let Some(clip) = read_clip(c, &p, errs) {
            check_clip(&clip, &p, j, fps, errs);
            clips.push(clip);
        }
    }
    if clips.len() != arr.len() {
        return None;
    }
    if let Some(fps) = fps {
        // Transitions that cannot fit their clips, where the spec alone tells the lengths
        // (the planner checks the rest once the media is probed).
        const UNKNOWN: u64 = u64::MAX / 4;
        let lengths: Vec<u64> = clips.iter().map(|c| c.frames(fps).unwrap_or(UNKNOWN)).collect();
        for (i, reason) in timing::check(&lengths, &timing::transition_frames(&clips, fps), fps) {
            errs.add(format!("{clips_path}[{i}].transition.duration"), reason);
        }
    }
    Some(Track::Video(VideoTrack { clips }))
}

pub(super) fn check_time(v: f64, path: String, errs: &mut Errors) -> bool {
    if v < 0.0 {
        errs.add(path, format!("{v} is negative"));
        false
    } else if v > MAX_SECONDS {
        errs.add(path, format!("{v} s is beyond the {MAX_SECONDS:.0} s limit"));
        false
    } else {
        true
    }
}

pub(super) fn check_range(v: f64, range: std::ops::RangeInclusive<f64>, path: String, unit: &str, errs: &mut Errors) {
    if !range.contains(&v) {
        errs.add(path, format!("{v} is out of range {}–{}{unit}", range.start(), range.end()));
    }
}

/// Cross-track references: audio track ids are unique; `duck.under` names `main` or another audio track.
fn check_track_refs(tracks: &[Track], errs: &mut Errors) {
    let ids: Vec<(usize, &str)> = tracks
        .iter()
        .enumerate()
        .filter_map(|(i, t)| match t {
            Track::Audio(a) => a.id.as_deref().map(|id| (i, id)),
            _ => None,
        })
        .collect();
    for (k, (i, id)) in ids.iter().enumerate() {
        if ids[..k].iter().any(|(_, other)| other == id) {
            errs.add(format!("timeline.tracks[{i}].id"), format!("{id:?} is used by an earlier track"));
        }
    }
    for (i, t) in tracks.iter().enumerate() {
        let Track::Audio(a) = t else { continue };
        let Some(d) = &a.duck else { continue };
        let target = ids.iter().find(|(_, id)| *id == d.under);
        let path = format!("timeline.tracks[{i}].duck.under");
        match target {
            _ if d.under == "main" => {}
            Some((j, _)) if *j == i => errs.add(path, "a track cannot duck under itself"),
            Some(_) => {}
            None => {
                let known: Vec<String> = std::iter::once("\"main\"".to_string())
                    .chain(ids.iter().map(|(_, id)| format!("{id:?}")))
                    .collect();
                errs.add(path, format!("{:?} names no track; use one of: {}", d.under, known.join(", ")));
            }
        }
    }
}

/// `s3://bucket/key`, `gs://bucket/key`, `az://container/key`: a bucket and an object name.
pub(super) fn check_object_uri(s: &str) -> Result<(), String> {
    crate::storage::object_parts(s).map(|_| ())
}

/// Source addresses this version reads: `http(s)://` URLs, `s3://`, `gs://` and `az://`
/// objects, and local paths.
pub(super) fn check_src(src: &str) -> Result<(), String> {
    if src.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if src.contains('\0') {
        return Err("must not contain a NUL character".into());
    }
    match scheme_of(src) {
        None if src.contains(':') && !src.starts_with('/') && !src.starts_with("./") => Err(format!(
            "{src:?} looks like a URL without \"//\"; use http(s)://… or a plain path (prefix ./ if the name has a colon)"
        )),
        None => Ok(()),
        Some("http" | "https") => {
            let u = url::Url::parse(src).map_err(|e| format!("not a valid URL: {e}"))?;
            if !u.username().is_empty() || u.password().is_some() {
                return Err("URLs with user:password@ are refused; use a signed URL instead".into());
            }
            if u.host_str().is_none_or(str::is_empty) {
                return Err("the URL has no host".into());
            }
            Ok(())
        }
        Some("file") => Err("file:// URLs are not accepted; give a plain local path".into()),
        Some("s3" | "gs" | "az") => check_object_uri(src),
        Some(s) => Err(format!("unsupported scheme {s:?}: use http://, https://, s3://, gs://, az:// or a local path")),
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;

#[cfg(test)]
mod doc_examples {
    /// Every complete spec in docs/spec.md reads, so the reference cannot drift from the code.
    #[test]
    fn docs_examples_are_valid() {
        let doc = include_str!("../../docs/spec.md");
        let mut n = 0;
        for block in doc.split("```json").skip(1) {
            let json = block.split("```").next().unwrap();
            super::parse(json).unwrap_or_else(|e| panic!("{e}\n{json}"));
            n += 1;
        }
        assert!(n >= 2);
        let demo = crate::demo::DEMO_SPEC.to_string();
        super::parse(&demo).unwrap();
    }

    #[test]
    fn the_documented_error_example_holds() {
        let e = super::parse(
            r#"{"version":1,"id":"x","output":{"path":"o.mp4","width":1081,"height":1920,"fps":30},
               "timeline":{"tracks":[{"type":"video","clips":[{"type":"color","color":"red","duration":1},
               {"type":"video","src":"a.mp4","in":3,"out":2},{"type":"image","src":"b.jpg","duration":1,"zoom":2}]}]}}"#,
        )
        .unwrap_err()
        .to_string();
        let doc = include_str!("../../docs/spec.md");
        for line in e.lines().skip(1) {
            assert!(doc.contains(line.trim()), "docs/spec.md does not show {line:?}");
        }
    }
}
