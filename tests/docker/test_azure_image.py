"""The Azure Functions template's image (handler/templates/azure), built on the local
bookworm base instead of Microsoft's (no registry here): the app is where the Functions
host looks for it, as a non-root user, and its custom handler, started in the container
with FUNCTIONS_CUSTOMHANDLER_PORT, answers the test host of tests/e2e (the host's side of
the protocol: readiness, invocation payloads) from the template's own host.json and
function.json files."""
import json

import pytest

from conftest import AZURE_TEMPLATE, wait_port
from handler_common import PI_50, AzureHost, jbody, queue_metadata


WWWROOT = "/home/site/wwwroot"


def test_image_is_a_custom_handler_app_for_a_non_root_user(docker, azure_image):
    cfg = docker.inspect(azure_image)["Config"]
    env = dict(e.split("=", 1) for e in cfg["Env"])
    assert env["FUNCTIONS_WORKER_RUNTIME"] == "Custom"
    assert env["AzureWebJobsScriptRoot"] == WWWROOT
    assert cfg["User"] == "app" and cfg["WorkingDir"] == WWWROOT
    out = docker.docker("run", "--rm", "--network", "host", "--entrypoint", "sh", azure_image, "-c",
                        f"id -u; ls {WWWROOT}; cat {WWWROOT}/host.json; command -v sudo || echo no-sudo")
    lines = out.splitlines()
    assert lines[0] != "0"
    assert lines[-1] == "no-sudo"
    listed = set(lines[1:])
    functions = sorted(p.parent.name for p in AZURE_TEMPLATE.glob("*/function.json"))
    assert set(functions) <= listed and "fnhandler-examples" in listed
    host_json = json.loads(out[out.index("{"):out.rindex("}") + 1])
    assert host_json == json.loads((AZURE_TEMPLATE / "host.json").read_text())
    exe = host_json["customHandler"]["description"]["defaultExecutablePath"]
    assert exe in listed


def test_handler_answers_the_test_host(daemon, docker, azure_image, containers):
    started = []

    def start(port, env):
        cid = containers.run(azure_image, "--mode", "azure", opts=["--entrypoint", f"{WWWROOT}/fnhandler-examples"],
                             env=env)
        started.append(cid)
        try:
            wait_port(port, timeout=20)
        except TimeoutError:
            pytest.fail(f"the handler did not listen on {port}:\n{containers.logs(cid)}")

        class App:
            url = f"http://127.0.0.1:{port}"
        return App()

    host = AzureHost(daemon, AZURE_TEMPLATE, env={"FNTRACE": "0"}, start=start)
    assert not host.forwarding, "the template uses the payload protocol (see its README)"
    st, hd, body, logs = host.http("hello", query={"name": "Azure"})
    assert (st, body) == (200, b"Hello from C, Azure!")
    st, _, body, _ = host.http("pi", query={"digits": "50"})
    assert (st, jbody(body)["pi"]) == (200, PI_50)
    st, _, body, _ = host.http("fibonacci", "POST", body={"n": 20})
    assert (st, jbody(body)) == (200, {"n": 20, "fibonacci": 6765})
    st, _, body, _ = host.http("circle-area", query={"radius": "wide"})
    assert st == 400 and "radius must be a number" in jbody(body)["error"]
    st, _, data = host.invoke_raw("queue-echo", {"Data": {"item": {"order": 17}},
                                                 "Metadata": queue_metadata()})
    assert st == 200 and jbody(data)["Outputs"] == {"output": {"order": 17}}
    # the handler is the container's process, as the non-root user of the image
    status = docker.docker("exec", started[0], "cat", "/proc/1/status")
    uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    assert uid == "10001"
