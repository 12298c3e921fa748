//! Text: laid out (HarfBuzz shaping, bidi, wrapping, font fallback) and rasterized by cutlist
//! into transparent PNGs that FFmpeg only overlays, so user text never reaches FFmpeg.

use crate::error::{Error, Result};
use crate::spec::{
    Anchor, CaptionsTrack, Color, Cue, ItemRef, OverlayItem, Position, Spec, TextAlign, TextItem, TextStyle, Track,
};
use cosmic_text::{fontdb, Attrs, Buffer, Family, FontSystem, Metrics, Shaping, SwashCache, SwashContent, Wrap};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// The font used when a text names none (DejaVu Sans: Latin, Greek, Cyrillic, Hebrew, Arabic…).
const BUNDLED_FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const BUNDLED_FAMILY: &str = "DejaVu Sans";

/// A text item drawn into the workspace: its PNG and size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextImage {
    pub file: String,
    pub width: u32,
    pub height: u32,
}

/// One state of a captions track: this picture over [start, end) seconds of the output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptionState {
    pub start: f64,
    pub end: f64,
    pub file: String,
}

/// A captions track drawn: every state on one canvas size (so FFmpeg reads them as one
/// stream), a transparent picture for the gaps, and the cues as text for subtitle files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptionImages {
    pub width: u32,
    pub height: u32,
    pub blank: String,
    pub states: Vec<CaptionState>,
    /// (start, end, text) on the output timeline.
    pub cues: Vec<(f64, f64, String)>,
}

/// What the text stage drew: text items by their place, captions tracks by track index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextImages {
    pub items: HashMap<ItemRef, TextImage>,
    pub captions: HashMap<usize, CaptionImages>,
}

