"""The handler's JSON is valid UTF-8 everywhere (issue: the log-line cap and the example's
%.200s cut multi-byte characters, and invalid input bytes passed into Outputs).  Every
answer is decoded strictly; invalid input bytes come back as U+FFFD and a cut log line
ends on a character boundary.  Bounded: a second."""
import json

from azure_host import AzureHost, write_script_root
from handler_common import queue_metadata


def strict(data):
    return json.loads(data.decode("utf-8", errors="strict"))


def test_invalid_bytes_in_outputs_are_replaced(daemon, tmp_path):
    host = AzureHost(daemon, write_script_root(tmp_path / "app"))
    meta = json.dumps(queue_metadata()).encode()
    raw = b'{"Data":{"item":"bad \xff\xfe and \xed\xa0\x80 here"},"Metadata":' + meta + b'}'
    st, _, data = host.invoke_raw("queue-echo", None, raw=raw)
    assert st == 200, data
    env = strict(data)
    assert env["Outputs"]["output"] == "bad \ufffd\ufffd and \ufffd\ufffd\ufffd here"


def test_cut_log_lines_end_on_a_character_boundary(daemon, tmp_path):
    host = AzureHost(daemon, write_script_root(tmp_path / "app"))
    item = "é" * 300                                   # 2 bytes each: any byte cut splits one
    st, _, data = host.invoke_raw("queue-echo", {"Data": {"item": item},
                                                 "Metadata": queue_metadata()})
    assert st == 200
    env = strict(data)
    assert env["Outputs"]["output"] == item
    line = env["Logs"][0]
    assert "\ufffd" not in line or line.rstrip("\ufffd").endswith("é")
    assert "é" * 50 in line
