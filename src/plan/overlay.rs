//! Overlays: where each text, image and video item sits and when, and the chains that draw
//! it in the segment runs it intersects (each run draws only the items in play).

use super::graph::{num, Chain, Filter, Name};
use super::segment::Segment;
use super::{Assets, ClipMedia};
use crate::spec::{even, Anchor, OverlayItem, Position, Spec, SpecError, Track};
use crate::text::{CaptionImages, TextImage, TextImages};

/// What a layer draws.
#[derive(Debug, Clone)]
pub(super) enum Layer<'a> {
    Item(&'a OverlayItem),
    /// A captions track: its pictures over output frames [from, to), gaps transparent.
    Captions {
        images: &'a CaptionImages,
        states: Vec<(u64, u64, &'a str)>,
    },
}

/// A layer placed on the output: frames [start, start + frames), at (x, y), w×h.
#[derive(Debug, Clone)]
pub(super) struct Placed<'a> {
    pub layer: Layer<'a>,
    pub media: Option<&'a ClipMedia>,
    pub text: Option<&'a TextImage>,
    pub start: u64,
    pub frames: u64,
    pub x: i64,
    pub y: i64,
    pub w: u32,
    pub h: u32,
}

/// Top-left corner of a w×h overlay at `pos` in a fw×fh frame.
pub(super) fn position(pos: &Position, margin: f64, w: u32, h: u32, fw: u32, fh: u32) -> (i64, i64) {
    let (w, h, fw, fh) = (w as f64, h as f64, fw as f64, fh as f64);
    let (x, y) = match pos {
        Position::At { x, y } => (x * fw - w / 2.0, y * fh - h / 2.0),
        Position::Named(a) => {
            let m = (margin * fw.min(fh)).round();
            let (left, hcenter, right) = (m, (fw - w) / 2.0, fw - w - m);
            let (top, vcenter, bottom) = (m, (fh - h) / 2.0, fh - h - m);
            match a {
                Anchor::TopLeft => (left, top),
                Anchor::Top => (hcenter, top),
                Anchor::TopRight => (right, top),
                Anchor::Left => (left, vcenter),
                Anchor::Center => (hcenter, vcenter),
                Anchor::Right => (right, vcenter),
                Anchor::BottomLeft => (left, bottom),
                Anchor::Bottom => (hcenter, bottom),
                Anchor::BottomRight => (right, bottom),
            }
        }
    };
    (x.round() as i64, y.round() as i64)
}

