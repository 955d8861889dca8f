#!/usr/bin/env bash
# Installs what dockward's tests and lab need on Debian 12, as root: Docker's engine
# (run only inside the lab's namespaces, never as a system service), the netfilter tools,
# busybox for the lab's image, curl, iproute2, python3 and procps.
# Idempotent, and quick when everything is present: apt runs only for missing packages.
set -euo pipefail

# systemd: only for systemd-analyze, which checks the unit in systemd/ (test/unit/systemd.test.ts).
packages=(docker.io iptables nftables conntrack ipset busybox-static curl iproute2 python3 procps systemd)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run this script as root" >&2
  exit 1
fi

root_net=$(readlink /proc/self/ns/net)

# Daemons of these names running in the machine's own network namespace.
root_ns_daemons() {
  local pid
  for pid in $(pgrep -x dockerd; pgrep -x containerd); do
    [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$root_net" ] && echo "$pid"
  done
  return 0
}

before=$(root_ns_daemons | sort)

# A system dockerd with its default --iptables=true would write rules into the machine's
# own firewall: forbid package scripts to start services while we install.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  made_policy=1
fi
cleanup() { if [ -n "$made_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

# If an init system started Docker anyway, stop what this install started (and keep it
# from starting at boot). Daemons that ran before are the operator's, not ours.
started=$(comm -13 <(echo "$before") <(root_ns_daemons | sort))
if [ -n "$started" ]; then
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now docker.socket docker.service containerd.service 2>/dev/null || true
  fi
  for pid in $started; do kill "$pid" 2>/dev/null || true; done
fi
