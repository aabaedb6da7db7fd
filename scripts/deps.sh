#!/usr/bin/env bash
# Installs (as root) or names (otherwise) the Debian packages faultline needs.
# Usage: scripts/deps.sh [extra-package...]
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
have qemu-system-x86_64 || need+=(qemu-system-x86)
have mkfs.btrfs || have /usr/sbin/mkfs.btrfs || need+=(btrfs-progs)
have mkfs.ext4 || have /usr/sbin/mkfs.ext4 || need+=(e2fsprogs)
# A static busybox: Debian's busybox package is dynamic, busybox-static is not.
if ! { [ -x /bin/busybox ] && ! readelf -l /bin/busybox 2>/dev/null | grep -q 'program interpreter'; }; then
  need+=(busybox-static)
fi
have dpkg-deb || need+=(dpkg)
have readelf || need+=(binutils)
have xz || need+=(xz-utils)
have nats-server || have /usr/sbin/nats-server || need+=(nats-server)
for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if ! command -v go >/dev/null 2>&1; then
  echo "faultline needs Go >= 1.26 (https://go.dev/dl); Debian's golang package is older." >&2
  exit 1
fi
# Kernel packages are found through the apt lists.
lists_ok=1
apt-cache pkgnames linux-image-6.1 2>/dev/null | grep -q . || lists_ok=0
if [ ${#need[@]} -eq 0 ] && [ $lists_ok = 1 ]; then exit 0; fi
if [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}" >&2
    apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  fi
else
  echo "faultline needs Debian packages; run:" >&2
  [ $lists_ok = 1 ] || echo "  sudo apt-get update" >&2
  [ ${#need[@]} -eq 0 ] || echo "  sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
  exit 1
fi
