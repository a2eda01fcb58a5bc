"""Helpers for the handler's end-to-end tests: start fnhandler-examples in a mode on a
free loopback port, one HTTP request that also returns the response headers, and an Azure
test host (AzureHost) that does what the Functions host does with a custom handler."""
import base64
import binascii
import json
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

from conftest import binary, free_port, http
from polling import wait_until  # noqa: F401 (the handler tests import it from here)

PI_50 = "3.14159265358979323846264338327950288419716939937510"


def start_examples(daemon, mode_args, env=None, port=None, cwd=None, name="fnhandler-examples"):
    """Starts the example app; returns the Daemon.  mode_args selects the mode."""
    port = port or free_port()
    full_env = {"FNTRACE_LOG": "info"}
    full_env.update(env or {})
    argv = [binary("fnhandler-examples")] + [a.replace("{port}", str(port)) for a in mode_args]
    return daemon(argv, port, env=full_env, cwd=cwd, name=name)


def start_trace_stack(daemon, traces):
    """A collector storing into `traces` and a flamescope reading it; (collector, flamescope)."""
    pc, pf = free_port(), free_port()
    coll = daemon([binary("fntrace-collector"), "--listen", "127.0.0.1", "--port", str(pc),
                   "--dir", str(traces)], pc)
    fs = daemon([binary("fntrace-flamescope"), "--listen", "127.0.0.1", "--port", str(pf),
                 "--dir", str(traces)], pf)
    return coll, fs


def request(url, method="GET", body=None, headers=None, timeout=60):
    """(status, headers with lower-case names, body bytes)."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = dict(headers or {}, **{"Content-Type": "application/json"})
    elif isinstance(body, str):
        body = body.encode()
    status, hdrs, data = http(method, url, body, headers, timeout=timeout)
    return status, {k.lower(): v for k, v in hdrs.items()}, data


def jbody(data):
    return json.loads(data.decode())




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
        """start(port, env) -> an object with .url starts the handler (default:
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


    # --- non-HTTP triggers, in the payload shapes of the Functions host -----------------

    def trigger_binding(self, fn):
        return self._binding(fn, lambda b: b["type"].lower().endswith("trigger"))

    def invoke(self, fn, value, meta=None, data=None, invocation_id=None, traceparent=None):
        """Invokes fn's trigger with `value` the way the host does: Data[trigger] encoded
        for the binding type, Metadata with that type's binding data and sys.  `meta`
        replaces or (value None) removes Metadata fields, `data` adds Data members.
        Returns (status, decoded JSON body)."""
        trig = self.trigger_binding(fn)
        enc, md = TRIGGER_SHAPES[trig["type"]](value, trig)
        md = dict(md, sys={"MethodName": fn, "UtcNow": dotnet_date(),
                           "RandGuid": str(uuid.uuid4())})
        if traceparent:
            md["TraceContext"] = {"TraceParent": traceparent, "TraceState": "",
                                  "Attributes": {}}
        for k, v in (meta or {}).items():
            if v is None:
                md.pop(k, None)
            else:
                md[k] = v
        payload = {"Data": dict({trig["name"]: enc}, **(data or {})), "Metadata": md}
        st, _, body = self.invoke_raw(fn, payload, invocation_id)
        return st, jbody(body)


def dotnet_date(offset_s=0):
    """A DateTime as the host re-serializes it: 7 decimals and an offset."""
    t = time.gmtime(time.time() + offset_s)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".1234567+00:00"


def queue_metadata(msg_id="f2b9c3e0-0000-4000-8000-000000000001", dequeue=1):
    return {"Id": msg_id, "DequeueCount": dequeue, "InsertionTime": dotnet_date(-5),
            "ExpirationTime": dotnet_date(7 * 86400), "NextVisibleTime": dotnet_date(30),
            "PopReceipt": "AgAAAAMAAAAAAAAA"}


def _queue(value, b):
    text = value if isinstance(value, str) else json.dumps(value)
    return text, queue_metadata()


def _timer(value, b):
    v = value if value is not None else {
        "Schedule": {"AdjustForDST": True},
        "ScheduleStatus": {"Last": dotnet_date(-300), "Next": dotnet_date(300),
                           "LastUpdated": dotnet_date(-300)},
        "IsPastDue": False}
    return v, {}


def _blob(value, b):
    text = b.get("dataType") == "string"
    enc = value.decode() if text else base64.b64encode(value).decode()
    name = "report.bin"
    return enc, {"BlobTrigger": f"uploads/{name}", "name": name,
                 "Uri": f"http://127.0.0.1:10000/devstoreaccount1/uploads/{name}",
                 "Properties": {"ContentType": "application/octet-stream", "Length": len(value),
                                "LastModified": dotnet_date(-60)},
                 "Metadata": {}}


def _eventhub(value, b):
    events = value if isinstance(value, list) else [value]
    enc = [e if isinstance(e, str) else json.dumps(e) for e in events]
    n = len(events)
    md = {"PartitionContext": {"EventHubName": b.get("eventHubName"), "ConsumerGroup": "$Default",
                               "PartitionId": "3"},
          "EnqueuedTimeUtcArray": [dotnet_date(-n + i) for i in range(n)],
          "SequenceNumberArray": [1000 + i for i in range(n)],
          "OffsetArray": [str(4096 * i) for i in range(n)],
          "PartitionKeyArray": [None] * n,
          "PropertiesArray": [{} for _ in range(n)],
          "SystemPropertiesArray": [{} for _ in range(n)]}
    if b.get("cardinality") != "many":
        return enc[0], {"EnqueuedTimeUtc": md["EnqueuedTimeUtcArray"][0],
                        "SequenceNumber": 1000, "Offset": "0", "PartitionKey": None,
                        "Properties": {}, "PartitionContext": md["PartitionContext"]}
    return enc, md


def _eventgrid(value, b):
    return value, {}


TRIGGER_SHAPES = {"queueTrigger": _queue, "timerTrigger": _timer, "blobTrigger": _blob,
                  "eventHubTrigger": _eventhub, "eventGridTrigger": _eventgrid}


def host_delivers(value):
    """What the Functions host writes for an output value: it base64-decodes a string
    output that is valid base64; other values go as they are."""
    if isinstance(value, str) and value and len(value) % 4 == 0:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return value
        try:
            return raw.decode()
        except UnicodeDecodeError:
            return raw
    return value


def check_binding_rules(fj):
    """The rules a function.json must keep: a list of bindings each with type, direction
    and name; exactly one trigger, with direction in; unique names; an http output only
    next to an httpTrigger, at most one."""
    bs = fj["bindings"]
    assert isinstance(bs, list) and bs
    for b in bs:
        assert {"type", "direction", "name"} <= set(b), b
        assert b["direction"] in ("in", "out"), b
    triggers = [b for b in bs if b["type"].lower().endswith("trigger")]
    assert len(triggers) == 1, bs
    assert triggers[0]["direction"] == "in"
    names = [b["name"].lower() for b in bs]
    assert len(names) == len(set(names)), names
    http_out = [b for b in bs if b["type"] == "http" and b["direction"] == "out"]
    assert len(http_out) <= 1
    if http_out:
        assert triggers[0]["type"] == "httpTrigger"
