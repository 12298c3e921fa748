#!/usr/bin/env bash
# bench/make_media.sh DIR: ten 1920x1080 30 fps 8 s H.264 clips with stereo AAC (distinct
# picture and tones per clip) and 60 s of 44.1 kHz MP3 music, made with FFmpeg's lavfi
# sources. Skips files that exist.
set -euo pipefail
DIR=${1:?usage: make_media.sh DIR}
mkdir -p "$DIR"
for k in $(seq 1 10); do
  f=$(printf '%s/clip%02d.mp4' "$DIR" "$k")
  [ -s "$f" ] && continue
  ffmpeg -hide_banner -nostdin -loglevel error -y \
    -f lavfi -i "testsrc2=s=1920x1080:r=30:d=8,hue=h=$((k * 36)),noise=alls=4:allf=t" \
    -f lavfi -i "aevalsrc=0.25*sin(2*PI*$((220 * k))*t)|0.25*sin(2*PI*$((330 * k))*t):s=48000:d=8" \
    -c:v libx264 -preset fast -crf 20 -g 30 -pix_fmt yuv420p -c:a aac -b:a 160k -movflags +faststart "$f"
done
[ -s "$DIR/music.mp3" ] || ffmpeg -hide_banner -nostdin -loglevel error -y \
  -f lavfi -i "aevalsrc=0.2*sin(2*PI*220*t)*(0.7+0.3*sin(2*PI*0.5*t))|0.2*sin(2*PI*277*t)*(0.7+0.3*sin(2*PI*0.5*t)):s=44100:d=60" \
  -c:a libmp3lame -b:a 192k "$DIR/music.mp3"
