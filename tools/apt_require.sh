#!/usr/bin/env bash
# Installs those of the Debian/Ubuntu packages named on the command line that are not installed
# yet, as root or through sudo. The project's scripts install apt packages through this only.
#
# usage: tools/apt_require.sh PACKAGE [...]
set -euo pipefail

missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then as_root=(); elif command -v sudo >/dev/null; then as_root=(sudo); else
  echo "apt_require: need root to install: ${missing[*]}" >&2; exit 1; fi
echo "apt_require: installing ${missing[*]}"
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
