"""The django-scim2 peer of scripts/bench_peer.py: writes a minimal Django project serving SCIM at
/scim/v2 on PostgreSQL, migrates it and runs it under gunicorn.

The project follows django-scim2's own test models: a User (AbstractUser + AbstractSCIMUserMixin) whose
`scim_groups` many-to-many points at a Group (AbstractSCIMGroupMixin + a unique name) with
related_name `user_set`, which is what its Group adapter reads. django-scim2 authenticates nothing
itself: its SCIMAuthCheckMiddleware only answers 401 when `request.user` is not authenticated. The
one middleware here compares `Authorization: Bearer <token>` with the token it was started with
(constant time, no database query) and sets `request.user` to an authenticated service principal.
That is cheaper than any stored-credential lookup, so it flatters django-scim2, never Roster.
Database connections are persistent (CONN_MAX_AGE=None), as in any production Django; DEBUG is off.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SETTINGS = """
import os
SECRET_KEY = "bench-peer-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "peer.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_scim", "peer"]
MIDDLEWARE = ["peer.auth.BearerToken"]
AUTH_USER_MODEL = "peer.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql",
    "HOST": "127.0.0.1", "PORT": os.environ["PEER_PG_PORT"], "NAME": os.environ["PEER_PG_DB"], "USER": "postgres",
    "CONN_MAX_AGE": None,
}}
SCIM_SERVICE_PROVIDER = {
    "NETLOC": os.environ["PEER_NETLOC"],
    "SCHEME": "http",
    "GROUP_MODEL": "peer.models.Group",
    "AUTHENTICATION_SCHEMES": [{"type": "oauthbearertoken", "name": "Bearer token", "description": "A static bearer token"}],
}
"""

MODELS = """
from django.contrib.auth.models import AbstractUser
from django.db import models
from django_scim.models import AbstractSCIMGroupMixin, AbstractSCIMUserMixin


class Group(AbstractSCIMGroupMixin):
    name = models.CharField("name", max_length=150, unique=True)


class User(AbstractSCIMUserMixin, AbstractUser):
    scim_groups = models.ManyToManyField(Group, related_name="user_set")
"""

AUTH = """
import hmac
import os
from types import SimpleNamespace

from django.contrib.auth.models import AnonymousUser

SERVICE = SimpleNamespace(is_authenticated=True, is_anonymous=False, username="scim-client")


class BearerToken:
    def __init__(self, get_response):
        self.get_response = get_response
        self.expected = ("Bearer " + os.environ["PEER_TOKEN"]).encode()

    def __call__(self, request):
        given = request.META.get("HTTP_AUTHORIZATION", "").encode()
        request.user = SERVICE if hmac.compare_digest(given, self.expected) else AnonymousUser()
        return self.get_response(request)
"""

WSGI = """
from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
"""

URLS = """
from django.urls import include, path

urlpatterns = [path("scim/v2/", include("django_scim.urls"))]
"""


def write_project(folder: Path) -> None:
    """Writes the project (package `peer`) into FOLDER."""
    package = folder / "peer"
    package.mkdir(parents=True, exist_ok=True)
    for name, text in (("__init__.py", ""), ("settings.py", SETTINGS), ("models.py", MODELS),
                       ("auth.py", AUTH), ("urls.py", URLS), ("wsgi.py", WSGI)):
        (package / name).write_text(text.lstrip())


def environment(folder: Path, pg_port: int, database: str, port: int, token: str) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(folder), DJANGO_SETTINGS_MODULE="peer.settings", PEER_PG_PORT=str(pg_port),
                PEER_PG_DB=database, PEER_NETLOC=f"127.0.0.1:{port}", PEER_TOKEN=token)


def migrate(venv: Path, env: dict[str, str], log: Path) -> None:
    """makemigrations for `peer`, then migrate; output to LOG, raising with its tail on failure."""
    python = str(venv / "bin" / "python3")
    with open(log, "a") as out:
        for command in (["makemigrations", "peer"], ["migrate", "--noinput"]):
            result = subprocess.run([python, "-m", "django", *command], env=env, stdout=out, stderr=subprocess.STDOUT)
            if result.returncode != 0:
                raise RuntimeError(f"django {' '.join(command)} failed; see {log}:\n" + log.read_text()[-2000:])


def start(venv: Path, env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen:
    """gunicorn (sync workers) on 127.0.0.1:PORT; no access log, like Roster's error-level logging."""
    return subprocess.Popen([str(venv / "bin" / "gunicorn"), "peer.wsgi:application", "--workers", str(workers),
                             "--bind", f"127.0.0.1:{port}", "--timeout", "300", "--log-level", "warning"],
                            env=env, stdout=open(log, "a"), stderr=subprocess.STDOUT, start_new_session=True)