impl TextImages {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Largest captions file read (they are read whole).
pub const MAX_CAPTIONS_BYTES: u64 = 16 << 20;
/// Largest font file loaded.
pub const MAX_FONT_BYTES: u64 = 64 << 20;

/// Draw every text item and captions track of `spec` into `dir` (the workspace). `files`
/// maps the address of each font and captions file in the spec to its fetched file.
pub fn draw_all(
    spec: &Spec,
    files: &HashMap<String, std::path::PathBuf>,
    dir: &Path,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<TextImages> {
    let write = |file: &str, raster: &Raster| {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        write_png(&dir.join(file), raster)
            .map_err(|e| Error::Environment(format!("cannot write to the workspace {}: {e}", dir.display())))
    };
    let mut r = Rasterizer::new();
    let mut families: HashMap<String, String> = HashMap::new();
    let mut family_of = |r: &mut Rasterizer, src: &Option<String>, path: &str| -> Result<Option<String>> {
        let Some(src) = src else { return Ok(None) };
        if let Some(f) = families.get(src) {
            return Ok(Some(f.clone()));
        }
        let file = files.get(src).ok_or_else(|| Error::Internal(format!("font {src} was not fetched")))?;
        let reject = |reason: String| Error::AssetRejected {
            path: format!("{path}.style.font"),
            src: crate::fetch::redact(src),
            reason,
        };
        if std::fs::metadata(file).map(|m| m.len()).unwrap_or(0) > MAX_FONT_BYTES {
            return Err(reject(format!("is larger than {} MiB; fonts are at most that", MAX_FONT_BYTES >> 20)));
        }
        let fam = r.load_font(file).map_err(reject)?;
        families.insert(src.clone(), fam.clone());
        Ok(Some(fam))
    };
    let mut out = TextImages::new();
    for (k, (place, item)) in spec.overlays().into_iter().enumerate() {
        let OverlayItem::Text(t) = item else { continue };
        let family = family_of(&mut r, &t.style.font, &place.to_string())?;
        let raster = r.render(t, family.as_deref(), (spec.output.width, spec.output.height));
        let file = format!("text_{k:04}.png");
        write(&file, &raster)?;
        out.items.insert(place, TextImage { file, width: raster.width, height: raster.height });
    }
    for (ti, track) in spec.timeline.tracks.iter().enumerate() {
        let Track::Captions(c) = track else { continue };
        let path = format!("timeline.tracks[{ti}]");
        let cues = match (&c.cues, &c.src) {
            (Some(cues), _) => cues.clone(),
            (None, Some(src)) => {
                let file = files.get(src).ok_or_else(|| Error::Internal(format!("captions {src} were not fetched")))?;
                let reject = |reason: String| Error::AssetRejected {
                    path: format!("{path}.src"),
                    src: crate::fetch::redact(src),
                    reason,
                };
                if std::fs::metadata(file).map(|m| m.len()).unwrap_or(0) > MAX_CAPTIONS_BYTES {
                    return Err(reject(format!(
                        "is larger than {} MiB; captions files are at most that",
                        MAX_CAPTIONS_BYTES >> 20
                    )));
                }
                let bytes = std::fs::read(file).map_err(|e| reject(format!("cannot read it: {e}")))?;
                let text = String::from_utf8(bytes).map_err(|_| reject("is not UTF-8 text".into()))?;
                let cues = crate::captions::parse(&text).map_err(reject)?;
                if cues.len() > crate::spec::MAX_CUES {
                    return Err(reject(format!("has {} cues; the limit is {}", cues.len(), crate::spec::MAX_CUES)));
                }
                cues
            }
            (None, None) => Vec::new(),
        };
        let family = family_of(&mut r, &c.style.font, &path)?;
        out.captions.insert(
            ti,
            draw_captions(
                &mut r,
                c,
                &cues,
                family.as_deref(),
                (spec.output.width, spec.output.height),
                ti,
                &write,
                cancel,
            )?,
        );
    }
    Ok(out)
}

/// Draw one captions track: a picture per cue, or per word when the spoken word is highlighted.
#[allow(clippy::too_many_arguments)]
fn draw_captions(
    r: &mut Rasterizer,
    c: &CaptionsTrack,
    cues: &[Cue],
    family: Option<&str>,
    frame: (u32, u32),
    track: usize,
    write: &dyn Fn(&str, &Raster) -> Result<()>,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<CaptionImages> {
    // What to draw, cheaply: each state's span, text and highlighted word. The pictures are
    // drawn one at a time (twice: once to size the shared canvas, once to write it), so a
    // track of thousands of cues holds one picture in memory, not thousands.
    type Highlight = Option<(std::ops::Range<usize>, Color)>;
    let mut pictures: Vec<(f64, f64, std::rc::Rc<str>, Highlight)> = Vec::new();
    let mut texts = Vec::new();
    for cue in cues {
        let (start, end) = (cue.start + c.offset, cue.end + c.offset);
        if end <= 0.0 {
            continue;
        }
        let text = cue.display();
        texts.push((start.max(0.0), end, text.clone()));
        let shared: std::rc::Rc<str> = text.as_str().into();
        match (&cue.words, c.highlight) {
            (Some(words), Some(color)) if !words.is_empty() => {
                // Where each word sits in the text (found in order).
                let mut at = 0;
                let ranges: Vec<Option<std::ops::Range<usize>>> = words
                    .iter()
                    .map(|w| {
                        let found = text[at..].find(w.text.as_str()).map(|i| at + i..at + i + w.text.len());
                        if let Some(rg) = &found {
                            at = rg.end;
                        }
                        found
                    })
                    .collect();
                let first = words[0].start + c.offset;
                if first > start {
                    pictures.push((start, first, shared.clone(), None));
                }
                for (i, w) in words.iter().enumerate() {
                    let a = (w.start + c.offset).max(start);
                    let b = words.get(i + 1).map(|n| n.start + c.offset).unwrap_or(end).min(end);
                    if b > a {
                        let hl = ranges[i].clone().map(|rg| (rg, color));
                        pictures.push((a, b, shared.clone(), hl));
                    }
                }
            }
            _ => pictures.push((start, end, shared, None)),
        }
    }
    // One canvas for all: aligned as the text is, and towards the side the track sits on.
    let (mut width, mut height) = (2, 2);
    for (_, _, text, hl) in &pictures {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let raster = r.render_text(text, &c.style, family, frame, hl.clone());
        (width, height) = (width.max(raster.width), height.max(raster.height));
    }
    let vertical = match c.position {
        Position::Named(Anchor::Top | Anchor::TopLeft | Anchor::TopRight) => 0.0,
        Position::Named(Anchor::Bottom | Anchor::BottomLeft | Anchor::BottomRight) => 1.0,
        _ => 0.5,
    };
    let horizontal = match c.style.align {
        TextAlign::Left => 0.0,
        TextAlign::Center => 0.5,
        TextAlign::Right => 1.0,
    };
    let blank = format!("cap{track}_blank.png");
    write(&blank, &Raster { width, height, rgba: vec![0; (width * height * 4) as usize] })?;
    let mut states = Vec::with_capacity(pictures.len());
    for (k, (a, b, text, hl)) in pictures.into_iter().enumerate() {
        let file = format!("cap{track}_{k:05}.png");
        let raster = r.render_text(&text, &c.style, family, frame, hl);
        write(&file, &raster.placed_on(width, height, horizontal, vertical))?;
        states.push(CaptionState { start: a.max(0.0), end: b, file });
    }
    Ok(CaptionImages { width, height, blank, states, cues: texts })
}

/// An RGBA picture (straight alpha), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl Raster {
    /// This picture on a transparent w×h canvas, at fractions (fx, fy) of the free space.
    pub fn placed_on(&self, w: u32, h: u32, fx: f64, fy: f64) -> Raster {
        let (ox, oy) = (((w - self.width) as f64 * fx).round() as u32, ((h - self.height) as f64 * fy).round() as u32);
        let mut rgba = vec![0u8; (w * h * 4) as usize];
        for y in 0..self.height {
            let src = (y * self.width * 4) as usize;
            let dst = (((y + oy) * w + ox) * 4) as usize;
            rgba[dst..dst + (self.width * 4) as usize]
                .copy_from_slice(&self.rgba[src..src + (self.width * 4) as usize]);
        }
        Raster { width: w, height: h, rgba }
    }
}

/// Lays out and draws text. Holds the font database (system fonts are memory-mapped, so
/// they cost address space, not private memory); drop it when the texts are drawn.
pub struct Rasterizer {
    fonts: FontSystem,
    cache: SwashCache,
    /// A colour emoji font on the machine (Noto Color Emoji, …), if any.
    emoji: Option<String>,
}

impl Default for Rasterizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Rasterizer {
    pub fn new() -> Rasterizer {
        let mut db = fontdb::Database::new();
        db.load_font_data(BUNDLED_FONT.to_vec());
        // Fallback for what a font lacks: colour emoji, CJK, Indic… from the machine's fonts.
        db.load_system_fonts();
        db.set_sans_serif_family(BUNDLED_FAMILY);
        let emoji = db
            .faces()
            .flat_map(|f| f.families.iter().map(|(name, _)| name.clone()))
            .filter(|name| name.contains("Emoji"))
            .max_by_key(|name| name.contains("Color"));
        Rasterizer { fonts: FontSystem::new_with_locale_and_db("en-US".into(), db), cache: SwashCache::new(), emoji }
    }

    /// Whether a colour emoji font was found.
    pub fn has_color_emoji(&self) -> bool {
        self.emoji.is_some()
    }

    /// Load a font file; returns its family name.
    pub fn load_font(&mut self, path: &Path) -> Result<String, String> {
        let db = self.fonts.db_mut();
        let before: Vec<fontdb::ID> = db.faces().map(|f| f.id).collect();
        db.load_font_file(path).map_err(|e| format!("cannot read the font: {e}"))?;
        let family = db
            .faces()
            .find(|f| !before.contains(&f.id))
            .and_then(|f| f.families.first().map(|(name, _)| name.clone()))
            .ok_or("is not a font cutlist can read (TTF, OTF or a collection)")?;
        Ok(family)
    }

    /// Draw `item`'s text in its style, wrapped to its width of a `frame` (w, h).
    pub fn render(&mut self, item: &TextItem, family: Option<&str>, frame: (u32, u32)) -> Raster {
        self.render_text(&item.text, &item.style, family, frame, None)
    }

    /// Draw `text` in `st`, wrapped to its width of a `frame` (w, h); the bytes of
    /// `highlight` (one word) in its colour. Lines below twice the frame's height are left
    /// out: they could never be seen, and they bound the picture's size whatever the text.
    pub fn render_text(
        &mut self,
        text: &str,
        st: &TextStyle,
        family: Option<&str>,
        frame: (u32, u32),
        highlight: Option<(std::ops::Range<usize>, Color)>,
    ) -> Raster {
        let frame_w = frame.0;
        let size = st.size.pixels(frame).clamp(1.0, 1000.0) as f32;
        let pad = st.box_.map(|b| b.padding.round() as i32).unwrap_or(0);
        let outline = st.outline.map(|o| o.width.round() as i32).unwrap_or(0);
        let (sx, sy) = st.shadow.map(|s| (s.x.round() as i32, s.y.round() as i32)).unwrap_or((0, 0));
        let wrap = (st.width * frame_w as f64) as f32 - 2.0 * (pad + outline) as f32;

        let mut buf = Buffer::new(&mut self.fonts, Metrics::new(size, size * st.line_height as f32));
        buf.set_wrap(&mut self.fonts, Wrap::WordOrGlyph);
        buf.set_size(&mut self.fonts, Some(wrap.max(size)), Some(2.0 * frame.1 as f32));
        let attrs = Attrs::new().family(Family::Name(family.unwrap_or(BUNDLED_FAMILY)));
        let emoji_family = self.emoji.clone();
        let emoji_attrs = emoji_family.as_deref().map(|e| Attrs::new().family(Family::Name(e)));
        let align = match st.align {
            TextAlign::Left => cosmic_text::Align::Left,
            TextAlign::Center => cosmic_text::Align::Center,
            TextAlign::Right => cosmic_text::Align::Right,
        };
        // Tabs become spaces byte for byte, so highlight ranges stay valid.
        let text = text.replace('\t', " ");
        // Emoji take the colour emoji font even where the text's font has a monochrome glyph;
        // the highlighted word takes its colour.
        let mut cuts: Vec<(std::ops::Range<usize>, bool)> = Vec::new();
        for (range, is_emoji) in emoji_runs(&text) {
            let mut at = range.start;
            if let Some((h, _)) = &highlight {
                for edge in [h.start, h.end] {
                    if edge > at && edge < range.end && text.is_char_boundary(edge) {
                        cuts.push((at..edge, is_emoji));
                        at = edge;
                    }
                }
            }
            cuts.push((at..range.end, is_emoji));
        }
        let spans: Vec<(&str, Attrs)> = cuts
            .into_iter()
            .map(|(range, is_emoji)| {
                let mut a = match (&emoji_attrs, is_emoji) {
                    (Some(e), true) => e.clone(),
                    _ => attrs.clone(),
                };
                if let Some((h, c)) = &highlight {
                    if range.start >= h.start && range.end <= h.end {
                        a = a.color(cosmic_text::Color::rgb(c.r, c.g, c.b));
                    }
                }
                (&text[range], a)
            })
            .collect();
        buf.set_rich_text(&mut self.fonts, spans, &attrs, Shaping::Advanced, Some(align));
        buf.shape_until_scroll(&mut self.fonts, false);

        // Glyph images at their pixel positions in the layout.
        struct Placed {
            x: i32,
            y: i32,
            w: u32,
            h: u32,
            color: bool,
            tint: Option<Color>,
            data: Vec<u8>,
        }
        let mut glyphs = Vec::new();
        let (mut x0, mut x1, mut y0, mut y1) = (i32::MAX, i32::MIN, i32::MAX, i32::MIN);
        for run in buf.layout_runs() {
            y0 = y0.min(run.line_top.floor() as i32);
            y1 = y1.max((run.line_top + run.line_height).ceil() as i32);
            for g in run.glyphs {
                x0 = x0.min(g.x.floor() as i32);
                x1 = x1.max((g.x + g.w).ceil() as i32);
                let pg = g.physical((0.0, 0.0), 1.0);
                let Some(img) = self.cache.get_image_uncached(&mut self.fonts, pg.cache_key) else { continue };
                let p = img.placement;
                if p.width == 0 || p.height == 0 {
                    continue;
                }
                let (x, y) = (pg.x + p.left, run.line_y as i32 + pg.y - p.top);
                x0 = x0.min(x);
                x1 = x1.max(x + p.width as i32);
                y0 = y0.min(y);
                y1 = y1.max(y + p.height as i32);
                let color = matches!(img.content, SwashContent::Color);
                let data = match img.content {
                    SwashContent::Mask | SwashContent::Color => img.data,
                    // Subpixel masks are not requested; take their first channel if one comes.
                    SwashContent::SubpixelMask => img.data.chunks(4).map(|c| c[0]).collect(),
                };
                let tint = g.color_opt.map(|c| Color::rgb(c.r(), c.g(), c.b()));
                glyphs.push(Placed { x, y, w: p.width, h: p.height, color, tint, data });
            }
        }
        if x0 >= x1 || y0 >= y1 {
            return Raster { width: 2, height: 2, rgba: vec![0; 16] };
        }

        // Canvas: the text's bounds, grown by the outline, the box padding and the shadow.
        let grow = pad + outline;
        let (left, top) = (grow + (-sx).max(0), grow + (-sy).max(0));
        let width = (x1 - x0 + 2 * grow + sx.abs()) as usize;
        let height = (y1 - y0 + 2 * grow + sy.abs()) as usize;
        let (ox, oy) = (left - x0, top - y0);

        // Each glyph pixel that lands on the canvas: (canvas index, glyph data index).
        let each_pixel = |g: &Placed, f: &mut dyn FnMut(usize, usize)| {
            for gy in 0..g.h as i32 {
                for gx in 0..g.w as i32 {
                    let (cx, cy) = (g.x + gx + ox, g.y + gy + oy);
                    if cx >= 0 && cy >= 0 && (cx as usize) < width && (cy as usize) < height {
                        f(cy as usize * width + cx as usize, (gy as u32 * g.w + gx as u32) as usize);
                    }
                }
            }
        };
        // Coverage of the plain glyphs (mask glyphs; colour glyphs by their alpha).
        let mut ink = vec![0f32; width * height];
        for g in &glyphs {
            each_pixel(g, &mut |k, i| {
                let a = if g.color { g.data[i * 4 + 3] } else { g.data[i] } as f32 / 255.0;
                ink[k] = ink[k].max(a);
            });
        }
        let stroke = if outline > 0 { dilate(&ink, width, height, outline) } else { Vec::new() };

        // Composite, premultiplied: box, shadow, outline, fill (colour glyphs in their colours).
        let mut px = vec![[0f32; 4]; width * height];
        let over = |dst: &mut [f32; 4], c: Color, a: f32| {
            let a = a * c.alpha();
            if a <= 0.0 {
                return;
            }
            let src = [c.r as f32 / 255.0 * a, c.g as f32 / 255.0 * a, c.b as f32 / 255.0 * a, a];
            for i in 0..4 {
                dst[i] = src[i] + dst[i] * (1.0 - a);
            }
        };
        if let Some(b) = st.box_ {
            let (bx0, by0) = ((-sx).max(0) as usize, (-sy).max(0) as usize);
            for y in by0..(by0 + (y1 - y0 + 2 * grow) as usize).min(height) {
                for x in bx0..(bx0 + (x1 - x0 + 2 * grow) as usize).min(width) {
                    over(&mut px[y * width + x], b.color, b.opacity as f32);
                }
            }
        }
        let silhouette = if outline > 0 { &stroke } else { &ink };
        if let Some(s) = st.shadow {
            for y in 0..height {
                for x in 0..width {
                    let (fx, fy) = (x as i32 - sx, y as i32 - sy);
                    if fx >= 0 && fy >= 0 && (fx as usize) < width && (fy as usize) < height {
                        let a = silhouette[fy as usize * width + fx as usize] * s.opacity as f32;
                        over(&mut px[y * width + x], s.color, a);
                    }
                }
            }
        }
        if let Some(o) = st.outline {
            for (p, &a) in px.iter_mut().zip(&stroke) {
                over(p, o.color, a);
            }
        }
        for g in &glyphs {
            each_pixel(g, &mut |k, i| {
                if g.color {
                    let c = Color::rgb(g.data[i * 4], g.data[i * 4 + 1], g.data[i * 4 + 2]);
                    over(&mut px[k], c, g.data[i * 4 + 3] as f32 / 255.0);
                } else {
                    over(&mut px[k], g.tint.unwrap_or(st.color), g.data[i] as f32 / 255.0);
                }
            });
        }

        // Straight alpha for PNG, with the text's opacity.
        let opacity = st.opacity as f32;
        let mut rgba = Vec::with_capacity(width * height * 4);
        for p in &px {
            let a = p[3];
            let un = |v: f32| if a > 0.0 { (v / a * 255.0).round().clamp(0.0, 255.0) as u8 } else { 0 };
            rgba.extend_from_slice(&[
                un(p[0]),
                un(p[1]),
                un(p[2]),
                (a * opacity * 255.0).round().clamp(0.0, 255.0) as u8,
            ]);
        }
        Raster { width: width as u32, height: height as u32, rgba }
    }
}

/// Whether `c` belongs to an emoji (pictographs, symbols with emoji presentation, and the
/// joiners, selectors, skin tones, tags and keycaps that build sequences).
fn is_emoji(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2300..=0x23FF
        | 0x200D | 0xFE0F | 0x20E3 | 0xE0020..=0xE007F)
}

/// Split text into runs of emoji and of everything else (byte ranges, in order).
fn emoji_runs(text: &str) -> Vec<(std::ops::Range<usize>, bool)> {
    let mut out: Vec<(std::ops::Range<usize>, bool)> = Vec::new();
    for (i, c) in text.char_indices() {
        let e = is_emoji(c);
        match out.last_mut() {
            Some((r, k)) if *k == e => r.end = i + c.len_utf8(),
            _ => out.push((i..i + c.len_utf8(), e)),
        }
    }
    out
}

/// Grow a coverage map by `r` pixels (the max over a disc), for outlines.
fn dilate(src: &[f32], w: usize, h: usize, r: i32) -> Vec<f32> {
    let offsets: Vec<(i32, i32)> = (-r..=r)
        .flat_map(|dy| (-r..=r).map(move |dx| (dx, dy)))
        .filter(|(dx, dy)| dx * dx + dy * dy <= r * r + r)
        .collect();
    let mut out = vec![0f32; w * h];
    for y in 0..h as i32 {
        for x in 0..w as i32 {
            let mut m = 0f32;
            for &(dx, dy) in &offsets {
                let (sx, sy) = (x + dx, y + dy);
                if sx >= 0 && sy >= 0 && (sx as usize) < w && (sy as usize) < h {
                    m = m.max(src[sy as usize * w + sx as usize]);
                    if m >= 1.0 {
                        break;
                    }
                }
            }
            out[y as usize * w + x as usize] = m;
        }
    }
    out
}

/// Write a raster as an RGBA PNG.
pub fn write_png(path: &Path, r: &Raster) -> std::io::Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut enc = png::Encoder::new(file, r.width, r.height);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(std::io::Error::other)?;
    w.write_image_data(&r.rgba).map_err(std::io::Error::other)?;
    w.finish().map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(text: &str, style: serde_json::Value) -> TextItem {
        serde_json::from_value(serde_json::json!({"text": text, "duration": 1, "style": style})).unwrap()
    }

