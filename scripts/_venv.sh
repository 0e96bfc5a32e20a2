# Sourced by scripts/course, scripts/test and scripts/site: make sure .venv exists in the
# repository root and holds `pip install -e .[EXTRA]`.
#
#   ensure_venv EXTRA        (EXTRA is "course", "site" or "test")
#
# Sets REPO and VENV, and puts $VENV/bin first on PATH. The install is
# skipped while the stamp .venv/.installed-EXTRA is newer than pyproject.toml.
# The "test" extra contains the "course" and "site" ones, so its stamp serves
# all three.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$REPO/.venv"
PYTHON=${PYTHON:-python3}

ensure_venv() {
    local extra=$1 stamp
    if [ ! -x "$VENV/bin/python" ]; then
        if ! command -v "$PYTHON" >/dev/null 2>&1; then
            echo "error: $PYTHON not found; install Python 3.11 or newer" >&2
            return 1
        fi
        if ! "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
            echo "error: contig needs Python 3.11 or newer; $PYTHON is $("$PYTHON" -V 2>&1)" >&2
            return 1
        fi
        if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
            echo "error: the Python venv module is missing; on Debian/Ubuntu: sudo apt-get install python3-venv" >&2
            return 1
        fi
        echo "==> creating $VENV"
        "$PYTHON" -m venv "$VENV" || return 1
    fi
    export VIRTUAL_ENV="$VENV"
    export PATH="$VENV/bin:$PATH"
    hash -r

    for stamp in "$VENV/.installed-$extra" "$VENV/.installed-test"; do
        if [ -e "$stamp" ] && [ "$stamp" -nt "$REPO/pyproject.toml" ]; then
            return 0
        fi
    done
    echo "==> installing contig[$extra] into $VENV (the first time takes a few minutes)"
    # PYTHONWARNINGS=ignore keeps setuptools' deprecation banners (about the
    # build tools, not about contig) out of a newcomer's first install.
    echo "    (a warning from pip or setuptools while it builds contig is harmless)"
    PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install --disable-pip-version-check \
        --quiet --upgrade pip || return 1
    PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install --disable-pip-version-check \
        --quiet -e "$REPO[$extra]" || return 1
    touch "$VENV/.installed-$extra"
}
