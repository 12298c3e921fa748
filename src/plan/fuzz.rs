//! Fuzzing spec reading → validation → planning with specs generated from `cutlist schema`:
//! nothing panics, and every accepted spec's plan uses only filters of the vocabulary, in
//! its arguments and in its script files. Bounded in count and time; prints what it did.

use super::*;
use crate::probe::{AudioStream, MediaInfo, VideoStream};
use crate::text::{CaptionImages, CaptionState, TextImage};
use serde_json::{json, Map, Value};

/// xorshift64*: a small, seeded, reproducible generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 > 1.0 - p
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next() >> 11) as f64 / (1u64 << 53) as f64)
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

/// A plausible value for a numeric field, by its name (mostly in range; now and then not).
fn number(name: &str, rng: &mut Rng) -> Value {
    if name != "version" && rng.chance(0.02) {
        return json!(*rng.pick(&[-1.0, 0.0, 1e9, 1e-9, 7681.0]));
    }
    let (lo, hi, whole) = match name {
        "width" | "height" => (32.0, 320.0, true),
        "fps" => (1.0, 60.0, true),
        "crf" => (0.0, 51.0, true),
        "bitrate" => (32000.0, 256000.0, true),
        "sample_rate" => return json!(48000),
        "channels" => return json!(2),
        "version" => return json!(1),
        "integrated" => (-30.0, -10.0, false),
        "true_peak" => (-3.0, 0.0, false),
        "lra" => (1.0, 20.0, false),
        "depth" => (1.0, 30.0, false),
        "size" => (8.0, 120.0, false),
        "zoom" => (1.0, 2.5, false),
        "x" | "y" => (0.0, 1.0, false),
        "speed" => (0.25, 4.0, false),
        "amount" => (0.05, 1.0, false),
        "line_height" => (0.8, 2.0, false),
        "padding" => (0.0, 30.0, false),
        "duration" => (0.2, 3.0, false),
        "out" => (1.0, 4.0, false),
        _ => (0.0, 1.0, false),
    };
    let v = rng.range(lo, hi);
    if whole {
        let n = v.round() as u64;
        json!(if matches!(name, "width" | "height") { n / 2 * 2 } else { n })
    } else {
        json!((v * 1000.0).round() / 1000.0)
    }
}

/// A string for a field, by its name and pattern.
fn string(name: &str, schema: &Value, rng: &mut Rng) -> Value {
    let pattern = schema.get("pattern").and_then(Value::as_str).unwrap_or("");
    json!(match name {
        "src" => rng.pick(&["a.mp4", "b.mp4", "still.png", "music.wav"]).to_string(),
        "path" => rng.pick(&["out.mp4", "p.jpg"]).to_string(),
        "id" => "fuzz".to_string(),
        "under" => "main".to_string(),
        "text" => rng.pick(&["Hello", "مرحبا", "😀 sale", "a'b:c\\d[e];f,g %{pts}", "line\nbreak"]).to_string(),
        "font" => "font.ttf".to_string(),
        "url" => "https://hooks.example.com/x".to_string(),
        _ if pattern.contains("#") => format!("#{:06x}", rng.below(0x1000000)),
        _ if pattern.contains("vmin") => format!("{}vh", 2 + rng.below(10)),
        _ if pattern.contains("rgba?") => format!("rgb({}, {}, {})", rng.below(256), rng.below(256), rng.below(256)),
        _ if pattern.contains("dB") || pattern.contains("[dD]") => format!("-{}dB", rng.below(20)),
        _ if pattern.contains('/') => "30000/1001".to_string(),
        _ => "x".to_string(),
    })
}