/// Place every overlay item; errors name the item.
pub(super) fn place<'a>(
    spec: &'a Spec,
    assets: &'a Assets,
    texts: &'a TextImages,
    total: u64,
) -> Result<Vec<Placed<'a>>, Vec<SpecError>> {
    let o = &spec.output;
    let (fw, fh, fps) = (o.width, o.height, o.fps);
    let mut errs = Vec::new();
    let mut out = Vec::new();
    for (ti, track) in spec.timeline.tracks.iter().enumerate() {
        let Track::Captions(c) = track else { continue };
        let Some(images) = texts.captions.get(&ti) else { continue };
        let states: Vec<(u64, u64, &str)> = images
            .states
            .iter()
            .map(|st| (fps.frame_at(st.start), fps.frame_at(st.end).min(total), st.file.as_str()))
            .filter(|(a, b, _)| b > a)
            .collect();
        if states.is_empty() {
            continue;
        }
        let (x, y) = position(&c.position, c.margin, images.width, images.height, fw, fh);
        let (start, end) = (states[0].0, states.iter().map(|s| s.1).max().unwrap_or(0));
        let layer = Layer::Captions { images, states };
        out.push((
            ti,
            Placed {
                layer,
                media: None,
                text: None,
                start,
                frames: end - start,
                x,
                y,
                w: images.width,
                h: images.height,
            },
        ));
    }
    for (place, item) in spec.overlays() {
        let (ti, path) = (place.track, place.to_string());
        let start = fps.frame_at(item.span().0);
        let (media, text, frames, w, h, pos, margin) = match item {
            OverlayItem::Text(t) => {
                let Some(img) = texts.items.get(&place) else {
                    errs.push(SpecError { path, reason: "its text was not drawn".into() });
                    continue;
                };
                (None, Some(img), fps.frame_at(t.duration), img.width, img.height, &t.position, t.margin)
            }
            OverlayItem::Image(im) => {
                let m = assets.get(&im.src);
                let Some(v) = m.and_then(|m| m.info.video.as_ref()) else {
                    errs.push(SpecError { path: format!("{path}.src"), reason: "has no picture".into() });
                    continue;
                };
                let (dw, dh) = v.display_size();
                let (w, h) = match im.width {
                    Some(frac) => {
                        let w = (frac * fw as f64).round();
                        (w, w * dh / dw)
                    }
                    None => {
                        let k = (fw as f64 / dw).min(fh as f64 / dh).min(1.0);
                        (dw * k, dh * k)
                    }
                };
                (
                    m,
                    None,
                    fps.frame_at(im.duration),
                    (w.round() as u32).max(1),
                    (h.round() as u32).max(1),
                    &im.position,
                    im.margin,
                )
            }
            OverlayItem::Video(vi) => {
                let m = assets.get(&vi.src);
                let Some(v) = m.and_then(|m| m.info.video.as_ref()).filter(|v| !v.still) else {
                    errs.push(SpecError { path: format!("{path}.src"), reason: "has no video stream".into() });
                    continue;
                };
                let end = m.and_then(|m| m.info.video_duration());
                let out = match (vi.out, end) {
                    (Some(out), Some(end)) if out > end + 0.5 / fps.as_f64() => {
                        errs.push(SpecError {
                            path: format!("{path}.out"),
                            reason: format!("{out} s is past the end of the media ({end:.3} s)"),
                        });
                        continue;
                    }
                    (Some(out), _) => out,
                    (None, Some(end)) => end,
                    (None, None) => {
                        errs.push(SpecError {
                            path: format!("{path}.out"),
                            reason: "the media's length is unknown: give out".into(),
                        });
                        continue;
                    }
                };
                let frames = fps.frame_at(out).saturating_sub(fps.frame_at(vi.in_));
                let (dw, dh) = v.display_size();
                let w = even(vi.width * fw as f64);
                (m, None, frames, w, even(w as f64 * dh / dw), &vi.position, vi.margin)
            }
        };
        if start >= total || frames == 0 {
            continue; // After the end of the video (or shorter than a frame): never seen.
        }
        let (x, y) = position(pos, margin, w, h, fw, fh);
        out.push((
            ti,
            Placed { layer: Layer::Item(item), media, text, start, frames: frames.min(total - start), x, y, w, h },
        ));
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    // Drawn in track order (stable: items keep their order within a track).
    out.sort_by_key(|(ti, _)| *ti);
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

impl Placed<'_> {
    /// Whether this layer shows anything in output frames [at, at + frames).
    pub fn in_play(&self, at: u64, frames: u64) -> bool {
        match &self.layer {
            Layer::Captions { states, .. } => states.iter().any(|(a, b, _)| *a < at + frames && *b > at),
            Layer::Item(_) => self.start < at + frames && self.start + self.frames > at,
        }
    }
}

