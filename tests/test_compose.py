"""Deployment files: docker-compose.yml, Dockerfile, Makefile, .ci/run, gunicorn.conf.py.

Static checks only: no database, Redis or Docker needed.
"""

import json
import os
import re
import runpy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent

# A whole value that is one compose variable, required (`:?`/`?`) or bare, never with a default.
REQUIRED_VARIABLE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*(:?\?[^}]*)?\}$")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|^KEY$|AUTH", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def environment(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def command_words(service):
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(word) for word in command]


def url_password(url):
    """The password part of scheme://user:password@host/..., or None."""
    match = re.match(r"^[a-z][a-z0-9+.-]*://(?P<userinfo>.*)@[^@]+$", url)
    if not match:
        return None
    # The user name may itself be a variable with a default, like ${POSTGRES_USER:-reader}.
    userinfo = re.fullmatch(r"(?:\$\{[^}]*\}|[^:$])*(?::(?P<password>.*))?", match["userinfo"])
    return userinfo["password"] if userinfo else None


def dockerfile_cmd():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    cmds = [line for line in lines if line.startswith("CMD ")]
    assert len(cmds) == 1, cmds
    return json.loads(cmds[0][len("CMD ") :])


def test_compose_has_the_five_services(services):
    assert set(services) >= {"db", "redis", "migrate", "web", "worker"}


def test_secret_checks_reject_literals():
    # The helpers below guard the other tests: make sure they can tell a secret from a reference.
    assert REQUIRED_VARIABLE.match("${REDIS_PASSWORD:?set REDIS_PASSWORD}")
    assert REQUIRED_VARIABLE.match("${SECRET_KEY}")
    assert not REQUIRED_VARIABLE.match("${REDIS_PASSWORD:-changeme}")
    assert not REQUIRED_VARIABLE.match("hunter2")
    assert url_password("redis://:${REDIS_PASSWORD}@redis:6379/0") == "${REDIS_PASSWORD}"
    assert url_password("postgres://u:${P:?set P}@db:5432/reader") == "${P:?set P}"
    assert url_password("postgres://u:hunter2@db:5432/reader") == "hunter2"
    assert url_password("redis://redis:6379/0") is None
    assert url_password("postgres://${U:-reader}:${P:?set P}@db/reader") == "${P:?set P}"
    assert url_password("postgres://${U:-reader}@db/reader") is None


def test_redis_service(services):
    redis = services["redis"]
    assert str(redis["image"]).startswith("redis:7")
    words = command_words(redis)
    command = " ".join(words)
    assert words[0] == "redis-server"
    assert "--appendonly yes" in command
    assert "--maxmemory 512mb" in command
    assert "--maxmemory-policy allkeys-lru" in command
    assert "--requirepass" in words
    password = words[words.index("--requirepass") + 1]
    assert REQUIRED_VARIABLE.match(password), f"redis password must come from a variable: {password!r}"


def test_redis_healthcheck_authenticates(services):
    redis = services["redis"]
    test = redis["healthcheck"]["test"]
    text = test if isinstance(test, str) else " ".join(test)
    assert "redis-cli" in text
    env = environment(redis)
    uses_env_auth = "REDISCLI_AUTH" in env and REQUIRED_VARIABLE.match(env["REDISCLI_AUTH"])
    uses_flag = re.search(r"-a\s+\"?\$\$\{?REDIS_PASSWORD", text)
    assert uses_env_auth or uses_flag


