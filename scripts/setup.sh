#!/usr/bin/env bash
# Prepares a Debian 12 host (root) to build, run and test the appliance:
# DPDK 22.11 from the distro, hugepages, and a virtualenv in .venv with the
# package installed in editable mode. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
packages=(libdpdk-dev dpdk dpdk-dev dpdk-doc pkg-config build-essential cmake python3-venv python3-dev
          libmnl-dev libpcap-dev iproute2 iputils-ping iputils-tracepath traceroute iperf3 frr xz-utils
          ethtool nftables tcpdump openssh-server sudo python3-apt)  # ethtool: e2e VLAN hosts;
          # nftables: the e2e reference router; tcpdump: what a NAT's outside host sees; the
          # last three: deploy tests (SSH to this host, its apt)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 1 GiB of 2 MiB hugepages for tests and the demo (they fall back to
# --no-huge where this is refused, e.g. in an unprivileged container).
pages=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
if [ -w "$pages" ] && [ "$(cat "$pages")" -lt 1024 ]; then
    echo 1024 > "$pages" || true
fi
if ! grep -q hugetlbfs /proc/mounts; then
    mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages || true
fi

# TRex (the traffic generator of `appliance bench trex` and its test): the copy in
# ../shared/trex, unpacked to /opt/trex ($APPLIANCE_TREX_DIR points elsewhere).
trex_tar=../shared/trex/trex-v3.08-x86_64.tar.xz
if [ ! -x /opt/trex/t-rex-64 ] && [ -f "$trex_tar" ]; then
    sha256sum --quiet -c <(sed "s|  .*|  $trex_tar|" "$trex_tar.sha256")
    tar xJf "$trex_tar" -C /opt
fi

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[deploy,bench,test]' pybind11  # pybind11: for scripts/test-sanitized.sh
echo "ready: . .venv/bin/activate"