impl Segment<'_> {
    /// A concat list of a captions track's pictures covering output frames [at, at + frames)
    /// (transparent in the gaps), written beside the segment, opened as the next input.
    fn caption_input(
        &mut self,
        k: usize,
        images: &CaptionImages,
        states: &[(u64, u64, &str)],
        at: u64,
        frames: u64,
    ) -> usize {
        let fps = self.spec().output.fps;
        let end = at + frames;
        let mut entries: Vec<(u64, &str)> = Vec::new(); // (first frame, picture), in order
        let mut cursor = at;
        for &(a, b, file) in states.iter().filter(|(a, b, _)| *a < end && *b > at) {
            if a > cursor {
                entries.push((cursor, images.blank.as_str()));
            }
            entries.push((a.max(cursor), file));
            cursor = b.min(end);
        }
        if cursor < end || entries.is_empty() {
            entries.push((cursor, images.blank.as_str()));
        }
        // Each picture starts a hair (100 µs) before its frame, so rounding to the output's
        // frame (the list's time base) lands on it; durations are differences of those
        // instants, so nothing drifts.
        let instant = |f: u64| -> i64 {
            if f == at {
                0
            } else {
                ((fps.seconds_at(f - at) * 1e6).round() as i64 - 100).max(0)
            }
        };
        let list = super::ffconcat(
            entries.iter().enumerate().map(|(i, (f, file))| {
                let next = entries.get(i + 1).map(|e| e.0).unwrap_or(end);
                (*file, Some(instant(next) - instant(*f)))
            }),
            Some(fps),
        );
        let name = format!("{}_cap{k}.ffconcat", self.name());
        self.files.push(super::ScriptFile::text(name.clone(), list));
        self.concat_input(&name, "concat,image2,png_pipe")
    }

    /// Draw the items of `items` that intersect output frames [at, at + frames) over `base`,
    /// in order, ending on pad `out`. Returns whether any was drawn (else `base` is unused).
    pub fn overlays(&mut self, items: &[Placed], at: u64, frames: u64, base: &str, out: &str) -> bool {
        let fps = self.spec().output.fps;
        let (den, fnum) = (fps.den, fps.num);
        let here: Vec<&Placed> = items.iter().filter(|p| p.in_play(at, frames)).collect();
        let mut below = base.to_string();
        for (k, p) in here.iter().enumerate() {
            let skip = at.saturating_sub(p.start); // item frames already shown by earlier segments
            let local = p.start.saturating_sub(at); // where it starts in this segment
            let n = (p.start + p.frames).min(at + frames) - (p.start.max(at));
            let label = format!("ov{k}");
            let item = match &p.layer {
                Layer::Item(item) => *item,
                Layer::Captions { images, states } => {
                    let input = self.caption_input(k, images, states, at, frames);
                    self.graph.push(
                        Chain::new(&[&format!("{input}:v:0")])
                            .then(Filter::new(Name::Format).opt("pix_fmts", "rgba"))
                            .to(&label),
                    );
                    let next = if k + 1 == here.len() { out.to_string() } else { format!("under{k}") };
                    // The last picture stays until the segment ends: repeat it past the stream's end.
                    self.graph.push(
                        Chain::new(&[&below, &label])
                            .then(Filter::new(Name::Overlay).opt("x", p.x).opt("y", p.y).opt("eof_action", "repeat"))
                            .to(&next),
                    );
                    below = next;
                    continue;
                }
            };
            let mut chain = match item {
                OverlayItem::Video(vi) => {
                    let m = p.media.expect("placed with media");
                    let seek = fps.seconds_at(fps.frame_at(vi.in_) + skip);
                    let input = self.media_input(m, Some(seek), Some(fps.seconds_at(n) + 0.5));
                    Chain::new(&[&format!("{input}:v:0")])
                        .then(Filter::new(Name::Fps).opt("fps", fps.to_string()).opt("start_time", 0u32))
                        .then(Filter::new(Name::Scale).opt("w", p.w).opt("h", p.h).opt("flags", "bicubic"))
                        .then(Filter::new(Name::Setsar).opt("r", 1u32))
                        .then(
                            Filter::new(Name::Tpad)
                                .opt("stop_mode", "clone")
                                .opt("stop_duration", num(fps.seconds_at(n))),
                        )
                        .then(Filter::new(Name::Trim).opt("end_frame", n))
                        // Counted in frames on the output's time base: `local*den/num/TB` in
                        // floating point came out a hair under an integer that setpts then
                        // truncated, a frame early (30000/1001 fps, some starts).
                        .then(Filter::new(Name::Settb).opt("expr", format!("{den}/{fnum}")))
                        .then(Filter::new(Name::Setpts).opt("expr", format!("N+{local}")))
                }
                still => {
                    let (mut c, fades, opacity) = match still {
                        OverlayItem::Text(t) => {
                            let img = p.text.expect("placed with its picture");
                            let input = self.own_png_input(&img.file);
                            (Chain::new(&[&format!("{input}:v:0")]), (t.fade_in, t.fade_out), 1.0)
                        }
                        OverlayItem::Image(im) => {
                            let input = self.media_input(p.media.expect("placed with media"), None, None);
                            let c = Chain::new(&[&format!("{input}:v:0")])
                                .then(Filter::new(Name::Trim).opt("end_frame", 1u32))
                                .then(Filter::new(Name::Scale).opt("w", p.w).opt("h", p.h).opt("flags", "bicubic"));
                            (c, (im.fade_in, im.fade_out), im.opacity)
                        }
                        OverlayItem::Video(_) => unreachable!(),
                    };
                    c = c.then(Filter::new(Name::Format).opt("pix_fmts", "rgba"));
                    if opacity < 1.0 {
                        c = c.then(Filter::new(Name::Colorchannelmixer).opt("aa", opacity));
                    }
                    // One decoded picture, repeated for the frames of this segment, timed in
                    // the item's own time (for its fades), then moved to the segment's. The
                    // time base is the output's frame first: a picture's own (1/25 for a PNG)
                    // cannot hold every frame's instant, and rounding showed items a frame early.
                    c = c
                        .then(
                            Filter::new(Name::Loop)
                                .opt("loop", n.saturating_sub(1))
                                .opt("size", 1u32)
                                .opt("start", 0u32),
                        )
                        .then(Filter::new(Name::Trim).opt("end_frame", n))
                        .then(Filter::new(Name::Settb).opt("expr", format!("{den}/{fnum}")))
                        .then(Filter::new(Name::Setpts).opt("expr", format!("N+{skip}")));
                    let len = fps.seconds_at(p.frames);
                    if fades.0 > 0.0 {
                        c = c.then(
                            Filter::new(Name::Fade).opt("t", "in").opt("st", 0u32).opt("d", fades.0).opt("alpha", 1u32),
                        );
                    }
                    if fades.1 > 0.0 {
                        c = c.then(
                            Filter::new(Name::Fade)
                                .opt("t", "out")
                                .opt("st", (len - fades.1).max(0.0))
                                .opt("d", fades.1)
                                .opt("alpha", 1u32),
                        );
                    }
                    c.then(Filter::new(Name::Setpts).opt("expr", format!("PTS+{local}-{skip}")))
                }
            };
            chain = chain.to(&label);
            self.graph.push(chain);
            let next = if k + 1 == here.len() { out.to_string() } else { format!("under{k}") };
            self.graph.push(
                Chain::new(&[&below, &label])
                    .then(Filter::new(Name::Overlay).opt("x", p.x).opt("y", p.y).opt("eof_action", "pass"))
                    .to(&next),
            );
            below = next;
        }
        !here.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_positions_keep_the_margin() {
        let m = 0.05; // 36 px of a 720 px short side
        assert_eq!(position(&Position::Named(Anchor::TopLeft), m, 100, 50, 1280, 720), (36, 36));
        assert_eq!(
            position(&Position::Named(Anchor::BottomRight), m, 100, 50, 1280, 720),
            (1280 - 100 - 36, 720 - 50 - 36)
        );
        assert_eq!(position(&Position::Named(Anchor::Center), m, 100, 50, 1280, 720), (590, 335));
        assert_eq!(position(&Position::At { x: 0.5, y: 0.8 }, m, 100, 50, 1280, 720), (590, 551));
    }
}