def test_postgres_service(services):
    db = services["db"]
    assert db["image"] == "postgres:16"
    env = environment(db)
    assert {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"} <= set(env)
    assert REQUIRED_VARIABLE.match(env["POSTGRES_PASSWORD"])
    assert any(":/var/lib/postgresql/data" in volume for volume in db["volumes"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


@pytest.mark.parametrize("name", ["db", "redis", "web", "worker"])
def test_service_has_a_healthcheck(services, name):
    test = services[name]["healthcheck"]["test"]
    assert test
    if isinstance(test, list):
        assert test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1


def test_web_depends_on_healthy_services_and_finished_migrations(services):
    depends = services["web"]["depends_on"]
    assert isinstance(depends, dict), "conditions need the long depends_on syntax"
    assert depends["db"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_migrate_service(services):
    migrate = services["migrate"]
    assert command_words(migrate)[-3:] == ["manage.py", "migrate", "--noinput"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert environment(migrate)["DATABASE_URL"] == environment(services["web"])["DATABASE_URL"]


def test_web_environment_takes_secrets_from_variables(services):
    web = services["web"]
    assert web.get("build")
    env = environment(web)
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"} <= set(env)
    assert env["DATABASE_URL"].startswith("postgres://")
    assert "@db:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://") and "@redis:6379/" in env["REDIS_URL"]
    for name in ("DATABASE_URL", "REDIS_URL"):
        password = url_password(env[name])
        assert password and REQUIRED_VARIABLE.match(password), f"{name} holds a literal password"
    for name, value in env.items():
        if SECRET_NAME.search(name):
            assert REQUIRED_VARIABLE.match(str(value)), f"{name} must come from a required variable"
    assert env["GUNICORN_BIND"] == "0.0.0.0:8000"


def test_no_literal_secrets_anywhere(compose):
    for name, service in compose["services"].items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                assert REQUIRED_VARIABLE.match(str(value)), f"{name}.{key} is not a required variable"
            password = url_password(str(value))
            if password is not None:
                assert REQUIRED_VARIABLE.match(password), f"{name}.{key} holds a literal password"


def test_web_serves_the_wsgi_application(services):
    web = services["web"]
    assert [str(port) for port in web["ports"]] == ["8000-8009:8000"]  # one port of the range each
    command = command_words(web) or dockerfile_cmd()
    assert command[0] == "gunicorn"
    assert "config.wsgi:application" in command
    assert "config.wsgi:application" in dockerfile_cmd()
    health = " ".join(web["healthcheck"]["test"])
    assert "urllib" in health and "http://127.0.0.1:8000/healthz" in health


def test_worker_runs_celery_with_the_webs_settings(services):
    worker, web = services["worker"], services["web"]
    assert worker.get("build") and worker["image"] == web["image"]
    assert command_words(worker)[:4] == ["celery", "-A", "config", "worker"]
    env, web_env = environment(worker), environment(web)
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"):
        assert env[name] == web_env[name], name
    # The broker is derived from REDIS_URL (database 1) unless set; a set one takes no literal password.
    if "CELERY_BROKER_URL" in env:
        assert env["CELERY_BROKER_URL"] == web_env.get("CELERY_BROKER_URL")
    assert "ports" not in worker


def test_worker_waits_for_healthy_services_and_finished_migrations(services):
    depends = services["worker"]["depends_on"]
    assert isinstance(depends, dict)
    assert depends["db"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_worker_healthcheck_pings_this_worker(services):
    test = services["worker"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"  # $HOSTNAME is expanded by the container's shell
    assert "celery -A config inspect ping" in test[1]
    assert "celery@$$HOSTNAME" in test[1]  # `$$`: compose leaves `$HOSTNAME` to the shell


def test_web_leaves_the_jobs_to_the_worker_service(services):
    # gunicorn.conf.py starts a worker of its own only when asked (make run does).
    value = str(environment(services["web"]).get("GUNICORN_START_WORKER", "0")).lower()
    assert value in {"", "0", "false", "no", "off"}


def test_dockerfile_runs_as_non_root():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    assert "collectstatic --noinput" in text
    assert "GUNICORN_BIND=0.0.0.0:8000" in text


def test_dockerignore_keeps_local_state_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env"} <= ignored


def test_makefile_targets():
    text = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, re.MULTILINE))
    assert {"run", "test", "lint", "bench", "clean"} <= targets
    run = re.search(r"^run:.*\n((?:\t.*\n)+)", text, re.MULTILINE).group(1)
    for step in ("migrate --noinput", "collectstatic --noinput", "seed_demo", "config.wsgi:application"):
        assert step in run
    assert re.search(r"GUNICORN_START_WORKER=\$\$\{GUNICORN_START_WORKER:-1\} .*exec .*gunicorn", run)
    test = re.search(r"^test:.*\n((?:\t.*\n)+)", text, re.MULTILINE).group(1)
    assert "pytest" in test and "$(PYTEST_ARGS)" in test


def test_ci_script_runs_make_test():
    script = ROOT / ".ci" / "run"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "set -euo pipefail" in text
    assert re.search(r"^\s*(exec\s+)?make test\b", code, re.MULTILINE)
    assert "export DATABASE_URL=postgres://postgres@127.0.0.1:5432/reader" in code
    # Nothing may turn a failing test run (including pytest's "no tests ran", exit 5) into success.
    assert "|| true" not in code and "|| :" not in code and "-eq 5" not in code and "set +e" not in code
    assert code.rstrip().splitlines()[-1].strip() in {"make test", "exec make test"}


@pytest.fixture
def gunicorn_settings(monkeypatch):
    names = ("GUNICORN_BIND", "WEB_CONCURRENCY", "GUNICORN_ACCESS_LOG", "GUNICORN_MAX_REQUESTS")
    for name in (*names, "GUNICORN_START_WORKER", "CELERY_WORKER_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)

    def load(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    return load


def test_gunicorn_defaults(gunicorn_settings):
    conf = gunicorn_settings()
    assert conf["bind"] == "127.0.0.1:8000"
    assert conf["worker_class"] == "sync"
    assert conf["timeout"] == 30
    assert 1 <= conf["workers"] <= conf["MAX_DEFAULT_WORKERS"]
    assert conf["accesslog"] is None
    assert conf["max_requests"] > 0 and 0 < conf["max_requests_jitter"] < conf["max_requests"]


def test_gunicorn_reads_the_environment(gunicorn_settings):
    conf = gunicorn_settings(GUNICORN_BIND="0.0.0.0:9000", WEB_CONCURRENCY="3", GUNICORN_ACCESS_LOG="1")
    assert conf["bind"] == "0.0.0.0:9000"
    assert conf["workers"] == 3
    assert conf["accesslog"] == "-"


def test_gunicorn_rejects_a_bad_worker_count(gunicorn_settings):
    with pytest.raises(ValueError, match="WEB_CONCURRENCY"):
        gunicorn_settings(WEB_CONCURRENCY="many")


def test_gunicorn_starts_no_celery_worker_by_default(gunicorn_settings):
    conf = gunicorn_settings()
    assert conf["start_worker"] is False

    class Server:
        pass

    server = Server()
    conf["when_ready"](server)
    assert not hasattr(server, "celery_worker")
    conf["on_exit"](server)  # nothing to stop


@pytest.mark.parametrize(("value", "started"), [("1", True), ("true", True), ("0", False), ("no", False)])
def test_gunicorn_start_worker_switch(gunicorn_settings, value, started):
    conf = gunicorn_settings(GUNICORN_START_WORKER=value)
    assert conf["start_worker"] is started


def test_gunicorn_celery_command(gunicorn_settings):
    command = gunicorn_settings(CELERY_WORKER_CONCURRENCY="3")["celery_command"]()
    assert command[1:6] == ["-m", "celery", "-A", "config", "worker"]
    assert command[command.index("--concurrency") + 1] == "3"


# --- several web containers; Redis with a replica and three sentinels (profile "ha") ----------

HA = {"redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"}


def sentinel_config(service):
    """The sentinel.conf lines a sentinel service writes (compose's $$ is the shell's $)."""
    script = command_words(service)[-1]
    body = script.split("<<EOF\n", 1)[1].split("\nEOF", 1)[0]
    return [line.strip().replace("$$", "$") for line in body.splitlines()]


def flag(words, name):
    return words[words.index(name) + 1]


def test_one_box_needs_no_profile_and_ha_adds_a_replica_and_three_sentinels(services):
    assert {name for name, service in services.items() if "profiles" not in service} == {
        "db",
        "redis",
        "migrate",
        "web",
        "worker",
    }
    assert {name for name, service in services.items() if service.get("profiles") == ["ha"]} == HA


def test_web_scales(services):
    web = services["web"]
    assert "container_name" not in web and "hostname" not in web  # names would clash between replicas
    assert not any(":" in str(port) and "-" not in str(port).split(":")[0] for port in web["ports"])


def test_web_finds_redis_through_the_sentinels_when_told_to(compose, services):
    env = environment(services["web"])
    assert env["REDIS_SENTINELS"] == "${REDIS_SENTINELS:-}"  # empty: one box, REDIS_URL's host
    master = env["REDIS_SENTINEL_MASTER"]
    header = (ROOT / "docker-compose.yml").read_text().split("services:", 1)[0]
    named = re.search(r"REDIS_SENTINELS=(\S+)", header).group(1)  # the documented command
    assert sorted(named.split(",")) == [f"{name}:26379" for name in ("sentinel-1", "sentinel-2", "sentinel-3")]
    for name in ("sentinel-1", "sentinel-2", "sentinel-3"):
        assert f"sentinel monitor {master} redis 6379 2" in sentinel_config(services[name])
    assert environment(services["migrate"])["REDIS_SENTINELS"] == env["REDIS_SENTINELS"]  # one x-app environment


def test_the_replica_follows_the_primary_with_the_password(services):
    replica = services["redis-replica"]
    words = command_words(replica)
    assert words[0] == "redis-server"
    assert words[words.index("--replicaof") + 1 :][:2] == ["redis", "6379"]
    for name in ("--requirepass", "--masterauth"):
        assert REQUIRED_VARIABLE.match(flag(words, name)), name
    assert flag(words, "--replica-announce-ip") == "redis-replica"
    assert "--appendonly" in words and "--maxmemory-policy" in words
    assert any(volume.endswith(":/data") for volume in replica["volumes"])
    assert replica["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "redis-cli" in " ".join(replica["healthcheck"]["test"])
    assert REQUIRED_VARIABLE.match(environment(replica)["REDISCLI_AUTH"])


def test_the_primary_can_come_back_as_a_replica(services):
    words = command_words(services["redis"])
    assert flag(words, "--masterauth") == flag(words, "--requirepass")
    assert flag(words, "--replica-announce-ip") == "redis"


def test_three_sentinels_each_with_its_own_config_volume(compose, services):
    sentinels = [services[f"sentinel-{n}"] for n in (1, 2, 3)]
    volumes = [service["volumes"][0] for service in sentinels]
    assert len(set(volumes)) == 3 and all(volume.endswith(":/data") for volume in volumes)
    assert {volume.split(":")[0] for volume in volumes} <= set(compose["volumes"])
    assert {service["hostname"] for service in sentinels} == {"sentinel-1", "sentinel-2", "sentinel-3"}
    for service in sentinels:
        config = sentinel_config(service)
        assert config[0] == "port 26379"
        # Hostnames are resolved and announced, before the monitor line that names `redis`.
        assert config.index("sentinel resolve-hostnames yes") < config.index("sentinel monitor reader redis 6379 2")
        assert "sentinel announce-hostnames yes" in config
        assert "sentinel auth-pass reader $REDIS_PASSWORD" in config  # from the environment, never a literal
        assert REQUIRED_VARIABLE.match(environment(service)["REDIS_PASSWORD"])
        assert "if [ ! -f /data/sentinel.conf ]" in command_words(service)[-1]  # written once: Sentinel rewrites it
        assert command_words(service)[-1].rstrip().endswith("exec redis-server /data/sentinel.conf --sentinel")
        assert "ckquorum reader" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