    /// Where the ink's centre of mass lies across the picture, 0 (left) to 1 (right).
    fn centroid(r: &Raster) -> f64 {
        let (mut m, mut mx) = (0.0, 0.0);
        for y in 0..r.height {
            for x in 0..r.width {
                let a = r.rgba[((y * r.width + x) * 4 + 3) as usize] as f64;
                m += a;
                mx += a * (x as f64 + 0.5);
            }
        }
        mx / m / r.width as f64
    }

    #[test]
    fn wraps_to_the_width() {
        let mut r = Rasterizer::new();
        let long = "the quick brown fox jumps over the lazy dog ".repeat(4);
        let one = r.render(&item("the quick", serde_json::json!({"size": 40})), None, (1000, 1000));
        let wrapped = r.render(&item(&long, serde_json::json!({"size": 40, "width": 0.5})), None, (1000, 1000));
        assert!(wrapped.width <= 500, "{} px wide", wrapped.width);
        assert!(wrapped.height >= 3 * one.height, "several lines: {} vs {}", wrapped.height, one.height);
    }

    #[test]
    fn the_picture_is_bounded_whatever_the_text() {
        let mut r = Rasterizer::new();
        let huge = "W ".repeat(2500);
        let pic = r.render(&item(&huge, serde_json::json!({"size": 1000, "width": 1})), None, (640, 360));
        assert!(pic.height <= 2 * 360 + 2 * 1000 && pic.width <= 640 + 1000, "{}×{}", pic.width, pic.height);
    }

