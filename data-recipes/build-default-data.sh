#!/usr/bin/env bash
# The default model's training data, built into data/default from:
#   - the music21 corpus (in the music21 wheel);
#   - ../shared/datasets: Groove MIDI, POP909, piano-midi.de, OpenScore Lieder, OpenScore String Quartets;
#   - Debian packages (installed here when missing): freedoom + freedm (MIDI inside the .wad archives),
#     simutrans-data, mma (accompaniment rendered from chord charts, a capped share), openttd-openmsx,
#     planetblupi-music-midi; and ../shared/midi's MidiTok test songs.
# Labels come from each collection's metadata (musenet/data/sources); licences in musenet/data/README.md and
# MODEL_CARD.md. Run from the repository root:
#
#   bash data-recipes/build-default-data.sh          # from fresh: see musenet/data/README.md for the timings
#
# BIN (default .venv/bin) is where python and musenet live; SHARED (default ../shared) the shared folder.
set -euo pipefail
BIN=${BIN:-.venv/bin}
SHARED=${SHARED:-../shared}
MMA_RENDERS=${MMA_RENDERS:-64}  # MMA renders per genre family, x2 for the band-heavy ones (~2.5 k tokens each)
if [ ! -d "$SHARED/datasets" ]; then
    echo "error: $SHARED/datasets not found: the recipe needs the shared datasets beside the checkout (or SHARED=DIR)" >&2
    exit 2
fi
step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)" >&2; }

step "Debian packages"
missing=()
for pkg in freedoom freedm simutrans-data mma openttd-openmsx planetblupi-music-midi; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
        "${missing[@]}" > /dev/null
fi

step "collecting the sources into data/sources (labels from their metadata; MMA renders)"
"$BIN/python" -m musenet.data.sources --out data/sources --shared "$SHARED/datasets" \
    --miditok "$SHARED/midi/MidiTok/tests" --mma-renders "$MMA_RENDERS"

step "building the music21 corpus"
"$BIN/musenet" data build --source music21 --out data/m21
step "building the collections"
"$BIN/musenet" data build --source data/sources --labels data/sources/labels.csv --out data/collections
step "merging into data/default"
"$BIN/musenet" data merge data/m21 data/collections --out data/default
step "done"
