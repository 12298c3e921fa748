//! Captions: SRT and WebVTT read into cues (with word timings from WebVTT's inline
//! timestamps), and cues written back as SRT or WebVTT for soft subtitles and sidecars.

use crate::spec::{Cue, Word};

/// Read SRT or WebVTT (told apart by the `WEBVTT` header). Returns the cues in order, or
/// why the text is not captions (with the line number).
pub fn parse(text: &str) -> Result<Vec<Cue>, String> {
    let text = text.trim_start_matches('\u{feff}').replace("\r\n", "\n").replace('\r', "\n");
    let vtt = text.trim_start().starts_with("WEBVTT");
    let mut cues = Vec::new();
    let mut line_no = 0;
    for block in text.split("\n\n") {
        let lines: Vec<&str> = block.lines().collect();
        let first = line_no + 1;
        line_no += block.lines().count() + 1;
        let Some(t) = lines.iter().position(|l| l.contains("-->")) else {
            continue; // a header, a NOTE, a STYLE block, or an index without a time line
        };
        let (a, b) = lines[t].split_once("-->").expect("checked");
        let start = timestamp(a.trim()).ok_or_else(|| format!("line {}: bad start time {:?}", first + t, a.trim()))?;
        let end_field = b.split_whitespace().next().unwrap_or("");
        let end = timestamp(end_field).ok_or_else(|| format!("line {}: bad end time {end_field:?}", first + t))?;
        if end <= start {
            return Err(format!("line {}: the cue ends before it starts", first + t));
        }
        let body = lines[t + 1..].join("\n");
        let (text, words) = if vtt { vtt_body(&body, start, end) } else { (strip_tags(&body), None) };
        if text.trim().is_empty() {
            continue;
        }
        cues.push(Cue { start, end, text: Some(text), words });
    }
    if cues.is_empty() {
        return Err("no cues found: expected SRT or WebVTT".into());
    }
    Ok(cues)
}

/// `00:01:02,345`, `01:02.345`, `62.345` → seconds.
fn timestamp(s: &str) -> Option<f64> {
    let s = s.replace(',', ".");
    let mut secs = 0.0;
    for part in s.split(':') {
        let v: f64 = part.trim().parse().ok()?;
        if !v.is_finite() || v < 0.0 {
            return None;
        }
        secs = secs * 60.0 + v;
    }
    Some(secs)
}

/// Remove markup tags (`<i>`, `<c.x>`, `{\an8}`…): captions are drawn as plain text.
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0;
    let mut brace = 0;
    for c in s.chars() {
        match c {
            '<' => depth += 1,
            '>' if depth > 0 => depth -= 1,
            '{' if s.contains("{\\") => brace += 1,
            '}' if brace > 0 => brace -= 1,
            _ if depth == 0 && brace == 0 => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " ")
}

/// A WebVTT cue body; inline timestamps (`<00:01.500>`) split it into timed words.
fn vtt_body(body: &str, start: f64, end: f64) -> (String, Option<Vec<Word>>) {
    if !body.contains("<0") && !body.contains("<1") && !body.contains("<2") {
        return (strip_tags(body), None);
    }
    // Split at timestamp tags; each piece starts at the preceding timestamp.
    let mut pieces: Vec<(f64, String)> = vec![(start, String::new())];
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|i| open + i) else { break };
        let tag = &rest[open + 1..close];
        pieces.last_mut().expect("non-empty").1.push_str(&rest[..open]);
        if let Some(t) = timestamp(tag).filter(|_| tag.contains(':')) {
            pieces.push((t, String::new()));
        } else {
            pieces.last_mut().expect("non-empty").1.push_str(&rest[open..=close]);
        }
        rest = &rest[close + 1..];
    }
    pieces.last_mut().expect("non-empty").1.push_str(rest);
    let mut words = Vec::new();
    for (i, (t, piece)) in pieces.iter().enumerate() {
        let until = pieces.get(i + 1).map(|p| p.0).unwrap_or(end);
        for w in strip_tags(piece).split_whitespace() {
            words.push(Word { text: w.to_string(), start: *t, end: until });
        }
    }
    let text = words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
    (text, Some(words))
}

