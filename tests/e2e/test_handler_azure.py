"""fnhandler-examples as an Azure Functions custom handler, driven by a test host that does
what the Functions host does: it reads host.json and each function.json of the script root,
starts the handler with FUNCTIONS_CUSTOMHANDLER_PORT, polls GET / until the handler is
ready, and turns client requests into invocation payloads (POST /{FunctionName} with
X-Azure-Functions-InvocationId) or, with enableForwardingHttpRequest, forwards them to
/api/{FunctionName} as they are.  The client sees what the host would return."""
import uuid

import pytest

from handler_common import PI_50, AzureHost, jbody, queue_metadata, request, write_script_root


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
        "Metadata": dict(queue_metadata(), sys={"MethodName": "queue-echo"})})
    assert st == 200
    env = jbody(data)
    assert env["Outputs"] == {"output": item}
    assert env["ReturnValue"] == item
    assert len(env["Logs"]) == 1 and "queue-echo" in env["Logs"][0]
    # a queue item that is a plain string, as the host sends text messages
    st, _, data = host.invoke_raw("queue-echo", {"Data": {"item": "hello queue"},
                                                 "Metadata": queue_metadata()})
    assert jbody(data)["Outputs"]["output"] == "hello queue"


def test_invocation_id_comes_from_the_host(daemon, tmp_path):
    host = AzureHost(daemon, write_script_root(tmp_path / "app"))
    inv = str(uuid.uuid4())
    st, hd, _ = host.invoke_raw("queue-echo", {"Data": {"item": 1}, "Metadata": queue_metadata()},
                                invocation_id=inv)
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
    assert st == 400 and "Data.item: missing" in jbody(data)["error"]
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
