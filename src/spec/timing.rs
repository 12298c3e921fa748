//! Where each main-track clip lands on the output timeline, in frames, once transitions overlap them.
//!
//! The rule (docs/spec.md, "Transitions"): a transition of `d` frames into clip *i* starts
//! clip *i* `d` frames before clip *i − 1* ends. So `start[0] = 0`,
//! `start[i] = start[i−1] + frames[i−1] − d[i]`, and the output lasts
//! `Σ frames − Σ d`. A transition may not be longer than either clip, and the two
//! transitions of one clip may not overlap each other.

use super::{Clip, Rational};
use serde::Serialize;

/// One clip's place on the output timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    /// First output frame showing this clip (inside the incoming transition, if any).
    pub start: u64,
    /// Frames the clip lasts, transitions included.
    pub frames: u64,
}

/// The main track laid out on the output frame grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    pub clips: Vec<Span>,
    /// `transitions[i]`: frames of the transition into clip `i` (0 for a cut and for clip 0).
    pub transitions: Vec<u64>,
    /// Output frames.
    pub total: u64,
}

/// Frames of the transition into each clip, on the grid (0 for cuts and the first clip).
pub fn transition_frames(clips: &[Clip], fps: Rational) -> Vec<u64> {
    clips
        .iter()
        .enumerate()
        .map(|(i, c)| match c.transition() {
            Some(t) if i > 0 => fps.frame_at(t.duration),
            _ => 0,
        })
        .collect()
}

/// Check that the transitions fit their clips; returns `(clip index, reason)` for each that does not.
pub fn check(lengths: &[u64], transitions: &[u64], fps: Rational) -> Vec<(usize, String)> {
    let secs = |f: u64| fps.seconds_at(f);
    let mut errs = Vec::new();
    for i in 1..lengths.len() {
        let d = transitions[i];
        if d == 0 {
            continue;
        }
        let (prev, this) = (lengths[i - 1], lengths[i]);
        if d > prev || d > this {
            errs.push((
                i,
                format!(
                    "{:.3} s is longer than the clips it joins ({:.3} s and {:.3} s)",
                    secs(d),
                    secs(prev),
                    secs(this)
                ),
            ));
        } else if i + 1 < lengths.len() && d + transitions[i + 1] > this {
            errs.push((
                i,
                format!(
                    "this transition and the next one ({:.3} s + {:.3} s) overlap inside this clip ({:.3} s)",
                    secs(d),
                    secs(transitions[i + 1]),
                    secs(this)
                ),
            ));
        }
    }
    errs
}

/// Lay out clips of `lengths` frames joined by `transitions` (already [`check`]ed).
pub fn layout(lengths: &[u64], transitions: &[u64]) -> Layout {
    let mut clips = Vec::with_capacity(lengths.len());
    let mut end = 0u64;
    for (i, &frames) in lengths.iter().enumerate() {
        let start = end - transitions[i].min(end);
        clips.push(Span { start, frames });
        end = start + frames;
    }
    Layout { clips, transitions: transitions.to_vec(), total: end }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FPS: Rational = Rational::new(30, 1);

    #[test]
    fn transitions_overlap_and_shorten() {
        let l = layout(&[90, 60, 30], &[0, 15, 0]);
        assert_eq!(
            l.clips,
            vec![Span { start: 0, frames: 90 }, Span { start: 75, frames: 60 }, Span { start: 135, frames: 30 }]
        );
        assert_eq!(l.total, 90 + 60 + 30 - 15);
    }

    #[test]
    fn transitions_must_fit() {
        assert!(check(&[90, 60, 30], &[0, 15, 15], FPS).is_empty());
        let e = check(&[10, 60], &[0, 15], FPS);
        assert_eq!(e[0].0, 1);
        assert!(e[0].1.contains("longer than the clips"), "{e:?}");
        let e = check(&[60, 20, 60], &[0, 15, 10], FPS);
        assert_eq!(e[0].0, 1);
        assert!(e[0].1.contains("overlap"), "{e:?}");
    }
}
