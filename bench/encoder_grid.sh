#!/usr/bin/env bash
# The measurements behind cutlist's encoder table (src/plan/budget.rs): the peak private
# memory of one FFmpeg encode per codec, preset and (threads, lookahead) setting cutlist
# can choose, at 1280×720 and 1920×1080. The table's fixed part and per-frame slope are the
# line through both sizes. Prints one line per run:
#   codec preset width height threads lookahead peak_MiB
# Usage: bench/encoder_grid.sh   (about 5 minutes on 2 cores; needs ffmpeg and python3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

peak() { # peak MiB of the whole tree of "$@" (bench/measure.py's definition)
  python3 "$here/measure.py" grid "$@" | python3 -c 'import json,sys; print(json.load(sys.stdin)["peak_private_mib"])'
}
encode() { # W H ARGS...: 3 s of testsrc2 at W×H into the encoder, thrown away
  local w=$1 h=$2; shift 2
  peak ffmpeg -nostdin -loglevel error -y -filter_complex_threads 1 \
    -f lavfi -i "testsrc2=s=${w}x${h}:r=30:d=3" "$@" -f null -
}

for size in "1280 720" "1920 1080"; do
  for setting in "1 0" "1 5" "2 5" "2 10" "4 10"; do
    set -- $size $setting; w=$1 h=$2 t=$3 la=$4
    for p in ultrafast superfast veryfast medium slow; do
      echo "x264 $p $w $h $t $la $(encode $w $h -c:v libx264 -preset $p -threads $t -x264-params rc-lookahead=$la)"
    done
    for p in ultrafast veryfast medium; do
      echo "x265 $p $w $h $t $la $(encode $w $h -c:v libx265 -preset $p \
        -x265-params pools=$t:frame-threads=1:rc-lookahead=$(( la > 5 ? la : 5 )):log-level=error)"
    done
    echo "vp9 cpu-used=5 $w $h $t $la $(encode $w $h -c:v libvpx-vp9 -crf 23 -b:v 0 -deadline good \
      -cpu-used 5 -row-mt 1 -threads $t -lag-in-frames $la)"
  done
done
