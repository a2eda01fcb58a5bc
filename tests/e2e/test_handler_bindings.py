"""Azure bindings declared in C: `fnhandler-examples --azure-init DIR` writes the script
root from the declarations, the Azure test host (handler_common.AzureHost) reads it and
invokes every example in the Functions host's payload shapes, outputs are checked by
name as the host would deliver them, bad trigger payloads are 400s naming the field, a
function.json that differs from the code stops the program, and a request's W3C
traceparent travels into the trace and back out through flamescope's lookup."""
import gzip
import json
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

from conftest import binary, free_port
from handler_common import (AzureHost, check_binding_rules, dotnet_date, host_delivers, jbody,
                            queue_metadata, request, start_trace_stack, wait_until)


def azure_init(root):
    r = subprocess.run([binary("fnhandler-examples"), "--azure-init", str(root)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def functions():
    r = subprocess.run([binary("fnhandler-examples"), "--list"], capture_output=True, text=True,
                       timeout=30)
    return [line.split("\t")[0] for line in r.stdout.splitlines()]


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "app"
    azure_init(root)
    return root


@pytest.fixture
def host(daemon, root):
    return AzureHost(daemon, root)


def test_azure_init_writes_a_valid_script_root(tmp_path):
    root = tmp_path / "site"
    written = azure_init(root)
    fns = functions()
    assert sorted(written) == sorted([str(root / "host.json")] +
                                     [str(root / f / "function.json") for f in fns])
    host = json.loads((root / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["customHandler"]["description"]["defaultExecutablePath"] == "fnhandler-examples"
    assert host["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    for f in fns:
        check_binding_rules(json.loads((root / f / "function.json").read_text()))
    qb = json.loads((root / "queue-to-blob" / "function.json").read_text())["bindings"]
    assert [(b["type"], b["direction"], b["name"]) for b in qb] == [
        ("queueTrigger", "in", "order"), ("blob", "out", "receipt"), ("queue", "out", "shipped")]
    assert qb[0]["queueName"] == "orders" and qb[1]["path"] == "receipts/{Id}.txt"
    hello = json.loads((root / "hello" / "function.json").read_text())["bindings"]
    assert hello[0]["methods"] == ["get", "post"] and hello[1] == {
        "type": "http", "direction": "out", "name": "res"}
    # a second run rewrites the same files, and leaves no temporary file
    assert azure_init(root) == written
    assert not list(root.rglob("*.tmp"))


def test_timer_tick(host):
    st, env = host.invoke("timer-tick", None)
    assert st == 200, env
    tick = env["Outputs"]["tick"]
    assert tick["pastDue"] is False and tick["next"] > tick["last"]
    assert len(env["Logs"]) == 1 and "past_due=0" in env["Logs"][0]
    # a first run: no ScheduleStatus yet, and past due
    st, env = host.invoke("timer-tick", {"Schedule": {"AdjustForDST": True},
                                         "ScheduleStatus": None, "IsPastDue": True})
    assert st == 200 and env["Outputs"]["tick"] == {"pastDue": True}


def test_queue_to_blob_sets_two_outputs(host):
    st, env = host.invoke("queue-to-blob", {"item": "widget", "qty": 3})
    assert st == 200, env
    md = queue_metadata()
    receipt = host_delivers(env["Outputs"]["receipt"])
    assert receipt == f"order {md['Id']}: 3 x widget (dequeue 1)\n"
    assert env["Outputs"]["shipped"] == {"id": md["Id"], "item": "widget", "qty": 3}
    assert set(env["Outputs"]) == {"receipt", "shipped"}
    assert env["ReturnValue"] is None
    assert env["Logs"] == [f"queue-to-blob: order {md['Id']} shipped"]
    # the function's own refusal: no output, 400 with the reason
    st, env = host.invoke("queue-to-blob", {"item": "widget"})
    assert st == 400 and "qty" in env["error"] and env["Outputs"] == {}


def test_blob_size_reads_bytes_and_metadata(host):
    content = bytes(range(256)) * 3
    st, env = host.invoke("blob-size", content)
    assert st == 200, env
    size = env["Outputs"]["size"]
    assert size == {"name": "report.bin", "bytes": 768, "contentType": "application/octet-stream",
                    "uri": "http://127.0.0.1:10000/devstoreaccount1/uploads/report.bin"}
    assert "768 bytes" in env["Logs"][0]


def test_eventhub_batch(host):
    events = [{"value": v} for v in (1.5, 2, 3.5, "x")]
    st, env = host.invoke("eventhub-batch", events)
    assert st == 200, env
    s = env["Outputs"]["summary"]
    assert (s["PartitionKey"], s["RowKey"]) == ("3", "1000")
    assert (s["count"], s["sum"]) == (4, 7)
    assert (s["firstSequenceNumber"], s["lastSequenceNumber"]) == (1000, 1003)
    assert s["firstEnqueued"] <= s["lastEnqueued"]


def test_eventgrid_echo_to_signalr(host):
    event = {"id": "e-1", "topic": "/subscriptions/x/resourceGroups/y", "subject": "/blobs/a.txt",
             "eventType": "Microsoft.Storage.BlobCreated", "eventTime": dotnet_date(),
             "data": {"url": "https://x/a.txt", "contentLength": 5}, "dataVersion": "1",
             "metadataVersion": "1"}
    st, env = host.invoke("eventgrid-echo", event)
    assert st == 200, env
    assert env["Outputs"]["updates"] == {
        "target": "gridEvent",
        "arguments": ["Microsoft.Storage.BlobCreated", "/blobs/a.txt", event["data"]]}


BAD = [
    # (function, trigger value or None for the default, Metadata changes, field in the error)
    ("timer-tick", {"IsPastDue": "no"}, {}, "Data.timer.IsPastDue: not true or false"),
    ("timer-tick", {"Schedule": {}}, {}, "Data.timer.IsPastDue: missing"),
    ("timer-tick", {"IsPastDue": False, "ScheduleStatus": {"Last": "yesterday", "Next": "x",
                                                           "LastUpdated": "x"}}, {},
     "Data.timer.ScheduleStatus.Last: not an ISO 8601 date"),
    ("timer-tick", {"IsPastDue": False, "ScheduleStatus": {
        "Last": "2026-02-30T00:00:00Z", "Next": "2026-03-01T00:00:00Z",
        "LastUpdated": "2026-03-01T00:00:00Z"}}, {}, "Data.timer.ScheduleStatus.Last"),
    ("timer-tick", "[1,2]", {}, "Data.timer: not a JSON object"),
    ("queue-to-blob", {"item": "w", "qty": 1}, {"DequeueCount": "many"},
     "Metadata.DequeueCount: not an integer"),
    ("queue-to-blob", {"item": "w", "qty": 1}, {"Id": None}, "Metadata.Id: missing"),
    ("queue-to-blob", {"item": "w", "qty": 1}, {"InsertionTime": "2026-13-01T00:00:00Z"},
     "Metadata.InsertionTime: not an ISO 8601 date"),
    ("queue-to-blob", {"item": "w", "qty": 1}, {"NextVisibleTime": 17},
     "Metadata.NextVisibleTime: not a date string"),
    ("queue-to-blob", {"item": "w", "qty": 1}, {"PopReceipt": ["x"]},
     "Metadata.PopReceipt: not a string"),
    ("blob-size", b"x", {"Properties": "big"}, "Metadata.Properties: not an object"),
    ("eventhub-batch", [{"value": 1}] * 3, {"SequenceNumberArray": [1, 2]},
     "Metadata.SequenceNumberArray: 2 entries for a batch of 3 events"),
    ("eventhub-batch", [{"value": 1}] * 2, {"EnqueuedTimeUtcArray": [dotnet_date(), "soon"]},
     "Metadata.EnqueuedTimeUtcArray[1]: not an ISO 8601 date"),
    ("eventhub-batch", [{"value": 1}] * 2, {"SequenceNumberArray": [1, "two"]},
     "Metadata.SequenceNumberArray[1]: not an integer"),
    ("eventhub-batch", [{"value": 1}], {"EnqueuedTimeUtcArray": None},
     "Metadata.EnqueuedTimeUtcArray[0]: missing"),
    ("eventhub-batch", [1] * 10001, {}, "Data.events: a batch of 10001 events (at most 10000)"),
    ("eventgrid-echo", {"id": "1", "subject": "s", "eventTime": dotnet_date(), "dataVersion": "1"},
     {}, "Data.event.eventType: missing"),
    ("eventgrid-echo", {"id": 1, "eventType": "t", "subject": "s", "eventTime": dotnet_date(),
                        "dataVersion": "1"}, {}, "Data.event.id: not a string"),
    ("eventgrid-echo", {"id": "1", "eventType": "t", "subject": "s", "eventTime": "2026-01-01",
                        "dataVersion": "1"}, {}, "Data.event.eventTime: not an ISO 8601 date"),
]


@pytest.mark.parametrize("fn,value,meta,message", BAD, ids=[m for *_, m in BAD])
def test_bad_trigger_payload_is_a_400_naming_the_field(host, fn, value, meta, message):
    st, env = host.invoke(fn, value, meta=meta)
    assert st == 400, env
    assert message in env["error"]


def test_invalid_base64_blob_and_missing_trigger(host):
    trig = host.trigger_binding("blob-size")
    st, _, body = host.invoke_raw("blob-size", {"Data": {trig["name"]: "not base64!"},
                                                "Metadata": {"name": "a"}})
    assert st == 400 and "Data.blob: not valid base64" in jbody(body)["error"]
    st, _, body = host.invoke_raw("blob-size", {"Data": {}, "Metadata": {}})
    assert st == 400 and "Data.blob: missing" in jbody(body)["error"]
    # still serving
    st, env = host.invoke("blob-size", b"ok")
    assert st == 200 and env["Outputs"]["size"]["bytes"] == 2


def test_function_json_that_differs_from_the_code_stops_the_program(daemon, root):
    fj = root / "queue-to-blob" / "function.json"
    data = json.loads(fj.read_text())
    data["bindings"][0]["queueName"] = "other-orders"
    fj.write_text(json.dumps(data))
    port = free_port()
    r = subprocess.run([binary("fnhandler-examples")], cwd=str(root), capture_output=True,
                       text=True, timeout=30,
                       env={"FUNCTIONS_CUSTOMHANDLER_PORT": str(port), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 1
    assert "queue-to-blob/function.json and the code differ: binding order: queueName" in r.stderr
    # a binding missing from function.json
    data["bindings"][0]["queueName"] = "orders"
    data["bindings"].pop()
    fj.write_text(json.dumps(data))
    r = subprocess.run([binary("fnhandler-examples")], cwd=str(root), capture_output=True,
                       text=True, timeout=30,
                       env={"FUNCTIONS_CUSTOMHANDLER_PORT": str(port), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 1 and "binding shipped: missing from function.json" in r.stderr


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_traceparent_into_the_trace_and_out_through_flamescope(daemon, tmp_path, root):
    traces = tmp_path / "traces"
    traces.mkdir()
    coll, fs = start_trace_stack(daemon, traces)
    host = AzureHost(daemon, root, env={
        "FNTRACE": "1", "FNTRACE_FREQ": "499", "FNTRACE_WINDOW": "1s",
        "FNTRACE_COLLECTOR": coll.url + "/", "FNTRACE_NAME": "bindings-e2e"})
    tp = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
    st, _, body, _ = host.http("fibonacci", query={"n": "30"}, headers={"traceparent": tp})
    assert st == 200
    # a queue invocation with the host's trace context in Metadata
    other = "0af7651916cd43dd8448eb211c80319c"
    st, env = host.invoke("queue-to-blob", {"item": "w", "qty": 1},
                          traceparent=f"00-{other}-b7ad6b7169203331-01")
    assert st == 200
    # a malformed traceparent is ignored, the call still served
    st, _, _, _ = host.http("hello", headers={"traceparent": "00-zz-xx-01"})
    assert st == 200

    def found(tid):
        st, _, b = request(f"{fs.url}/api/v1/invocations?trace_id={tid}")
        return jbody(b) if st == 200 and jbody(b) else None
    hits = wait_until(lambda: found(TRACE_ID), timeout=30)
    assert hits and len(hits) == 1, hits
    inv = hits[0]
    assert inv["fn"] == "fibonacci" and inv["trace_id"] == TRACE_ID and inv["status"] == 200
    assert inv["ui"] == f"/#file={quote(inv['filename'])}&inv={quote(inv['id'])}"
    st, _, b = request(fs.url + inv["flamegraph"])
    assert st == 200 and jbody(b)["n"]
    # upper case is the same trace id; within one profile too
    st, _, b = request(f"{fs.url}/api/v1/invocations?trace_id={TRACE_ID.upper()}"
                       f"&filename={quote(inv['filename'])}")
    assert st == 200 and [i["id"] for i in jbody(b)] == [inv["id"]]
    q = wait_until(lambda: found(other), timeout=30)
    assert q and q[0]["fn"] == "queue-to-blob"
    # the invocation line of the trace file carries it
    raw = [p.read_bytes() for p in traces.rglob("*.perf*")]
    text = b"".join(gzip.decompress(r) if r[:2] == b"\x1f\x8b" else r for r in raw)
    assert f"trace_id={TRACE_ID}".encode() in text
    st, _, b = request(f"{fs.url}/api/v1/invocations?trace_id=xyz")
    assert st == 400 and "trace_id" in jbody(b)["error"]
    st, _, b = request(f"{fs.url}/api/v1/invocations?trace_id={'0' * 32}")
    assert st == 400
    st, _, b = request(f"{fs.url}/api/v1/invocations?trace_id={'1' * 32}")
    assert st == 200 and jbody(b) == []


TEMPLATE = Path(__file__).resolve().parents[2] / "handler" / "templates" / "azure"


@pytest.mark.skipif(not (TEMPLATE / "host.json").exists(),
                    reason="no Azure template (handler/templates/azure) in this tree yet")
def test_azure_template_is_what_azure_init_writes(tmp_path):
    """The Azure template is generated (`fnhandler-examples --azure-init
    handler/templates/azure`), not hand-kept: its host.json and every function.json are
    what --azure-init writes now, for every function of the app."""
    exe = json.loads((TEMPLATE / "host.json").read_text())["customHandler"]["description"][
        "defaultExecutablePath"]
    r = subprocess.run([binary("fnhandler-examples"), "--azure-init", str(tmp_path / "gen"),
                        "--azure-exe", exe], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    gen = tmp_path / "gen"
    assert json.loads((TEMPLATE / "host.json").read_text()) == \
        json.loads((gen / "host.json").read_text())
    want = sorted(p.parent.name for p in gen.glob("*/function.json"))
    have = sorted(p.parent.name for p in TEMPLATE.glob("*/function.json"))
    assert have == want, "regenerate: fnhandler-examples --azure-init handler/templates/azure"
    for f in want:
        assert json.loads((TEMPLATE / f / "function.json").read_text()) == \
            json.loads((gen / f / "function.json").read_text()), f
