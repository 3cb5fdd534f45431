#!/usr/bin/env bash
# Runs the command on its command line as root: directly when already root, else through sudo.
# The project's scripts that need root (tools/apt_require.sh, cpp/plugin/fetch_juce.sh) go
# through this.
#
# usage: tools/as_root.sh COMMAND [ARG ...]
set -euo pipefail
if [ "$(id -u)" = 0 ]; then exec "$@"; fi
if command -v sudo >/dev/null; then exec sudo "$@"; fi
echo "as_root: need root to run: $*" >&2
exit 1
