#!/usr/bin/env bash
# Installs the Debian packages the toolkit builds and runs with (run as root, or with sudo on PATH).
set -euo pipefail
packages=(
  pkg-config
  libsndfile1-dev      # audio I/O: wav, flac, aiff, ogg/vorbis/opus, mp3 (via libmpg123)
  libsoxr-dev          # resampling to the front end's 44.1 kHz
  libfftw3-dev         # FFTs (single precision: fftw3f)
  libturbojpeg0-dev    # JPEG thumbnails
  zlib1g-dev           # CRC-32, archive reading (inflate)
  libdeflate-dev       # archive compression (deflate)
  libssl-dev           # SHA-256 of archive members (libcrypto)
  libopenblas-dev      # CNN matrix work
  fluidsynth           # corpus rendering
  fluid-soundfont-gm   # FluidR3 GM SoundFont
  opl3-soundfont       # OPL3 FM pianos (corpus --instruments OPL3Pno1,OPL3Pno2)
  timidity             # renders GUS patches (corpus --instruments FPGrand,FPBrght)
  freepats             # the freepats pianos
  parallel             # GNU parallel: the README's recipe for slices of a corpus (Tests/python/test_scaling.py)
)
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "installed: ${packages[*]}"
