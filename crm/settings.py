"""Settings for the CRM: one module, configured from the environment.

Every default is an embedded one (SQLite, a filesystem Celery broker, a file email
backend) so that `make run` works on a machine with nothing but Python. Set
DATABASE_URL, REDIS_URL and EMAIL_URL to use PostgreSQL, Redis and SMTP instead.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env(
    "SECRET_KEY",
    default="django-insecure-local-development-key-change-me-in-production-0123456789",
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "template_partials",
    "taggit",
    "simple_history",
    "axes",
    # Two-factor sign-in (crm.core.mfa): authenticator apps (TOTP) and one-time recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_celery_beat",
    "anymail",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crm.core",
    "accounts",
    "contacts",
    "opportunities",
    "campaigns",
    "support",
    "crm.top",
]

MIDDLEWARE = [
    # Behind TRUSTED_PROXY_COUNT reverse proxies: the client's address from X-Forwarded-For.
    "crm.core.middleware.ForwardedForMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The page's Content-Security-Policy and Permissions-Policy (see CONTENT_SECURITY_POLICY).
    "csp.middleware.CSPMiddleware",
    "crm.core.middleware.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second step of sign-in.
    "django_otp.middleware.OTPMiddleware",
    "crm.core.middleware.SessionIdleMiddleware",
    # Whoever must use two-factor sign-in (MFA_REQUIRED_ROLES) reaches nothing else until done.
    "crm.core.middleware.MFARequiredMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A form sent twice (a double tap) is saved once: after auth, messages and htmx.
    "crm.core.submit_once.SubmitOnceMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "crm.core.middleware.UserTimezoneMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.core.context_processors.navigation",
            ],
            # `{% submit_once %}` sits beside `{% csrf_token %}` in every form, built in like it.
            "builtins": ["crm.core.templatetags.submit_once"],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A persistent connection broken by a database restart is noticed at the start of the next
# request and reopened, so the application recovers without being restarted.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if IS_POSTGRES:
    # No JIT: this application's queries are short, and PostgreSQL's JIT spent 0.7 s compiling
    # a segment count that runs in 100 ms without it (the benchmark's segment rows).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
# The contact list's rows, the API's unfiltered contact pages and the unfiltered board's cards
# run as prepared statements (crm.core.db): off behind a PgBouncer older than 1.21 in
# transaction mode, or one without max_prepared_statements.
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
if IS_POSTGRES and DB_PREPARED_STATEMENTS:
    # Lets psycopg prepare at all (None, Django's default, never does). Only the queries that
    # ask for it are prepared: Django's own cursors bind on the client, which never prepares.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
if IS_POSTGRES:
    # Plain fetches: a server-side cursor costs three round trips for a dozen rows, and breaks
    # behind a transaction-pooling PgBouncer.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "crm.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "crm.core.backends.UserBackend",
]
LOGIN_URL = "crm:login"
LOGIN_REDIRECT_URL = "crm:home"
LOGOUT_REDIRECT_URL = "crm:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling (django-axes), two locks, each for an hour: LOGIN_FAILURE_LIMIT failures for
# one user name from one address lock that name there; LOGIN_IP_FAILURE_LIMIT failures from one
# address, whatever the user names (someone trying many), lock the address. A wrong second-step
# code is a failure too. Axes compares one limit with the most failures of either lock, so the
# limit is a function of the request (crm.core.throttling.failure_limit).
LOGIN_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
LOGIN_IP_FAILURE_LIMIT = env.int("AXES_IP_FAILURE_LIMIT", default=20)
AXES_FAILURE_LIMIT = "crm.core.throttling.failure_limit"
AXES_COOLOFF_TIME = 1
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
# Signing in forgives that user name's own failures only, not the address's failures on other
# names (crm.core.throttling.forgive_on_login): one good account must not reset a lock.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_VERBOSE = False

# Two-factor sign-in (crm.core.mfa): an authenticator app's six-digit code (TOTP) after the
# password, or one of ten one-time recovery codes. Optional for everyone, required for these
# roles (and superusers), who are sent to set it up on their first sign-in.
MFA_REQUIRED_ROLES = env.list("MFA_REQUIRED_ROLES", default=["administrador"])
# The name the authenticator app shows beside the account.
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="CRM")
# The admin's device pages do not show the secret keys and recovery codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

LANGUAGE_CODE = "es"
LANGUAGES = [("es", _("Español")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="America/Mexico_City")
USE_I18N = True
USE_TZ = True
# Off: ids in URLs and form values must never read "1 431". Amounts ask for grouping
# explicitly (floatformat:"2g", intcomma).
USE_THOUSAND_SEPARATOR = False

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production collects and fingerprints the files (README, "Deploy"):
    # STATICFILES_BACKEND=whitenoise.storage.CompressedManifestStaticFilesStorage.
    "staticfiles": {
        "BACKEND": env(
            "STATICFILES_BACKEND", default="django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Without collectstatic (development, tests, the benchmark) WhiteNoise serves from the finders.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Email: by default every message is written as a file to var/mail so that a new user can see it.
EMAIL_DIR = env("EMAIL_DIR", default=str(VAR_DIR / "mail"))
if env("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = EMAIL_DIR
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="CRM <crm@localhost>")

# Celery: Redis when REDIS_URL is set, otherwise kombu's filesystem transport (no server needed).
REDIS_URL = env("REDIS_URL", default="")
# With Redis down, publishing gives up within about a second (one quick retry) and the task waits
# in the outbox (crm.core.queue) instead of holding the person's request for seconds.
REDIS_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": 1,
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_BROKER_TRANSPORT_OPTIONS
else:
    CELERY_BROKER_URL = "filesystem://"
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # The exchange table of fanout/topic exchanges (the worker's control messages).
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Queues per kind of work (README "Producción"), so that machines can be given to each: `mail`
# (every email sent to people), `reports` (stored figures, tiers, scores, large exports) and
# `imports`; every other task goes to the default queue, `celery`. A worker started without -Q
# consumes all four (CELERY_TASK_QUEUES); Procfile and Procfile.dev name them with -Q, and
# crm/top/tests/test_task_routes.py checks that every task lands on a queue they consume.
TASK_QUEUE_NAMES = ("celery", "mail", "reports", "imports")
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name) for name in TASK_QUEUE_NAMES]
_TASK_KINDS = {
    "mail": [
        "campaigns.campaign_send_batch",
        "campaigns.automations_send",
        "campaigns.signup_confirmation_send",
        "opportunities.activity_reminders_send",
        "opportunities.quote_send",
        "support.comment_reply_send",
        "support.survey_send",
        "support.surveys_send_batch",
    ],
    "reports": [
        "campaigns.campaign_stats_refresh",
        "campaigns.campaigns_stats_refresh_live",
        "campaigns.contacts_score_nightly",
        "opportunities.account_tiers_compute",
        "support.satisfaction_refresh_aged",
        # Builds the file and emails its link (one task): the building is the work.
        "crm.export_build",
    ],
    "imports": [
        "contacts.import_run",
        "contacts.imports_recover",
        "contacts.import_drafts_clear",
    ],
}
CELERY_TASK_ROUTES = {
    name: {"queue": queue} for queue, names in _TASK_KINDS.items() for name in names
}
# Periodic jobs; django-celery-beat copies them into its tables, where an administrator can
# pause or reschedule them.
CELERY_BEAT_SCHEDULE = {
    # Automations: materialise due deliveries hourly; send due ones every few minutes.
    "automations-materialise": {"task": "campaigns.automations_materialise", "schedule": 3600.0},
    "automations-send": {"task": "campaigns.automations_send", "schedule": 180.0},
    "activity-reminders": {
        "task": "opportunities.activity_reminders_send",
        "schedule": 300.0,
    },
    "visits-plan-weekly": {
        "task": "opportunities.visits_plan_weekly",
        "schedule": crontab(minute=0, hour=18, day_of_week="sun"),
    },
    "account-tiers-nightly": {
        "task": "opportunities.account_tiers_compute",
        "schedule": crontab(minute=30, hour=2),
    },
    # MQLs not yet routed: each gets a rep and a call task, once per crossing (issue 9).
    "leads-route": {"task": "opportunities.leads_route", "schedule": 60.0},
    # What services queued while the broker was down (crm.core.queue's outbox), sent when back.
    "queued-tasks-dispatch": {"task": "crm.queued_tasks_dispatch", "schedule": 60.0},
    # Webhook deliveries due for a retry, or whose task was lost (crm.core.webhooks).
    "webhooks-due": {"task": "crm.webhooks_due", "schedule": 60.0},
    # Webhook events past WEBHOOK_RETENTION_DAYS whose deliveries are all over.
    "webhook-events-prune-nightly": {
        "task": "crm.webhook_events_prune",
        "schedule": crontab(minute=20, hour=3),
    },
    "sessions-clear-nightly": {
        "task": "crm.tasks.sessions_clear",
        "schedule": crontab(minute=0, hour=3),
    },
    "submitted-forms-clear-nightly": {
        "task": "crm.submitted_forms_clear",
        "schedule": crontab(minute=5, hour=3),
    },
    "support-sla-check": {"task": "support.sla_check", "schedule": 300.0},
    # Public replies whose email task was lost (the ledger is the comment's emailed_at).
    "support-replies-requeue": {"task": "support.comment_replies_requeue", "schedule": 600.0},
    # Surveys a lost task left unsent; satisfaction classes whose answers aged out of 12 months.
    "support-surveys-send-pending": {"task": "support.surveys_send_pending", "schedule": 600.0},
    # Campaigns: due schedules, dead workers' claims (en duda), batches lost with Redis, A/B.
    "campaigns-reconcile": {"task": "campaigns.campaigns_reconcile", "schedule": 60.0},
    # Campaigns: refresh the stored results of those that can still change (CampaignStat).
    "campaigns-stats-refresh": {
        "task": "campaigns.campaigns_stats_refresh_live",
        "schedule": 300.0,
    },
    "support-satisfaction-refresh": {
        "task": "support.satisfaction_refresh_aged",
        "schedule": crontab(minute=15, hour=3),
    },
    # Imports a killed worker left en curso (resumed from their last batch) or a lost message
    # left pending.
    "contacts-imports-recover": {"task": "contacts.imports_recover", "schedule": 300.0},
    # Uploads whose import was never started (contacts.import_drafts), removed after a day.
    "contacts-import-drafts-clear": {
        "task": "contacts.import_drafts_clear",
        "schedule": crontab(minute=40, hour=3),
    },
    # The lead score of every contact: behaviour points decay with time (campaigns.scoring).
    "contacts-score-nightly": {
        "task": "campaigns.contacts_score_nightly",
        "schedule": crontab(minute=45, hour=2),
    },
}
# No automated email between these local hours (start, end) in the company's time zone.
AUTOMATION_QUIET_HOURS = (21, 8)
ACTIVITY_REMINDER_MINUTES = env.int("ACTIVITY_REMINDER_MINUTES", default=60)
# The address of the site in links sent by email (reminders, quotes, surveys).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
COMPANY_CURRENCY = env("COMPANY_CURRENCY", default="MXN")
COMPANY = {
    "name": env("COMPANY_NAME", default="Mi Empresa S.A. de C.V."),
    "tax_id": env("COMPANY_TAX_ID", default=""),
    "address": env("COMPANY_ADDRESS", default=""),
    "phone": env("COMPANY_PHONE", default=""),
    "email": env("COMPANY_EMAIL", default=""),
    "logo": env("COMPANY_LOGO", default=""),  # a path under static/, e.g. "img/logo.png"
    "country": env("COMPANY_COUNTRY", default="MX"),
}

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

TAGGIT_CASE_INSENSITIVE = True
PHONE_DEFAULT_REGION = env("PHONE_DEFAULT_REGION", default="MX")

# Sessions and cookies. Production runs behind HTTPS: set HTTPS=true there (README, "Deploy"),
# which turns on the secure cookies, HSTS and the redirect that `check --deploy` asks for.
SESSION_COOKIE_HTTPONLY = True
# Sessions in the database, which every web machine shares; with Redis, read from the cache and
# written through to the database (crm.core.sessions, README "Producción"). Not with the
# per-process LocMemCache: a sign-out would leave the other processes' copies valid.
SESSION_ENGINE = env(
    "SESSION_ENGINE",
    default="crm.core.sessions" if REDIS_URL else "django.contrib.sessions.backends.db",
)
# A session ends after this long without a request (crm.core.middleware.SessionIdleMiddleware),
# moved forward at most every SESSION_TOUCH_SECONDS so that pages do not write it each time.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_MINUTES", default=8 * 60) * 60
SESSION_TOUCH_SECONDS = 5 * 60
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Same-origin: a link out of the CRM (a customer's website, a map) carries no referrer at all,
# not even the origin; the CRM's own URLs hold searches and record ids.
SECURE_REFERRER_POLICY = "same-origin"
# django-csp: only the CRM's own files run and style the pages, no inline script, style or
# handler (static/js/crm.js handles the data-* attributes that replace them); data: images are
# Bootstrap's SVG icons (select arrows, check marks, close buttons). The campaign preview's
# frame and the support attachments carry a policy of their own (their views).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Browser features no page uses are turned off for the CRM and anything it frames
# (crm.core.middleware.PermissionsPolicyMiddleware); the agenda's "copy the address" button
# writes to the clipboard, which stays allowed to the CRM itself.
PERMISSIONS_POLICY = {
    "accelerometer": [],
    "camera": [],
    "clipboard-write": ["self"],
    "display-capture": [],
    "geolocation": [],
    "gyroscope": [],
    "hid": [],
    "magnetometer": [],
    "microphone": [],
    "midi": [],
    "payment": [],
    "screen-wake-lock": [],
    "serial": [],
    "usb": [],
    "xr-spatial-tracking": [],
}
# How many reverse proxies (nginx, a cloud load balancer) stand in front of gunicorn and append
# to X-Forwarded-For: the client's address is read that many entries from its right
# (crm.core.middleware.ForwardedForMiddleware). 0: no proxy, REMOTE_ADDR is the client.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if env.bool("HTTPS", default=False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
    "loggers": {"crm.audit": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}

PAGE_SIZE = 25
# Exports of the lists (crm/core/exports.py): above this many rows the file is made by a task
# and emailed to the user as a link valid for a day, instead of answering the request.
EXPORT_SYNC_MAX_ROWS = env.int("EXPORT_SYNC_MAX_ROWS", default=50_000)

# Support conversation (support/services/comments.py): attachments of replies and notes are
# refused above this size or when their extension (and first bytes) is not in the allow-list;
# replies to customers are answered to SUPPORT_EMAIL (Reply-To).
SUPPORT_ATTACHMENT_MAX_BYTES = env.int("SUPPORT_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
SUPPORT_ATTACHMENT_TYPES = env.list(
    "SUPPORT_ATTACHMENT_TYPES",
    default=["pdf", "png", "jpg", "jpeg", "gif", "webp", "txt", "csv", "docx", "xlsx"],
)
SUPPORT_ATTACHMENTS_PER_MESSAGE = env.int("SUPPORT_ATTACHMENTS_PER_MESSAGE", default=5)
SUPPORT_EMAIL = env("SUPPORT_EMAIL", default=COMPANY["email"])
# Satisfaction surveys (support/services/surveys.py): how long a survey link stays valid.
SUPPORT_SURVEY_LINK_DAYS = env.int("SUPPORT_SURVEY_LINK_DAYS", default=30)

# Campaigns (campaigns/). The sender is the company's unless a campaign picks another address of
# CAMPAIGN_SENDERS (an allow-list: only domains whose SPF/DKIM the company set up belong here).
CAMPAIGN_FROM_NAME = env("CAMPAIGN_FROM_NAME", default=COMPANY["name"])
CAMPAIGN_FROM_EMAIL = env("CAMPAIGN_FROM_EMAIL", default="boletin@localhost")
CAMPAIGN_SENDERS = env.list("CAMPAIGN_SENDERS", default=[CAMPAIGN_FROM_EMAIL])
CAMPAIGN_REPLY_TO = env("CAMPAIGN_REPLY_TO", default=COMPANY["email"])
# The mailbox of the `mailto:` List-Unsubscribe (RFC 2369); empty: the https link only.
CAMPAIGN_UNSUBSCRIBE_MAILTO = env("CAMPAIGN_UNSUBSCRIBE_MAILTO", default="")
# The email backend of campaign sending: EMAIL_BACKEND unless set (e.g. an anymail ESP backend,
# "anymail.backends.amazon_ses.EmailBackend", with its ANYMAIL settings).
CAMPAIGN_EMAIL_BACKEND = env("CAMPAIGN_EMAIL_BACKEND", default=EMAIL_BACKEND)
# Rows a worker claims at once (one SMTP connection per batch).
CAMPAIGN_BATCH_SIZE = env.int("CAMPAIGN_BATCH_SIZE", default=200)
# Temporary failures (SMTP 4xx, time-outs) are retried this many times, with backoff.
CAMPAIGN_MAX_ATTEMPTS = env.int("CAMPAIGN_MAX_ATTEMPTS", default=5)
# A claim older than this, whose worker never finished it, is "en duda" (maybe delivered).
CAMPAIGN_CLAIM_TIMEOUT_SECONDS = env.int("CAMPAIGN_CLAIM_TIMEOUT_SECONDS", default=600)
# The results pages read stored figures (campaigns.CampaignStat); older than this, a campaign
# that can still change gets a refresh queued while the page shows them with their age.
CAMPAIGN_STATS_MAX_AGE_SECONDS = env.int("CAMPAIGN_STATS_MAX_AGE_SECONDS", default=60)
# Public sign-up forms (campaigns.views.signup): the largest body taken, and the posts counted
# per address and form, and per form, in their windows (seconds); a page's token lasts a day, a
# pasted snippet's a year, a confirmation link thirty days.
SIGNUP_MAX_BODY_BYTES = env.int("SIGNUP_MAX_BODY_BYTES", default=16 * 1024)
SIGNUP_RATE_PER_IP = env.int("SIGNUP_RATE_PER_IP", default=10)
SIGNUP_RATE_PER_IP_WINDOW = env.int("SIGNUP_RATE_PER_IP_WINDOW", default=10 * 60)
SIGNUP_RATE_PER_FORM = env.int("SIGNUP_RATE_PER_FORM", default=200)
SIGNUP_RATE_PER_FORM_WINDOW = env.int("SIGNUP_RATE_PER_FORM_WINDOW", default=60 * 60)
SIGNUP_PAGE_TOKEN_MAX_AGE = env.int("SIGNUP_PAGE_TOKEN_MAX_AGE", default=24 * 3600)
SIGNUP_EMBED_TOKEN_MAX_AGE = env.int("SIGNUP_EMBED_TOKEN_MAX_AGE", default=365 * 24 * 3600)
SIGNUP_CONFIRM_MAX_AGE = env.int("SIGNUP_CONFIRM_MAX_AGE", default=30 * 24 * 3600)
# The lead score (0..100) at which a subscriber or a lead becomes an MQL (contacts.scoring).
LEAD_MQL_THRESHOLD = env.int("LEAD_MQL_THRESHOLD", default=60)
# Working hours (Mon-Fri, 9-18 in the rep's time zone) a routed MQL's call task is due within.
LEAD_RESPONSE_HOURS = env.int("LEAD_RESPONSE_HOURS", default=4)
# DKIM signing when a key is configured (README, "Campañas"): the domain, the selector and the
# PEM private key file; the public key is published at <selector>._domainkey.<domain>.
CAMPAIGN_DKIM_DOMAIN = env("CAMPAIGN_DKIM_DOMAIN", default="")
CAMPAIGN_DKIM_SELECTOR = env("CAMPAIGN_DKIM_SELECTOR", default="")
CAMPAIGN_DKIM_KEY_FILE = env("CAMPAIGN_DKIM_KEY_FILE", default="")
# django-anymail: the ESP's tracking webhooks (bounces, complaints) authenticate with
# basic auth "user:password" in ANYMAIL_WEBHOOK_SECRET.
ANYMAIL = {"WEBHOOK_SECRET": env("ANYMAIL_WEBHOOK_SECRET", default="")}

# The REST API (issue 11; crm.core.api, each app's api.py, /api/v1/ in crm.top.api).
API_RATE = env("API_RATE", default="600/min")  # requests per personal key (or per session)
# Who is asking (the signed-in user, a live API key with its user) is kept this many seconds in
# the cache (crm.core.kept): only where the cache is shared by every process (Redis), or a change
# made through one worker would not reach the others' copies.
AUTH_KEEP_SECONDS = env.int("AUTH_KEEP_SECONDS", default=30 if REDIS_URL else 0)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.core.api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "crm.core.api.auth.HasScope",
    ],
    "DEFAULT_PAGINATION_CLASS": "crm.core.api.auth.CursorPage",
    "DEFAULT_THROTTLE_CLASSES": ["crm.core.api.auth.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": API_RATE},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "crm.core.api.drf.problem_response",
    # JSON only: people read the API at /api/v1/docs/ (Swagger UI, signed in with the session).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CRM API",
    "DESCRIPTION": (
        "La API REST del CRM, versión 1. Autentícate con una clave personal creada en tu perfil "
        "(Authorization: Bearer crm_…). Los errores siguen RFC 9457 (application/problem+json); "
        "para modificar un registro envía If-Match con su ETag."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
}

# Webhooks (crm.core.webhooks): only https targets, unless DEBUG or this is set (never in
# production); private and loopback addresses are refused whatever it says.
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
# How long the delivery log keeps an event once its deliveries are over (delivered or abandoned).
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)
