#!/usr/bin/env bash
# bench/run.sh [MEDIA_DIR] [RUNS]   (WORKLOADS="concat concat-encode" bench/run.sh: only those)
# cutlist against the hand-written FFmpeg command doing the same work, in the same run, pair
# by pair: wall time, CPU time, whole-tree peak private memory (RssAnon + RssShmem).
# Workloads (10 × 1080p30 clips, x264 veryfast CRF 23, AAC 128k 48 kHz, +faststart):
#   reel:   W1: each clip [2 s, 6 s) cover-cropped to 1080x1920, 0.5 s crossfades, music at
#           -14 dB with fades, a 3 s title (35.5 s); cutlist with --memory-limit 300Mi,
#           against bench/ffmpeg_w1.sh (one filtergraph over all inputs) and, when ../shared
#           is there, its restructured command
#   reel512: W1 at --memory-limit 512Mi, against ../shared's restructured command when present
#   cuts:   each clip [2 s, 6 s), cover-cropped to 1080x1920, joined by cuts (40 s)
#   concat: W2, each clip whole at 1920x1080, back to back (80 s): stream copy (the clips
#           are coded alike) against ffmpeg copying everything and copying the video with
#           the sound encoded; concat-encode: the same with --copy never, against the concat
#           demuxer re-encoding
#   trim:   W5, each clip [2.1 s, 6.3 s) at 1920x1080, joined by cuts (42 s; GOP 30, so the
#           cuts fall between keyframes): smart cut against --copy never and against one
#           filtergraph re-encoding; prints how many frames the smart cut re-encoded
#   long:   one 40 s 1080p clip (clips 1–5 joined), re-encoded whole (--copy never): cutlist's
#           chunks (~10 s, two at once) against one FFmpeg command re-encoding it
# Media: ../shared/bench/make_media.sh when present (the shared reference media), else
# bench/make_media.sh (no ../shared needed). RUNS runs, interleaved; medians printed.
# Not part of the test suite: it prints figures, it does not pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
MEDIA=$(realpath -m "${1:-${TMPDIR:-/tmp}/cutlist-bench-media}")
RUNS=${2:-1}
# A file left half-written by an interrupted run would be skipped by the generators: drop it.
for f in "$MEDIA"/clip*.mp4; do
  [ -e "$f" ] && ! ffprobe -v error -show_entries format=duration -of csv=p=0 "$f" >/dev/null 2>&1 && rm -f "$f"
done
if [ -x ../shared/bench/make_media.sh ]; then ../shared/bench/make_media.sh "$MEDIA" >/dev/null; else bench/make_media.sh "$MEDIA"; fi
cargo build --release --locked -q
CUTLIST=$PWD/target/release/cutlist
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
ENC=(-c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p -r 30 -c:a aac -b:a 128k -ar 48000 -ac 2 -movflags +faststart)

