"""`manage.py check --deploy` is clean with the production settings of README "Deploying for
real" (DEBUG off, HTTPS on, a long random SECRET_KEY, the site's host), issue 13 §6."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# Set by the browser tests in this process (Playwright under pytest), never in production.
TEST_ONLY = {"DJANGO_ALLOW_ASYNC_UNSAFE"}


def _check_deploy(**env) -> subprocess.CompletedProcess:
    inherited = {name: value for name, value in os.environ.items() if name not in TEST_ONLY}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**inherited, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_production_settings():
    production = {
        "DEBUG": "false",
        "HTTPS": "true",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "crm.example.com",
    }
    result = _check_deploy(**production)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_https_is_left_off():
    result = _check_deploy(
        DEBUG="false", HTTPS="false", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="x.mx"
    )
    assert result.returncode != 0
    assert "security.W008" in result.stderr + result.stdout  # SECURE_SSL_REDIRECT


def test_collectstatic_fingerprints_every_file_as_the_deploy_step_does(tmp_path, settings):
    """README "Deploy" runs collectstatic with the manifest storage, which follows every
    reference in the CSS and JS (url(), @import, sourceMappingURL) and fails the deploy on one
    to a file that is not there (a vendored library's missing source map did)."""
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)

    assert staticfiles_storage.url("css/crm.css").startswith("/static/css/crm.")
    assert (tmp_path / "staticfiles.json").exists()
