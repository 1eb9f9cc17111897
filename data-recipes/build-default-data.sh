#!/usr/bin/env bash
# The default model's training data: the music21 corpus + freely licensed band music (drums, bass, guitar),
# merged into data/default. Run from the repository root; needs the Debian packages below (installed if missing)
# and ../shared/midi (the MidiTok test files) beside the checkout. See MODEL_CARD.md for the licences.
#
#   bash data-recipes/build-default-data.sh        # ~4 minutes cold, seconds warm
set -euo pipefail
BIN=${BIN:-.venv/bin}
SHARED=${SHARED:-../shared/midi/MidiTok/tests}
if [ ! -d /usr/share/games/openttd/baseset/openmsx ] || [ ! -d /usr/share/planetblupi/music ]; then
    apt-get update -qq && apt-get install -y -qq openttd-openmsx planetblupi-music-midi
fi
SRC=data/band-src
rm -rf "$SRC" && mkdir -p "$SRC"
cp -r /usr/share/games/openttd/baseset/openmsx "$SRC/openmsx" && rm -f "$SRC/openmsx/license.txt"
cp -r /usr/share/planetblupi/music "$SRC/planetblupi"
cp -r "$SHARED/MIDIs_multitrack" "$SRC/miditok-multitrack"
cp -r "$SHARED/MIDIs_one_track" "$SRC/miditok-one-track"
"$BIN/musenet" data build --source music21 --out data/m21 --quiet
# --val 0 --test 0: the labels CSV pins the held-out pieces (a few of each style), the rest is training data
"$BIN/musenet" data build --source "$SRC" --labels data-recipes/band-labels.csv --out data/band --val 0 --test 0 --quiet
"$BIN/musenet" data merge data/m21 data/band --out data/default