fn srt_time(t: f64) -> String {
    let ms = (t * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02},{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// One cue's text made safe for a subtitle file: no blank lines (they would end the cue and
/// let the rest pose as new cues) and no `-->`.
fn safe_text(s: &str) -> String {
    s.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("\n").replace("-->", "→")
}

/// Cues as SRT (times on the output timeline).
pub fn to_srt(cues: &[(f64, f64, String)]) -> String {
    let mut out = String::new();
    for (i, (a, b, text)) in cues.iter().enumerate() {
        out.push_str(&format!("{}\n{} --> {}\n{}\n\n", i + 1, srt_time(*a), srt_time(*b), safe_text(text)));
    }
    out
}

/// Cues as WebVTT (times on the output timeline).
pub fn to_vtt(cues: &[(f64, f64, String)]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for (a, b, text) in cues {
        let t = |x: f64| srt_time(x).replace(',', ".");
        let text = safe_text(text).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        out.push_str(&format!("{} --> {}\n{}\n\n", t(*a), t(*b), text));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzzing the SRT/WebVTT reader: valid files cut, spliced, flipped and filled with odd
    /// characters never make it panic, and every cue it returns has finite times in order.
    #[test]
    fn mangled_captions_never_panic() {
        let seeds = [
            "1\n00:00:01,000 --> 00:00:02,500\nHello <i>world</i>\n\n2\n00:00:03,000 --> 00:00:04,000\n{\\an8}Top\n",
            "WEBVTT\n\nNOTE x\n\n00:01.000 --> 00:02.000 align:start\n<v Ana>Hi <00:01.500>there</v>\n\n00:02.500 --> 00:03.000\n<c.loud>Yes</c>\n",
        ];
        let odd = [
            "-->",
            "\n\n",
            "<",
            ">",
            "{",
            "}",
            ":",
            ",",
            "\u{feff}",
            "99999999999:00:00,000",
            "\r",
            "é",
            "😀",
            "<00:",
            "NaN",
            "-1",
        ];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let started = std::time::Instant::now();
        let mut runs = 0;
        while runs < 200_000 && started.elapsed() < std::time::Duration::from_secs(10) {
            runs += 1;
            let mut t: Vec<char> = seeds[(next() % 2) as usize].chars().collect();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % (t.len() + 1);
                match next() % 4 {
                    0 => t.truncate(at),
                    1 => t.splice(at..at, odd[(next() as usize) % odd.len()].chars()).for_each(drop),
                    2 if at < t.len() => {
                        t.remove(at);
                    }
                    _ => {
                        let end = (at + (next() as usize) % 8).min(t.len());
                        let copy: Vec<char> = t[at..end].to_vec();
                        t.splice(at..at, copy).for_each(drop);
                    }
                }
            }
            let text: String = t.into_iter().collect();
            if let Ok(cues) = parse(&text) {
                for c in cues {
                    assert!(c.start.is_finite() && c.end.is_finite() && c.start < c.end, "{c:?} from {text:?}");
                }
            }
        }
        println!("captions fuzz: {runs} mangled files in {:.1} s", started.elapsed().as_secs_f64());
    }

    #[test]
    fn reads_srt() {
        let cues = parse("1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i> there\r\nsecond line\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000\r\nBye\r\n").unwrap();
        assert_eq!(cues.len(), 2);
        assert_eq!((cues[0].start, cues[0].end), (1.0, 2.5));
        assert_eq!(cues[0].text.as_deref(), Some("Hello there\nsecond line"));
        assert!(cues[0].words.is_none());
    }

    #[test]
    fn reads_webvtt_with_word_timings() {
        let vtt = "WEBVTT\n\nNOTE a comment\n\nintro\n00:01.000 --> 00:03.000 align:center\n<c>one</c> <00:01.600>two <00:02.200>three\n";
        let cues = parse(vtt).unwrap();
        assert_eq!(cues.len(), 1);
        assert_eq!(cues[0].text.as_deref(), Some("one two three"));
        let w = cues[0].words.as_ref().unwrap();
        let got: Vec<(&str, f64, f64)> = w.iter().map(|w| (w.text.as_str(), w.start, w.end)).collect();
        assert_eq!(got, vec![("one", 1.0, 1.6), ("two", 1.6, 2.2), ("three", 2.2, 3.0)]);
    }

    #[test]
    fn refuses_what_is_not_captions() {
        assert!(parse("hello world").is_err());
        assert!(parse("1\n00:00:05,000 --> 00:00:01,000\nbackwards\n").unwrap_err().contains("line 2"));
    }

    #[test]
    fn written_cues_cannot_forge_more_cues() {
        let srt = to_srt(&[(0.0, 1.0, "a\n\n2\n00:00:00,000 --> 00:09:00,000\nforged".into())]);
        assert_eq!(parse(&srt).unwrap().len(), 1);
        assert!(srt.starts_with("1\n00:00:00,000 --> 00:00:01,000\n"));
    }
}
