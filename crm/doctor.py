"""`make doctor`: what this machine lacks for `make run` and `make test`, named by package.

Run before the suite (and by `make run`), so that a missing system library is one clear line
instead of a traceback deep inside a test. Optional pieces (Chromium for the browser tests) are
reported and do not fail.
"""

import shutil
import sys
from pathlib import Path

DEBIAN_PANGO = "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core"


def problems() -> tuple[list[str], list[str]]:
    """(missing requirements, missing optional pieces), each a sentence naming what to install."""
    missing, optional = [], []
    if sys.version_info[:2] != (3, 11):
        missing.append(f"Python 3.11 is required (this is {sys.version.split()[0]}).")
    try:
        import weasyprint  # noqa: F401  (loads Pango through cffi: fails without it)
    except OSError as exc:
        missing.append(
            f"WeasyPrint (PDF quotes and reports) cannot load Pango: {exc}. "
            f"Debian/Ubuntu: apt-get install {DEBIAN_PANGO}"
        )
    if not Path("/usr/bin/chromium").exists():
        optional.append(
            "Chromium is not at /usr/bin/chromium: the browser tests will be skipped. "
            "Debian/Ubuntu: apt-get install chromium"
        )
    if not shutil.which("msgfmt"):
        optional.append(
            "gettext's msgfmt is missing: `make messages` cannot compile translations "
            "(the compiled catalogues are in the repository). "
            "Debian/Ubuntu: apt-get install gettext"
        )
    return missing, optional


def main() -> int:
    missing, optional = problems()
    for line in optional:
        print(f"doctor: note: {line}")
    for line in missing:
        print(f"doctor: MISSING: {line}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
