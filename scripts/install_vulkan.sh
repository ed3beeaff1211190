#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe) from Debian bookworm-backports when it is missing and the
# machine allows it (root + apt). LiteRT's GPU accelerator (WebGPU over Vulkan) rejects Debian 12's own Mesa 22
# ("No adapters found"); Mesa 25 from backports works. Never fails the caller: without it the GPU tests skip.
# Idempotent and quiet: a second run only checks that the driver is there.
set -u

ICD_DIR=/usr/share/vulkan/icd.d
say() { echo "install_vulkan: $*" >&2; }

have_lavapipe() {
    # A Mesa >= 25 lvp ICD is present (the loader and the driver package both installed).
    ls "$ICD_DIR"/lvp_icd*.json >/dev/null 2>&1 || return 1
    local v
    v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null) || return 1
    [ "${v%%.*}" -ge 24 ] 2>/dev/null && ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'
}

if have_lavapipe; then
    exit 0
fi
if [ "${EDGESEG_NO_VULKAN_INSTALL:-}" = 1 ]; then
    say "skipped (EDGESEG_NO_VULKAN_INSTALL=1); GPU tests will skip"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || [ ! -r /etc/os-release ]; then
    say "not root or no apt: software Vulkan driver not installed; GPU tests will skip"
    exit 0
fi
. /etc/os-release
if [ "${ID:-}" != debian ] || [ "${VERSION_CODENAME:-}" != bookworm ]; then
    say "not Debian bookworm (${ID:-?} ${VERSION_CODENAME:-?}): install Mesa >= 24 mesa-vulkan-drivers yourself;" \
        "GPU tests will skip"
    exit 0
fi

SRC=/etc/apt/sources.list.d/edgeseg-bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    cat > "$SRC" <<'EOF'
# Added by edgeseg scripts/install_vulkan.sh: Mesa 25 software Vulkan (lavapipe) for LiteRT's GPU accelerator.
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
LOG=$(mktemp)
export DEBIAN_FRONTEND=noninteractive
timeout 600 apt-get update -qq >"$LOG" 2>&1 || true  # one broken source must not stop the install
if timeout 900 apt-get install -y -qq --no-install-recommends -t bookworm-backports \
       mesa-vulkan-drivers libvulkan1 >>"$LOG" 2>&1 && have_lavapipe; then
    say "installed $(dpkg-query -W -f='mesa-vulkan-drivers ${Version}' mesa-vulkan-drivers)"
else
    say "could not install the software Vulkan driver (see below); GPU tests will skip"
    tail -n 5 "$LOG" >&2
fi
rm -f "$LOG"
exit 0
