#!/usr/bin/env bash
# Installs those of the Debian/Ubuntu packages named on the command line that are not installed
# yet, as root or through sudo (tools/as_root.sh). The project's scripts install apt packages
# through this only.
#
# usage: tools/apt_require.sh PACKAGE [...]
set -euo pipefail

missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

as_root="$(dirname "$0")/as_root.sh"
echo "apt_require: installing ${missing[*]}"
bash "$as_root" apt-get update
bash "$as_root" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