spec() { # name width height clip-json...
  local name=$1 w=$2 h=$3; shift 3
  local clips; clips=$(IFS=,; echo "$*")
  cat > "$OUT/$name.json" <<JSON
{"version":1,"id":"$name","output":{"path":"$name-cutlist.mp4","width":$w,"height":$h,"fps":30,
 "video":{"preset":"veryfast","crf":23},"audio":{"bitrate":128000}},
 "timeline":{"tracks":[{"type":"video","clips":[$clips]}]}}
JSON
}
cuts=(); whole=(); trims=(); inputs=(); graph=""; concat=""; tinputs=(); tgraph=""; tconcat=""
for k in $(seq -w 1 10); do
  trims+=("{\"type\":\"video\",\"src\":\"$MEDIA/clip$k.mp4\",\"in\":2.1,\"out\":6.3}")
  tinputs+=(-ss 2.1 -t 4.2 -i "$MEDIA/clip$k.mp4")
  cuts+=("{\"type\":\"video\",\"src\":\"$MEDIA/clip$k.mp4\",\"in\":2,\"out\":6,\"fit\":\"cover\"}")
  whole+=("{\"type\":\"video\",\"src\":\"$MEDIA/clip$k.mp4\"}")
  i=$((10#$k - 1))
  inputs+=(-ss 2 -t 4 -i "$MEDIA/clip$k.mp4")
  graph+="[$i:v]crop=trunc(ih*9/16/2)*2:ih,scale=1080:1920,setsar=1,format=yuv420p[v$i];[$i:a]aformat=sample_rates=48000:channel_layouts=stereo[a$i];"
  concat+="[v$i][a$i]"
  tgraph+="[$i:v]setpts=PTS-STARTPTS[v$i];[$i:a]aformat=sample_rates=48000:channel_layouts=stereo,asetpts=PTS-STARTPTS[a$i];"
  tconcat+="[v$i][a$i]"
  echo "file '$MEDIA/clip$k.mp4'" >> "$OUT/list.txt"
done
spec cuts 1080 1920 "${cuts[@]}"
# W1 "reel": the cuts with 0.5 s crossfades, music at -14 dB with fades, a 3 s title.
reel=("${cuts[0]}")
for c in "${cuts[@]:1}"; do reel+=("${c%\}},\"transition\":{\"type\":\"crossfade\",\"duration\":0.5}}"); done
cat > "$OUT/reel.json" <<JSON
{"version":1,"id":"reel","output":{"path":"reel-cutlist.mp4","width":1080,"height":1920,"fps":30,
 "video":{"preset":"veryfast","crf":23},"audio":{"bitrate":128000}},
 "timeline":{"tracks":[{"type":"video","clips":[$(IFS=,; echo "${reel[*]}")]},
  {"type":"audio","volume":"-14dB","clips":[{"src":"$MEDIA/music.mp3","fade_in":1,"fade_out":2}]},
  {"type":"overlay","items":[{"type":"text","text":"Summer 2026","duration":3,"position":{"x":0.5,"y":0.24},
   "style":{"size":120,"outline":{"width":5}}}]}]}}
JSON
spec concat 1920 1080 "${whole[@]}"
spec trim 1920 1080 "${trims[@]}"
# "long": one 40 s clip, clips 1–5 back to back (stream copy).
head -5 "$OUT/list.txt" > "$OUT/list5.txt"
ffmpeg -hide_banner -nostdin -loglevel error -y -f concat -safe 0 -i "$OUT/list5.txt" -c copy "$OUT/long.mp4"
spec long 1920 1080 "{\"type\":\"video\",\"src\":\"$OUT/long.mp4\"}"
cp "$OUT/trim.json" "$OUT/trim-never.json" && sed -i 's/trim-cutlist.mp4/trim-never.mp4/' "$OUT/trim-never.json"
graph+="${concat}concat=n=10:v=1:a=1[v][a]"
tgraph+="${tconcat}concat=n=10:v=1:a=1[v][a]"

WORKLOADS=${WORKLOADS:-reel reel512 cuts concat concat-encode trim long}
run() { [[ " $WORKLOADS " == *" ${1%%/*} "* ]] || return 0; python3 bench/measure.py "$@"; }
results=()
for r in $(seq 1 "$RUNS"); do
  results+=("$(run reel/cutlist "$CUTLIST" --log-format json render "$OUT/reel.json" --overwrite --allow-root "$MEDIA" --memory-limit 300Mi)")
  results+=("$(run reel/ffmpeg bench/ffmpeg_w1.sh "$MEDIA" "$OUT/reel-ffmpeg.mp4")")
  if [ -x ../shared/bench/floor/ffmpeg_w1_lowmem.sh ]; then
    results+=("$(run reel/ffmpeg-lowmem ../shared/bench/floor/ffmpeg_w1_lowmem.sh "$MEDIA" "$OUT/reel-lowmem.mp4")")
  fi
  # W1 at 512 MiB (two segments at a time), against the fastest known command (the shared
  # floor's restructured graph, when ../shared is there).
  results+=("$(run reel512/cutlist "$CUTLIST" --log-format json render "$OUT/reel.json" --overwrite --allow-root "$MEDIA" --memory-limit 512Mi)")
  if [ -x ../shared/bench/floor/ffmpeg_w1_lowmem.sh ]; then
    results+=("$(run reel512/ffmpeg-lowmem ../shared/bench/floor/ffmpeg_w1_lowmem.sh "$MEDIA" "$OUT/reel-lowmem.mp4")")
  fi
  results+=("$(run cuts/cutlist "$CUTLIST" --log-format json render "$OUT/cuts.json" --overwrite --allow-root "$MEDIA")")
  results+=("$(run cuts/ffmpeg ffmpeg -hide_banner -nostdin -loglevel error -y "${inputs[@]}" -filter_complex "$graph" -map '[v]' -map '[a]' "${ENC[@]}" "$OUT/cuts-ffmpeg.mp4")")
  # W2: the clips are coded alike, so cutlist copies their pictures and encodes the sound
  # once; against every stream copied, and against the fair floor: video copied, sound encoded.
  results+=("$(run concat/cutlist "$CUTLIST" --log-format json render "$OUT/concat.json" --overwrite --allow-root "$MEDIA")")
  results+=("$(run concat/ffmpeg-copy ffmpeg -hide_banner -nostdin -loglevel error -y -f concat -safe 0 -i "$OUT/list.txt" -map 0 -c copy -movflags +faststart "$OUT/concat-copy.mp4")")
  results+=("$(run concat/ffmpeg-vcopy ffmpeg -hide_banner -nostdin -loglevel error -y -f concat -safe 0 -i "$OUT/list.txt" -map 0:v -map 0:a -c:v copy -c:a aac -b:a 128k -ar 48000 -ac 2 -movflags +faststart "$OUT/concat-vcopy.mp4")")
  # W2 re-encoded: --copy never against the concat demuxer re-encoding.
  results+=("$(run concat-encode/cutlist "$CUTLIST" --log-format json render "$OUT/concat.json" --overwrite --allow-root "$MEDIA" --copy never)")
  results+=("$(run concat-encode/ffmpeg ffmpeg -hide_banner -nostdin -loglevel error -y -f concat -safe 0 -i "$OUT/list.txt" -map 0:v -map 0:a -vf setpts=PTS-STARTPTS -af asetpts=PTS-STARTPTS "${ENC[@]}" "$OUT/concat-ffmpeg.mp4")")
  # W5: clips cut between keyframes: smart cut against re-encoding everything.
  results+=("$(run trim/cutlist "$CUTLIST" --log-format json render "$OUT/trim.json" --overwrite --allow-root "$MEDIA")")
  results+=("$(run trim/cutlist-never "$CUTLIST" --log-format json render "$OUT/trim-never.json" --overwrite --allow-root "$MEDIA" --copy never)")
  results+=("$(run trim/ffmpeg ffmpeg -hide_banner -nostdin -loglevel error -y "${tinputs[@]}" -filter_complex "$tgraph" -map '[v]' -map '[a]' "${ENC[@]}" "$OUT/trim-ffmpeg.mp4")")
  # One long clip re-encoded: chunks two at once against one command.
  results+=("$(run long/cutlist "$CUTLIST" --log-format json render "$OUT/long.json" --overwrite --copy never)")
  results+=("$(run long/ffmpeg ffmpeg -hide_banner -nostdin -loglevel error -y -i "$OUT/long.mp4" "${ENC[@]}" "$OUT/long-ffmpeg.mp4")")
done
printf '%s\n' "${results[@]}" | grep -v '^$' | python3 bench/summary.py
# W1: the same picture as the hand-written command's? SSIM frame by frame (both retimed to
# frame numbers), over the whole reel and over the 0.5 s crossfade at each join.
w1_ssim() { # ours theirs
  python3 - "$1" "$2" <<'PY'
import subprocess, sys
a, b = sys.argv[1], sys.argv[2]
log = a + ".ssim"
subprocess.run(["ffmpeg", "-v", "error", "-i", a, "-i", b, "-lavfi",
                f"[0:v]settb=1/30,setpts=N[a];[1:v]settb=1/30,setpts=N[b];[a][b]ssim=stats_file={log}", "-f", "null", "-"],
               check=True)
ssim = [float(l.split("All:")[1].split()[0]) for l in open(log)]
joins = [105 * k for k in range(1, 10)]  # 4 s clips overlapping by 0.5 s: clip k starts at 3.5 k s
near = [min(ssim[j - 2:j + 17]) for j in joins]
print(f"W1 picture: {len(ssim)} frames; SSIM against {b.rsplit('/', 1)[-1]}: mean {sum(ssim)/len(ssim):.4f}, "
      f"min {min(ssim):.4f}; min per join (its crossfade) {min(near):.4f}")
PY
}
if [[ " $WORKLOADS " == *" reel512 "* && -e "$OUT/reel-lowmem.mp4" ]]; then w1_ssim "$OUT/reel-cutlist.mp4" "$OUT/reel-lowmem.mp4"; fi
if [[ " $WORKLOADS " == *" reel "* && -e "$OUT/reel-ffmpeg.mp4" ]]; then w1_ssim "$OUT/reel-cutlist.mp4" "$OUT/reel-ffmpeg.mp4"; fi
if [[ " $WORKLOADS " == *" trim "* ]]; then
  # What the smart cut re-encoded (the partial groups at each clip's ends), and how close its
  # pictures at the cuts are to the full re-encode's.
  python3 - "$OUT" <<'PY'
import json, subprocess, sys
out = sys.argv[1]
m = json.load(open(f"{out}/trim-cutlist.mp4.json"))
clips = m["clips"]
re = sum(c.get("head_frames", 0) + c.get("tail_frames", 0) for c in clips if c["video"] == "smart-cut")
enc = sum(c["frames"] for c in clips if c["video"] == "encoded")
total = sum(c["frames"] for c in clips)
print(f"trim: smart cut re-encoded {re} frames in partial groups (+{enc} in clips that fell back) of {total}")
for c in clips:
    if c["video"] == "encoded":
        print(f"  {c['path']}: {c['because']}")
def ssim(a, b, a_from, b_from, n):
    """SSIM of frames [a_from, a_from + n) of file a against [b_from, b_from + n) of file b."""
    log = f"{out}/trim.ssim"
    g = (f"[0:v]trim=start_frame={a_from}:end_frame={a_from + n},settb=1/30,setpts=N[a];"
         f"[1:v]trim=start_frame={b_from}:end_frame={b_from + n},settb=1/30,setpts=N[b];[a][b]ssim=stats_file={log}")
    subprocess.run(["ffmpeg", "-v", "error", "-i", a, "-i", b, "-lavfi", g, "-f", "null", "-"], check=True)
    return [float(l.split("All:")[1].split()[0]) for l in open(log)]

# Each clip's frames against its source's ([2.1 s, 6.3 s) = frames 63–188), for the smart
# cut and for the full re-encode; and the two against each other. At the cuts: the 3 frames
# each side of each clip's start, copy start, copy end.
smart, full, pair, at_cuts = [], [], [], []
at = 0
for k, c in enumerate(clips):
    src = json.load(open(f"{out}/trim.json"))["timeline"]["tracks"][0]["clips"][k]["src"]
    s = ssim(f"{out}/trim-cutlist.mp4", src, at, 63, c["frames"])
    f = ssim(f"{out}/trim-never.mp4", src, at, 63, c["frames"])
    p = ssim(f"{out}/trim-cutlist.mp4", f"{out}/trim-never.mp4", at, at, c["frames"])
    h, t = c.get("head_frames", 0), c.get("tail_frames", 0)
    for cut in (0, h, c["frames"] - t):
        for i in range(max(0, cut - 3), min(c["frames"], cut + 3)):
            at_cuts.append((s[i], f[i], p[i]))
    smart += s; full += f; pair += p
    at += c["frames"]
mean = lambda v: sum(v) / len(v)
print(f"trim: SSIM against the sources: smart cut mean {mean(smart):.4f} min {min(smart):.4f}; "
      f"--copy never mean {mean(full):.4f} min {min(full):.4f}")
print(f"trim: at the cuts (3 frames each side): smart cut against the sources min {min(x[0] for x in at_cuts):.4f}, "
      f"--copy never against the sources min {min(x[1] for x in at_cuts):.4f}; "
      f"smart cut against --copy never mean {mean([x[2] for x in at_cuts]):.4f} min {min(x[2] for x in at_cuts):.4f}")
PY
fi
