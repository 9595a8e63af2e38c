#!/usr/bin/env bash
# Regenerate the app icons from one drawing (ImageMagick 6: `apt-get install imagemagick`).
# The PNGs are 8-bit RGBA, as tauri's codegen requires; icon.ico holds 16..256 px.
set -euo pipefail
cd "$(dirname "$0")"

master="$(mktemp --suffix=.png)"
trap 'rm -f "$master"' EXIT

# Points of a circular arc from 225 to 315 degrees (screen coordinates: the upper quarter), as a
# polyline: ImageMagick 6 renders thick stroked `arc`/`path A` primitives wrongly.
arc() { # cx cy r
    awk -v cx="$1" -v cy="$2" -v r="$3" 'BEGIN {
        for (d = 225; d <= 315; d += 5) { a = d * 3.14159265 / 180; printf "%.1f,%.1f ", cx + r * cos(a), cy + r * sin(a) }
    }'
}

# 1024x1024: teal rounded square, white house outline, a Wi-Fi glyph inside.
convert -size 1024x1024 xc:none \
    -fill '#0f766e' -draw 'roundrectangle 48,48 975,975 180,180' \
    -fill none -stroke white -strokewidth 64 -draw 'stroke-linejoin round stroke-linecap round polyline 200,520 512,232 824,520' \
    -draw 'stroke-linejoin round stroke-linecap round polyline 296,440 296,792 728,792 728,440' \
    -fill white -stroke none -draw 'circle 512,660 512,620' \
    -fill none -stroke white -strokewidth 44 \
    -draw "stroke-linejoin round stroke-linecap round polyline $(arc 512 660 120)" \
    -draw "stroke-linejoin round stroke-linecap round polyline $(arc 512 660 200)" \
    "PNG32:$master"

for spec in 32x32:32x32.png 128x128:128x128.png 256x256:128x128@2x.png 512x512:icon.png; do
    size="${spec%%:*}"; out="${spec#*:}"
    convert "$master" -filter Lanczos -resize "$size" -strip "PNG32:$out"
done
convert "$master" -strip -define icon:auto-resize=256,128,64,48,32,16 icon.ico
