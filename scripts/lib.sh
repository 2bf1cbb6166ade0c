# Shared by scripts/demo.sh and scripts/test.sh: make a fresh Debian (or
# Ubuntu) machine ready to build and test oxbpf. Every step checks first
# and changes nothing when the machine is already set up.

# System packages oxbpf's build and tests use: a C toolchain for linking,
# clang/llvm for BPF objects, libbpf headers, bpftool and iproute2 for the
# kernel and XDP tests.
OXBPF_APT_PACKAGES=(build-essential pkg-config clang llvm libbpf-dev bpftool iproute2)

# The oldest Rust that builds the workspace (rust-version in Cargo.toml).
OXBPF_MIN_RUST=1.85

say() { printf '==> %s\n' "$*" >&2; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        say "need root to run: $*"
        return 1
    fi
}

# Installs the packages of OXBPF_APT_PACKAGES that are missing, and only
# those; does nothing (no apt-get update either) when none is missing.
ensure_system_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        say "not a Debian-like system: install ${OXBPF_APT_PACKAGES[*]} yourself"
        return 0
    fi
    local missing=() pkg
    for pkg in "${OXBPF_APT_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "system packages present: ${OXBPF_APT_PACKAGES[*]}"
        return 0
    fi
    say "installing missing system packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Makes sure cargo is on PATH and at least OXBPF_MIN_RUST.
ensure_rust() {
    if [ -x "$HOME/.cargo/bin/cargo" ] && ! command -v cargo >/dev/null 2>&1; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        if command -v rustup >/dev/null 2>&1; then
            say "no default Rust toolchain: installing stable with rustup"
            rustup default stable
        else
            say "Rust is not installed. Install Rust >= $OXBPF_MIN_RUST (https://rustup.rs), then run this again."
            exit 2
        fi
    fi
    local version
    version="$(cargo --version | awk '{print $2}')"
    if [ "$(printf '%s\n%s\n' "$OXBPF_MIN_RUST" "$version" | sort -V | head -n1)" != "$OXBPF_MIN_RUST" ]; then
        if command -v rustup >/dev/null 2>&1; then
            say "cargo $version is older than $OXBPF_MIN_RUST: updating stable with rustup"
            rustup update stable
            rustup default stable
        else
            say "cargo $version is older than $OXBPF_MIN_RUST; install a newer Rust (https://rustup.rs)"
            exit 2
        fi
    fi
    say "$(cargo --version)"
}

# For the load-balancer scripts in namespaces (lb-demo.sh, lb-bench.sh):
# refuses to run without root (saying what for: $1), sets the machine up,
# builds oxbpf and the namespace helper in release, and sets `oxbpf`,
# `netns` (their paths) and `work` (a new directory holding decap.o, the
# backends' decapsulation program).
lb_prepare() {
    if [ "$(id -u)" -ne 0 ]; then
        say "run as root: $1 creates network namespaces and loads XDP programs"
        exit 2
    fi
    ensure_system_packages
    ensure_rust
    say "building oxbpf and the namespace helper (release)"
    cargo build -q --release -p oxbpf-cli
    cargo build -q --release -p oxbpf-lb --example lb_netns
    oxbpf="$PWD/target/release/oxbpf"
    netns="$PWD/target/release/examples/lb_netns"
    work="$(mktemp -d)"
    clang -O2 -g -target bpf -mcpu=v3 -I/usr/include/x86_64-linux-gnu \
        -c apps/lb/bpf/decap.bpf.c -o "$work/decap.o"
}
