# Sourced by scripts/setup-deps.sh and scripts/setup-peers.sh (each defines `log`).

# apt_ensure PACKAGE...: installs those of the Debian packages that are not installed yet (through
# sudo when not root) and says which, or says that all are present. Idempotent.
apt_ensure() {
    local pkg sudo=""
    local missing=()
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]})); then
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        log "installing Debian packages: ${missing[*]}"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        log "Debian packages: all present"
    fi
}