/// A value for `schema` (a node of `root`), for the field `name`.
fn generate(root: &Value, schema: &Value, name: &str, rng: &mut Rng, depth: usize) -> Value {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => &root["$defs"][r.trim_start_matches("#/$defs/")],
        None => schema,
    };
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        return rng.pick(e).clone();
    }
    for k in ["anyOf", "oneOf"] {
        if let Some(branches) = schema.get(k).and_then(Value::as_array) {
            // Placeholders and nulls are left out: the planner is what is being reached.
            let real: Vec<&Value> = branches
                .iter()
                .filter(|b| !b.get("pattern").and_then(Value::as_str).is_some_and(|p| p.contains("\\{\\{")))
                .filter(|b| b.get("type") != Some(&json!("null")))
                .collect();
            if !real.is_empty() {
                let branch: &Value = real[rng.below(real.len() as u64) as usize];
                return generate(root, branch, name, rng, depth + 1);
            }
        }
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ => "string",
    };
    match kind {
        "object" => {
            let mut m = Map::new();
            let required: Vec<&str> =
                schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            for (prop, sub) in schema["properties"].as_object().into_iter().flatten() {
                let optional_odds = if depth > 6 { 0.0 } else { 0.25 };
                // `merge` and `aspect` change what the rest means: left to the unit tests.
                let skipped = matches!(prop.as_str(), "merge" | "aspect" | "webhook");
                if required.contains(&prop.as_str()) || (!skipped && rng.chance(optional_odds)) {
                    m.insert(prop.clone(), generate(root, sub, prop, rng, depth + 1));
                }
            }
            Value::Object(m)
        }
        "array" if name == "tracks" => {
            // The main track first, then a few others.
            let kinds = &root["$defs"]["Track"]["oneOf"];
            let branch = |kind: &str| {
                kinds.as_array().into_iter().flatten().find(|b| b["properties"]["type"]["const"] == kind).cloned()
            };
            let mut tracks = vec![generate(root, &branch("video").unwrap_or_default(), "track", rng, depth + 1)];
            for _ in 0..rng.below(3) {
                let kind = *rng.pick(&["audio", "overlay", "captions"]);
                tracks.push(generate(root, &branch(kind).unwrap_or_default(), "track", rng, depth + 1));
            }
            Value::Array(tracks)
        }
        "array" => {
            let n = 1 + rng.below(3);
            Value::Array((0..n).map(|_| generate(root, &schema["items"], name, rng, depth + 1)).collect())
        }
        "number" | "integer" => number(name, rng),
        "boolean" => json!(rng.chance(0.5)),
        _ => string(name, schema, rng),
    }
}

/// Make the output's fields agree as a backend would write them: the path's extension and the
/// codecs follow the format.
fn agree(doc: &mut Value) {
    let Some(o) = doc["output"].as_object_mut() else { return };
    let format = o.get("format").and_then(Value::as_str).unwrap_or("mp4").to_string();
    o.insert("path".into(), json!(format!("out.{format}")));
    if let Some(v) = o.get_mut("video").and_then(Value::as_object_mut) {
        v.remove("codec");
    }
    if let Some(a) = o.get_mut("audio").and_then(Value::as_object_mut) {
        a.remove("codec");
    }
    if format == "gif" {
        o.remove("loudness");
    }
    for still in ["poster", "thumbnail"] {
        if let Some(p) = o.get_mut(still).and_then(Value::as_object_mut) {
            p.insert("path".into(), json!(format!("{still}.jpg")));
        }
    }
    // And the timeline's parts: transitions with a length (none into the first clip), Ken
    // Burns with a preset or both views, captions with cues, track ids unique.
    let tracks = doc["timeline"]["tracks"].as_array_mut().map(std::mem::take).unwrap_or_default();
    let mut out = Vec::new();
    for (ti, mut t) in tracks.into_iter().enumerate() {
        if let Some(m) = t.as_object_mut() {
            if m.contains_key("id") {
                m.insert("id".into(), json!(format!("t{ti}")));
            }
            if m.get("type") == Some(&json!("captions")) {
                m.remove("src");
                m.insert("cues".into(), json!([{"start": 0.1, "end": 0.6, "text": "hi"}]));
            }
        }
        for (k, c) in t.get_mut("clips").and_then(Value::as_array_mut).into_iter().flatten().enumerate() {
            let Some(c) = c.as_object_mut() else { continue };
            if let Some(tr) = c.get_mut("transition").and_then(Value::as_object_mut) {
                tr.insert("duration".into(), json!(0.2));
            }
            if k == 0 {
                c.remove("transition");
            }
            if let Some(mo) = c.get_mut("motion").and_then(Value::as_object_mut) {
                if !(mo.contains_key("from") && mo.contains_key("to") && !mo.contains_key("preset")) {
                    mo.retain(|k, _| k == "easing" || k == "amount");
                    mo.insert("preset".into(), json!("zoom_in"));
                }
            }
        }
        out.push(t);
    }
    doc["timeline"]["tracks"] = Value::Array(out);
}