    #[test]
    fn hebrew_runs_right_to_left() {
        // ש is wide and inky, י a small tick. Written first, ש must be drawn rightmost: the
        // ink of "שי" sits further right than the ink of "יש".
        let mut r = Rasterizer::new();
        let first_shin = centroid(&r.render(&item("שי", serde_json::json!({"size": 80})), None, (1000, 1000)));
        let first_yod = centroid(&r.render(&item("יש", serde_json::json!({"size": 80})), None, (1000, 1000)));
        assert!(first_shin > 0.5 && first_yod < 0.5, "שי centroid {first_shin:.2}, יש centroid {first_yod:.2}");
    }

    #[test]
    fn a_font_file_gives_its_family_and_junk_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let font = d.path().join("f.ttf");
        std::fs::write(&font, BUNDLED_FONT).unwrap();
        let mut r = Rasterizer::new();
        assert_eq!(r.load_font(&font).unwrap(), "DejaVu Sans");
        let junk = d.path().join("junk.ttf");
        std::fs::write(&junk, b"<html>not a font</html>").unwrap();
        assert!(r.load_font(&junk).unwrap_err().contains("not a font"));
    }

    #[test]
    fn emoji_are_drawn_in_colour() {
        let mut r = Rasterizer::new();
        assert!(r.has_color_emoji(), "no colour emoji font: install fonts-noto-color-emoji (./dev does)");
        let pic = r.render(&item("😀", serde_json::json!({"size": 100, "color": "white"})), None, (1000, 1000));
        // A grinning face is yellow: strongly coloured pixels, which white text never has.
        let yellow = pic.rgba.chunks(4).filter(|p| p[3] > 200 && p[0] > 180 && p[1] > 120 && p[2] < 90).count();
        assert!(yellow > 500, "{yellow} yellow pixels: drawn as a silhouette or a box");
    }

    #[test]
    fn emoji_runs_split_sequences_whole() {
        let t = "ok 👍🏽 né 🇫🇷!";
        let runs: Vec<(&str, bool)> = emoji_runs(t).into_iter().map(|(r, e)| (&t[r], e)).collect();
        assert_eq!(runs, vec![("ok ", false), ("👍🏽", true), (" né ", false), ("🇫🇷", true), ("!", false)]);
    }

    #[test]
    fn box_outline_and_shadow_grow_the_picture() {
        let mut r = Rasterizer::new();
        let plain = r.render(&item("Hi", serde_json::json!({})), None, (1000, 1000));
        let styled = r.render(
            &item(
                "Hi",
                serde_json::json!({"outline": {"width": 3}, "shadow": {"x": 4, "y": 4}, "box": {"padding": 10}}),
            ),
            None,
            (1000, 1000),
        );
        assert_eq!(styled.width, plain.width + 2 * 13 + 4);
        assert_eq!(styled.height, plain.height + 2 * 13 + 4);
        // The box is opaque-ish black behind everything: its corner pixel.
        assert_eq!(&styled.rgba[0..3], &[0, 0, 0]);
        assert!(styled.rgba[3] > 100);
    }

    #[test]
    fn a_size_relative_to_the_frame_scales_with_it() {
        let mut r = Rasterizer::new();
        let tall = |r: &mut Rasterizer, size: serde_json::Value, frame| {
            r.render(&item("Hi", serde_json::json!({"size": size})), None, frame).height
        };
        // 10vh of a 1080-high frame is 108 px, of a 540-high one 54 px: the same as those pixel sizes.
        assert_eq!(tall(&mut r, "10vh".into(), (1920, 1080)), tall(&mut r, 108.into(), (1920, 1080)));
        assert_eq!(tall(&mut r, "10vh".into(), (960, 540)), tall(&mut r, 54.into(), (960, 540)));
        assert_eq!(tall(&mut r, "5vw".into(), (1080, 1920)), tall(&mut r, 54.into(), (1080, 1920)));
        assert_eq!(tall(&mut r, "5vmin".into(), (1080, 1920)), tall(&mut r, "54px".into(), (1080, 1920)));
    }

    #[test]
    fn a_colours_own_opacity_multiplies_the_styles() {
        let mut r = Rasterizer::new();
        let mut boxed = |colour: &str| {
            let style = serde_json::json!({"box": {"color": colour, "opacity": 1, "padding": 10}});
            r.render(&item("Hi", style), None, (1000, 1000)).rgba[0..4].to_vec()
        };
        assert_eq!(boxed("red"), [255, 0, 0, 255]);
        let half = boxed("#ff000080");
        assert_eq!(&half[0..3], &[255, 0, 0]);
        assert!((127..=129).contains(&half[3]), "{half:?}");
        assert_eq!(boxed("transparent")[3], 0);
    }
}
