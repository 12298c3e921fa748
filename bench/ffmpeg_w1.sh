#!/usr/bin/env bash
# bench/ffmpeg_w1.sh MEDIA OUT.mp4: the W1 "reel" as the one FFmpeg command a person would
# write: ten 4 s pieces (from 2 s into each clip) cropped to 9:16 and scaled to 1080x1920,
# joined by 0.5 s crossfades (picture and sound), a title for the first 3 s, music at -14 dB
# with a 1 s fade-in and a 2 s fade-out, x264 veryfast CRF 23, AAC 128k, +faststart.
set -euo pipefail
M=${1:?media dir}; OUT=${2:?output}
title_font=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
inputs=(); graph=""
for k in $(seq 0 9); do
  inputs+=(-ss 2 -t 4 -i "$(printf '%s/clip%02d.mp4' "$M" $((k + 1)))")
  graph+="[$k:v]crop=trunc(ih*9/16/2)*2:ih,scale=1080:1920,setsar=1,format=yuv420p[v$k];"
  graph+="[$k:a]aformat=sample_rates=48000:channel_layouts=stereo[a$k];"
done
inputs+=(-i "$M/music.mp3")
v=v0; a=a0
for k in $(seq 1 9); do
  graph+="[$v][v$k]xfade=transition=fade:duration=0.5:offset=$(awk -v k=$k 'BEGIN{print k*3.5}')[xv$k];"
  graph+="[$a][a$k]acrossfade=d=0.5:c1=tri:c2=tri[xa$k];"
  v=xv$k; a=xa$k
done
graph+="[$v]drawtext=fontfile=$title_font:text='Summer 2026':fontsize=120:fontcolor=white:borderw=5:bordercolor=black:x=(w-text_w)/2:y=h*0.2:enable='lt(t,3)'[vout];"
graph+="[10:a]atrim=0:35.5,aresample=48000,aformat=sample_rates=48000:channel_layouts=stereo,volume=-14dB,afade=t=in:d=1,afade=t=out:st=33.5:d=2[music];"
graph+="[$a][music]amix=inputs=2:duration=first:normalize=0[aout]"
exec ffmpeg -hide_banner -nostdin -loglevel error -y "${inputs[@]}" -filter_complex "$graph" \
  -map '[vout]' -map '[aout]' -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p -r 30 \
  -c:a aac -b:a 128k -ar 48000 -ac 2 -movflags +faststart "$OUT"
