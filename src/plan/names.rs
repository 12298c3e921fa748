//! FFmpeg's names for what the spec says in its own words: encoders, the codec names ffprobe
//! reports, xfade transitions, colours.

use crate::spec::{Color, TransitionKind, VideoCodec};

/// The FFmpeg encoder of a video codec.
pub fn encoder(c: VideoCodec) -> &'static str {
    match c {
        VideoCodec::Libx264 => "libx264",
        VideoCodec::Libx265 => "libx265",
        VideoCodec::LibvpxVp9 => "libvpx-vp9",
    }
}

/// The codec name ffprobe reports for what the encoder writes.
pub fn probe_name(c: VideoCodec) -> &'static str {
    match c {
        VideoCodec::Libx264 => "h264",
        VideoCodec::Libx265 => "hevc",
        VideoCodec::LibvpxVp9 => "vp9",
    }
}

/// The `xfade` transition that draws a kind (`None` for cut and fade-through-colour).
pub fn xfade(kind: TransitionKind) -> Option<&'static str> {
    use TransitionKind::*;
    Some(match kind {
        Cut | Fade => return None,
        Crossfade => "fade",
        Wipeleft => "wipeleft",
        Wiperight => "wiperight",
        Wipeup => "wipeup",
        Wipedown => "wipedown",
        Slideleft => "slideleft",
        Slideright => "slideright",
        Slideup => "slideup",
        Slidedown => "slidedown",
        Smoothleft => "smoothleft",
        Smoothright => "smoothright",
        Smoothup => "smoothup",
        Smoothdown => "smoothdown",
        Circleopen => "circleopen",
        Circleclose => "circleclose",
        Circlecrop => "circlecrop",
        Rectcrop => "rectcrop",
        Radial => "radial",
        Horzopen => "horzopen",
        Horzclose => "horzclose",
        Vertopen => "vertopen",
        Vertclose => "vertclose",
        Diagtl => "diagtl",
        Diagtr => "diagtr",
        Diagbl => "diagbl",
        Diagbr => "diagbr",
        Pixelize => "pixelize",
        Zoomin => "zoomin",
    })
}

/// The form FFmpeg's colour options take: `0xRRGGBB`.
pub fn color(c: Color) -> String {
    format!("0x{:02X}{:02X}{:02X}", c.r, c.g, c.b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn colours_in_ffmpeg_form() {
        assert_eq!(super::color(crate::spec::Color::rgb(1, 2, 255)), "0x0102FF");
    }
}
