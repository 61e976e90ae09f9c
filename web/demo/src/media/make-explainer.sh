#!/bin/sh
# Regenerates explainer.webm, the demo site's 60 s explainer video, and its
# poster explainer-poster.webp. Four slides and a running "m:ss / 1:00" counter
# plus a progress bar, so a viewer (or a test) can see the playback position.
# Both outputs are byte-identical from run to run (bitexact flags). Needs
# Debian's ffmpeg (5.1) and fonts-dejavu-core; run it once and commit the
# results: CI never runs it.
#
#   sh web/demo/src/media/make-explainer.sh
set -eu
here=$(dirname "$0")
font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
bold=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
mono=/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf
filter=$(mktemp)
trap 'rm -f "$filter"' EXIT

# The slides are drawn on a plain colour source. The counter and a progress bar
# (a second colour source that slides in from the left by overlay, whose x is
# evaluated per frame) sit at the top, where the player's controls never cover
# them.
# One drawtext per line of each slide, shown while gte(t,start)*lt(t,end).
# slide START END TITLE LINE1 LINE2 (a literal colon is written \: for drawtext)
slide() {
    cat >>"$filter" <<SLIDE
drawtext=fontfile=$bold:fontsize=34:fontcolor=white:x=48:y=120:text='$3':enable='gte(t,$1)*lt(t,$2)',
drawtext=fontfile=$font:fontsize=22:fontcolor=0xD6E4F0:x=48:y=186:text='$4':enable='gte(t,$1)*lt(t,$2)',
drawtext=fontfile=$font:fontsize=22:fontcolor=0xD6E4F0:x=48:y=220:text='$5':enable='gte(t,$1)*lt(t,$2)',
SLIDE
}

cat >"$filter" <<HEAD
color=c=0x12355B:s=640x360:r=10:d=60,
drawbox=x=0:y=0:w=iw:h=56:color=0x0B2540:t=fill,
drawtext=fontfile=$bold:fontsize=20:fontcolor=0xF5B942:x=48:y=18:text='Kestrel Loans',
HEAD
slide 0 6 'How our loans work' 'Four steps and about a minute.' 'Watch, then try the calculator.'
slide 6 19 '1. Choose an amount' 'Borrow from $1,000 to $50,000.' 'Only what you need.'
slide 19 32 '2. Pick a term' 'Over $20,000\: 36 months or more.' 'Under $5,000\: 24 months at most.'
slide 32 45 '3. Tell us your annual income' 'Per YEAR, not per month.' 'At least $12,000 a year.'
slide 45 60 '4. Apply in minutes' 'Name, email, phone, employment.' 'A decision within one working day.'
cat >>"$filter" <<TAIL
drawtext=fontfile=$mono:fontsize=20:fontcolor=white:x=w-tw-48:y=17:text='%{eif\:trunc(t/60)\:d}\:%{eif\:mod(t\,60)\:d\:2} / 1\:00' [slides];
color=c=0xF5B942:s=640x6:r=10:d=60 [bar];
[slides][bar] overlay=x='W*t/60-w':y=56
TAIL

ffmpeg -hide_banner -loglevel error -y \
    -filter_complex_script "$filter" \
    -c:v libvpx-vp9 -crf 38 -b:v 0 -g 50 -row-mt 1 -pix_fmt yuv420p \
    -fflags +bitexact -flags:v +bitexact \
    -metadata title='How our loans work' \
    "$here/explainer.webm"

# The poster: the first frame (title slide, "0:00 / 1:00"), shown before
# playback, including on phones, which load no frame for preload="metadata".
ffmpeg -hide_banner -loglevel error -y -i "$here/explainer.webm" -frames:v 1 \
    -c:v libwebp -quality 80 -fflags +bitexact -flags:v +bitexact \
    "$here/explainer-poster.webp"
