# Shared by scripts/demo and scripts/test: install what is missing, make the venv.
# Sourced, not run.

# install_debian_packages PACKAGE...: as root on Debian/Ubuntu, apt-get install
# those not installed yet; otherwise name them.
install_debian_packages() {
    missing=""
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
            || missing="$missing $package"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing Debian packages:$missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "note: these Debian packages are missing (install them as root):$missing" >&2
    fi
}

# make_venv EXTRAS: create .venv and install the project into it, with the
# given extras ("" for none).
make_venv() {
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".$1"
}
