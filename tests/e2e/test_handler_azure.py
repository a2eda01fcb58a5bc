"""fnhandler-examples as an Azure Functions custom handler, driven by a test host that does
what the Functions host does: it reads host.json and each function.json of the script root,
starts the handler with FUNCTIONS_CUSTOMHANDLER_PORT, polls GET / until the handler is
ready, and turns client requests into invocation payloads (POST /{FunctionName} with
X-Azure-Functions-InvocationId) or, with enableForwardingHttpRequest, forwards them to
/api/{FunctionName} as they are.  The client sees what the host would return."""
import json
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest

from conftest import free_port
from handler_common import PI_50, jbody, request, start_examples, wait_until

HTTP_FUNCTIONS = ["hello", "circle-area", "pi", "fibonacci"]


def write_script_root(root, forwarding=False, extra=None, http_out="res"):
    """A custom-handler app folder as `func init --worker-runtime custom` lays it out."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "host.json").write_text(json.dumps({
        "version": "2.0",
        "customHandler": {
            "description": {"defaultExecutablePath": "fnhandler-examples"},
            "enableForwardingHttpRequest": forwarding,
        },
        "extensionBundle": {"id": "Microsoft.Azure.Functions.ExtensionBundle",
                            "version": "[4.*, 5.0.0)"},
    }))
    for fn in HTTP_FUNCTIONS:
        (root / fn).mkdir(exist_ok=True)
        (root / fn / "function.json").write_text(json.dumps({"bindings": [
            {"authLevel": "anonymous", "type": "httpTrigger", "direction": "in",
             "name": "req", "methods": ["get", "post"]},
            {"type": "http", "direction": "out", "name": http_out},
        ]}))
    (root / "queue-echo").mkdir(exist_ok=True)
    (root / "queue-echo" / "function.json").write_text(json.dumps({"bindings": [
        {"type": "queueTrigger", "direction": "in", "name": "item", "queueName": "in",
         "connection": "AzureWebJobsStorage"},
        {"type": "queue", "direction": "out", "name": "output", "queueName": "out",
         "connection": "AzureWebJobsStorage"},
    ]}))
    for name, fj in (extra or {}).items():
        (root / name).mkdir(exist_ok=True)
        (root / name / "function.json").write_text(json.dumps(fj))
    return root


class AzureHost:
    """The Functions host's side of the custom handler protocol."""

    def __init__(self, daemon, root, env=None, start=None):
        """start(port, env) -> an object with .url: how the handler is started (default:
        fnhandler-examples from the build; the Docker tests start a container)."""
        self.root = Path(root)
        self.host_json = json.loads((self.root / "host.json").read_text())
        self.functions = {}
        for fj in self.root.glob("*/function.json"):
            self.functions[fj.parent.name] = json.loads(fj.read_text())["bindings"]
        self.forwarding = self.host_json["customHandler"].get("enableForwardingHttpRequest", False)
        port = free_port()
        env = dict(env or {}, FUNCTIONS_CUSTOMHANDLER_PORT=str(port))
        if start:
            self.app = start(port, env)
        else:
            self.app = start_examples(daemon, [], env=env, port=port, cwd=str(self.root))
        self.url = self.app.url
        # readiness: the host polls GET / until the handler answers
        assert wait_until(lambda: request(self.url + "/")[0] == 200, timeout=20)

    def _binding(self, fn, pred):
        return next((b for b in self.functions[fn] if pred(b)), None)

    def http(self, fn, method="GET", query=None, body=None, headers=None):
        """A client request to https://app/api/FN; returns (status, headers, body) as the
        host would answer the client, and the handler's Logs (payload mode)."""
        query = query or {}
        headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        trigger = self._binding(fn, lambda b: b["type"] == "httpTrigger")
        assert trigger and method.lower() in trigger.get("methods", ["get", "post"])
        qs = ("?" + urlencode(query)) if query else ""
        if self.forwarding:
            st, hd, data = request(f"{self.url}/api/{fn}{qs}", method, body, headers)
            return st, hd, data, None
        out = self._binding(fn, lambda b: b["type"] == "http" and b["direction"] == "out")
        payload = {
            "Data": {trigger["name"]: {
                "Url": f"http://localhost:7071/api/{fn}{qs}",
                "Method": method.upper(),
                "Query": query,
                "Headers": {k: [v] for k, v in headers.items()},
                "Params": {},
                "Body": body,
            }},
            "Metadata": {"Query": query, "Headers": headers,
                         "sys": {"MethodName": fn, "UtcNow": "2026-01-01T00:00:00Z",
                                 "RandGuid": str(uuid.uuid4())}},
        }
        st, hd, data = self.invoke_raw(fn, payload)
        assert st == 200, (st, data)
        env = jbody(data)
        res = env["ReturnValue"] if out["name"] == "$return" else env["Outputs"][out["name"]]
        status = int(res["statusCode"])      # the host takes a string or a number
        return status, {k.lower(): v for k, v in res.get("headers", {}).items()}, \
            res.get("body", "").encode(), env["Logs"]

    def invoke_raw(self, fn, payload, invocation_id=None, raw=None):
        body = raw if raw is not None else json.dumps(payload)
        return request(f"{self.url}/{fn}", "POST", body, {
            "Content-Type": "application/json",
            "X-Azure-Functions-InvocationId": invocation_id or str(uuid.uuid4())})


@pytest.fixture(params=[False, True], ids=["payload", "forwarding"])
def host(request, daemon, tmp_path):
    root = write_script_root(tmp_path / "app", forwarding=request.param)
    return AzureHost(daemon, root)


