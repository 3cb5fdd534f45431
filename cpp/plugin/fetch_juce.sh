#!/usr/bin/env bash
# Fetches JUCE 7 (with its CMake support, juceaide and the VST3 SDK) from Debian's
# juce-modules-source packages and unpacks it into a build folder, plus the few -dev headers
# JUCE's Linux code includes. JUCE itself is never committed: this script is the one place
# that says where it comes from.
#
# usage: cpp/plugin/fetch_juce.sh [DEST]        (default DEST: build/juce)
# afterwards: cmake -DNEURALFX_BUILD_PLUGIN=ON -DNEURALFX_JUCE_ROOT=DEST ...
#
# Why not `apt-get install juce-modules-source`: it pulls ~360 MB of GUI dev packages that a
# headless VST3 build never uses; the unpacked debs are 35 MB and take seconds.
set -euo pipefail

DEST="${1:-build/juce}"
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"
ROOT="$DEST/root"

if [ -f "$DEST/.ready" ] && ls "$ROOT"/usr/lib/*/cmake/JUCE-*/JUCEConfig.cmake >/dev/null 2>&1; then
  echo "fetch_juce: JUCE already unpacked in $ROOT"
  exit 0
fi

# Headers JUCE's Linux sources include even with no editor and no display (juce_graphics and
# juce_gui_basics are compiled because juce_audio_processors depends on them).
HEADERS=(libx11-dev libfreetype-dev libpng-dev libjpeg-dev zlib1g-dev pkg-config)
TOOLS="$(cd "$(dirname "$0")/../../tools" && pwd)"
bash "$TOOLS/apt_require.sh" "${HEADERS[@]}"

DEBS="$DEST/debs"
mkdir -p "$DEBS"
# apt drops privileges to _apt for downloads; a folder it can write avoids a noisy warning.
chmod 777 "$DEBS" 2>/dev/null || true
if ! ls "$DEBS"/juce-modules-source_*.deb "$DEBS"/juce-modules-source-data_*.deb >/dev/null 2>&1; then
  # A fresh machine may have stale or no package lists: refresh once before giving up.
  if ! (cd "$DEBS" && apt-get download juce-modules-source juce-modules-source-data); then
    bash "$TOOLS/as_root.sh" apt-get update
    if ! (cd "$DEBS" && apt-get download juce-modules-source juce-modules-source-data); then
      echo "fetch_juce: apt-get download failed (Debian bookworm or newer ships JUCE 7)" >&2
      exit 1
    fi
  fi
fi

rm -rf "$ROOT"
mkdir -p "$ROOT"
for deb in "$DEBS"/juce-modules-source_*.deb "$DEBS"/juce-modules-source-data_*.deb; do
  dpkg -x "$deb" "$ROOT"
done

# The package's CMake config hard-codes its /usr install prefix; point it at the unpacked tree.
CONFIG_DIR="$(dirname "$(ls "$ROOT"/usr/lib/*/cmake/JUCE-*/JUCEConfig.cmake | head -n1)")"
sed -i -e "s#\"/usr/#\"$ROOT/usr/#g" -e "s#\"/usr\"#\"$ROOT/usr\"#g" "$CONFIG_DIR"/*.cmake
if grep -n '^[^#]*"/usr' "$CONFIG_DIR"/*.cmake; then
  echo "fetch_juce: unexpected /usr paths left in $CONFIG_DIR" >&2
  exit 1
fi

touch "$DEST/.ready"
echo "fetch_juce: JUCE $(basename "$CONFIG_DIR" | sed 's/JUCE-//') ready in $ROOT"