/// A probe of each source the generated specs name.
fn assets_for(s: &Spec) -> Assets {
    let video = |w, h, still: bool| VideoStream {
        codec: if still { "png".into() } else { "h264".into() },
        width: w,
        height: h,
        sar: (1, 1),
        rotation: 0,
        fps: Some(Rational::new(30, 1)),
        duration: Some(if still { 0.04 } else { 10.0 }),
        pix_fmt: "yuv420p".into(),
        reorder: 2,
        color_transfer: None,
        color_primaries: None,
        color_space: None,
        still,
        frames: Some(if still { 1 } else { 300 }),
        coding: crate::probe::Coding {
            profile: Some("High".into()),
            level: Some(40),
            time_base: Some("1/15360".into()),
            field_order: Some("progressive".into()),
            extradata: Some("MD5:0dbe82fa6f2bcf2b7585562051c092ae".into()),
            constant_rate: true,
            start_time: Some(0.0),
            ..Default::default()
        },
    };
    let audio = Some(AudioStream { codec: "aac".into(), sample_rate: 48000, channels: 2, duration: Some(10.0) });
    s.sources()
        .into_iter()
        .filter(|a| a.kind == crate::spec::AssetKind::Media)
        .map(|a| {
            let (format, v, au) = match a.src.as_str() {
                "still.png" => ("png_pipe", Some(video(800, 600, true)), None),
                "music.wav" => ("wav", None, audio.clone()),
                "b.mp4" => ("mov", Some(video(1920, 1080, false)), None),
                _ => ("mov", Some(video(640, 360, false)), audio.clone()),
            };
            let info =
                MediaInfo { format: format.into(), duration: Some(10.0), size: 1000, streams: 2, video: v, audio: au };
            (a.src.clone(), ClipMedia { path: format!("/ws/{}", a.src).into(), info, packets: vec![] })
        })
        .collect()
}

/// What the text stage would have drawn for `s`.
fn texts_for(s: &Spec) -> TextImages {
    let mut t = TextImages::new();
    for (k, (place, item)) in s.overlays().into_iter().enumerate() {
        if matches!(item, crate::spec::OverlayItem::Text(_)) {
            t.items.insert(place, TextImage { file: format!("text_{k:04}.png"), width: 60, height: 30 });
        }
    }
    for (ti, track) in s.timeline.tracks.iter().enumerate() {
        if matches!(track, crate::spec::Track::Captions(_)) {
            t.captions.insert(
                ti,
                CaptionImages {
                    width: 80,
                    height: 30,
                    blank: format!("cap{ti}_blank.png"),
                    states: vec![CaptionState { start: 0.1, end: 0.5, file: format!("cap{ti}_00000.png") }],
                    cues: vec![(0.1, 0.5, "x".into())],
                },
            );
        }
    }
    t
}

#[test]
fn generated_specs_never_panic_and_plan_only_the_vocabulary() {
    let root = crate::spec::json_schema();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let started = std::time::Instant::now();
    let (mut runs, mut accepted, mut planned) = (0u64, 0u64, 0u64);
    while runs < 20_000 && started.elapsed() < std::time::Duration::from_secs(20) {
        runs += 1;
        let mut doc = generate(&root, &root, "", &mut rng, 0);
        agree(&mut doc);
        // Now and then, break it: a field removed or given another type.
        if rng.chance(0.1) {
            if let Some(m) = doc["output"].as_object_mut() {
                m.insert("width".into(), json!("wide"));
            }
        }
        let text = doc.to_string();
        let outcome = std::panic::catch_unwind(|| {
            let Ok(s) = crate::spec::parse(&text) else { return (false, false) };
            let (assets, texts) = (assets_for(&s), texts_for(&s));
            let budget = Budget { limit: 64 << 30, cpus: 2, ram_workspace: None, copy: Default::default() };
            match plan(&s, &assets, &texts, &budget) {
                Ok(p) => {
                    for step in &p.steps {
                        let files: Vec<(String, String)> = step
                            .files
                            .iter()
                            .map(|f| {
                                let c = match &f.contents {
                                    Contents::Graph(g) => g.to_string(),
                                    Contents::Text(t) => t.clone(),
                                };
                                (f.name.clone(), c)
                            })
                            .collect();
                        let named: Vec<(&str, &str)> = files.iter().map(|(n, c)| (n.as_str(), c.as_str())).collect();
                        if let Err(e) = graph::check_vocabulary(&step.args, &named) {
                            panic!("{e}");
                        }
                    }
                    (true, true)
                }
                Err(_) => (true, false),
            }
        });
        match outcome {
            Ok((a, p)) => {
                accepted += a as u64;
                planned += p as u64;
            }
            Err(_) => panic!("spec {runs} panicked:\n{text}"),
        }
    }
    let share = accepted as f64 / runs as f64;
    println!(
        "fuzz: {runs} generated specs in {:.1} s; {:.0} % valid and handed to the planner, {planned} planned",
        started.elapsed().as_secs_f64(),
        share * 100.0
    );
    assert!(runs >= 500, "only {runs} specs in the time allowed");
    assert!(share >= 0.5, "only {:.0} % of the generated specs reached the planner", share * 100.0);
}