def test_every_http_function(host):
    st, hd, body, logs = host.http("hello", query={"name": "Azure"})
    assert (st, body) == (200, b"Hello from C, Azure!")
    assert hd["content-type"].startswith("text/plain")
    st, _, body, _ = host.http("hello", "POST", body={"name": "Posted"})
    assert (st, body) == (200, b"Hello from C, Posted!")
    st, _, body, _ = host.http("hello")
    assert (st, body) == (200, b"Hello from C, World!")
    st, hd, body, _ = host.http("circle-area", query={"radius": "2"})
    assert st == 200 and hd["content-type"] == "application/json"
    assert jbody(body) == {"radius": 2, "area": pytest.approx(12.566370614359172)}
    st, _, body, _ = host.http("circle-area", "POST", body={"radius": 0.5})
    assert jbody(body)["area"] == pytest.approx(0.7853981633974483)
    st, _, body, _ = host.http("pi", query={"digits": "50"})
    assert (st, jbody(body)["pi"]) == (200, PI_50)
    st, _, body, _ = host.http("fibonacci", "POST", body={"n": 20})
    assert (st, jbody(body)) == (200, {"n": 20, "fibonacci": 6765})


@pytest.mark.parametrize("fn,kw,message", [
    ("hello", {"method": "POST", "body": '{"name": ', "headers": {"Content-Type": "application/json"}}, "malformed JSON"),
    ("hello", {"method": "POST", "body": {"name": 42}}, "name must be a string"),
    ("circle-area", {"query": {"radius": "wide"}}, "radius must be a number"),
    ("circle-area", {"method": "POST", "body": {"radius": "2"}}, "radius must be a number"),
    ("circle-area", {}, "missing radius"),
    ("circle-area", {"query": {"radius": "-1"}}, "between"),
    ("pi", {"query": {"digits": "1000000"}}, "between"),
    ("fibonacci", {"method": "POST", "body": {"n": 2.5}}, "integer"),
    ("fibonacci", {"method": "POST", "body": [1, 2]}, "JSON object"),
])
def test_bad_input_is_a_clear_400(host, fn, kw, message):
    st, hd, body, _ = host.http(fn, **kw)
    assert st == 400
    assert message in jbody(body)["error"]


def test_queue_trigger_outputs_logs_and_return_value(daemon, tmp_path):
    host = AzureHost(daemon, write_script_root(tmp_path / "app"))
    item = {"order": 17, "note": "ünïcode"}
    st, _, data = host.invoke_raw("queue-echo", {
        "Data": {"item": item},
        "Metadata": {"DequeueCount": 1, "Id": "abc", "sys": {"MethodName": "queue-echo"}}})
    assert st == 200
    env = jbody(data)
    assert env["Outputs"] == {"output": item}
    assert env["ReturnValue"] == item
    assert len(env["Logs"]) == 1 and "queue-echo" in env["Logs"][0]
    # a queue item that is a plain string, as the host sends text messages
    st, _, data = host.invoke_raw("queue-echo", {"Data": {"item": "hello queue"}, "Metadata": {}})
    assert jbody(data)["Outputs"]["output"] == "hello queue"


def test_invocation_id_comes_from_the_host(daemon, tmp_path):
    host = AzureHost(daemon, write_script_root(tmp_path / "app"))
    inv = str(uuid.uuid4())
    st, hd, _ = host.invoke_raw("queue-echo", {"Data": {"item": 1}}, invocation_id=inv)
    assert st == 200 and hd["x-invocation-id"] == inv


def test_protocol_errors(daemon, tmp_path):
    host = AzureHost(daemon, write_script_root(tmp_path / "app"),
                     env={"FNHANDLER_MAX_BODY": "4096"})
    st, _, data = host.invoke_raw("no-such-function", {"Data": {}})
    assert st == 404 and "no function named no-such-function" in jbody(data)["error"]
    st, _, data = host.invoke_raw("hello", None, raw="{not json")
    assert st == 400 and "malformed" in jbody(data)["error"]
    st, _, data = host.invoke_raw("hello", None, raw='["Data"]')
    assert st == 400 and "JSON object" in jbody(data)["error"]
    st, _, data = host.invoke_raw("hello", {"Data": "x"})
    assert st == 400 and "must be JSON objects" in jbody(data)["error"]
    st, _, data = host.invoke_raw("hello", {"Data": {"timer": {"IsPastDue": False}}})
    assert st == 400 and "HTTP function" in jbody(data)["error"]
    st, _, data = host.invoke_raw("queue-echo", {"Data": {}})
    assert st == 400 and "no queue item" in jbody(data)["error"]
    st, _, data = host.invoke_raw("hello", {"Data": {"req": {"Method": "POST", "Body": "x" * 100000}}})
    assert st == 413
    st, _, data = request(host.url + "/api/nothing-here")
    assert st == 404
    # still serving after all of that
    st, _, body, _ = host.http("hello", query={"name": "still"})
    assert (st, body) == (200, b"Hello from C, still!")


def test_return_binding_and_function_json_checks(daemon, tmp_path):
    root = write_script_root(tmp_path / "app", http_out="$return", extra={
        "ghost": {"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req"}]}})
    host = AzureHost(daemon, root)
    st, _, body, _ = host.http("hello", query={"name": "ret"})
    assert (st, body) == (200, b"Hello from C, ret!")
    log = host.app.log()
    assert "function.json names a function the app does not have" in log and "function=ghost" in log
