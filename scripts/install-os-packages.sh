#!/usr/bin/env bash
# Installs Debian packages the local servers need (today: redis-server), as root, non-interactively.
#   bash scripts/install-os-packages.sh [package ...]     (default: every package below)
# Called by scripts/services when a server's binary is missing; safe to run again.
set -euo pipefail

packages=("$@")
if [ ${#packages[@]} -eq 0 ]; then packages=(redis-server); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "already installed: ${packages[*]}"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "needs root to install ${missing[*]}: run  sudo bash $0 ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "installed: ${missing[*]}"
