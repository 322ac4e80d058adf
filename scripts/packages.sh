# The Debian packages pg_presplit's build, tests, demo and benchmarks need,
# the function that installs the missing ones (as root), and the demos' build. Sourced.
# libicu-dev: ICU sort keys of text keys. libpq-dev: the pg_presplit client. The client's tests: libxml2-utils
# (xmllint checks its SVGs), librsvg2-bin (rsvg-convert renders them),
# tmux (a terminal for its live display), prometheus-postgres-exporter (the
# exporter scraped with prometheus/queries.yaml).
PACKAGES=(make g++ cmake postgresql-server-dev-15 libboost-dev libgtest-dev libicu-dev libipc-run-perl libpq-dev
    libxml2-utils librsvg2-bin tmux prometheus-postgres-exporter)

install_missing_packages() {
    local missing=()
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "missing packages: ${missing[*]} (run as root to install them)" >&2
        return 1
    fi
    echo "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# For the demos: what is missing installed, then pg_presplit built and
# installed into the PostgreSQL of PG_BIN (default: the system's 15).
prepare_demo() { # repository
    install_missing_packages
    PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
    echo "== building and installing pg_presplit"
    make -C "$1" -s -j2 PG_CONFIG="$PG_BIN/pg_config" >/dev/null &&
        make -C "$1" -s install PG_CONFIG="$PG_BIN/pg_config" >/dev/null
}
