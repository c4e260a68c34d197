"""What a piece of code can *do*, read with tree-sitter: imports, calls by category, hosts, URLs, IPs
and file paths. Consensus compares these sets across independently written versions of the same
task: a network call or an exec that no independent model wrote is the behaviour a backdoor needs.

Python is handled fully (aliases from imports are resolved); JavaScript gets imports/require,
calls by callee text and literals.
"""

from __future__ import annotations

import dataclasses
import re

from detectors.languages import parser

# Module roots whose calls belong to a category (generic API knowledge, not tuned on a test set).
MODULE_CATEGORIES: dict[str, str] = {
    **dict.fromkeys(("socket", "urllib", "requests", "httpx", "aiohttp", "http", "ftplib", "smtplib", "telnetlib",
                     "paramiko", "websocket", "websockets", "urllib3", "xmlrpc", "ssl", "net", "https", "dgram",
                     "axios", "node-fetch"), "network"),
    **dict.fromkeys(("subprocess", "pty", "multiprocessing", "child_process"), "process"),
    **dict.fromkeys(("shutil", "tempfile", "glob", "pathlib", "zipfile", "tarfile", "fs"), "file"),
    **dict.fromkeys(("hashlib", "hmac", "cryptography", "Crypto", "secrets", "crypto", "ssl"), "crypto"),
    **dict.fromkeys(("ctypes", "importlib", "runpy", "marshal", "pickle", "vm"), "dynamic-code"),
    **dict.fromkeys(("base64", "binascii", "zlib", "codecs"), "encoding"),
}
CALL_CATEGORIES: dict[str, str] = {
    **dict.fromkeys(("os.system", "os.popen", "os.fork", "os.kill", "os.startfile", "os.posix_spawn"), "process"),
    **dict.fromkeys(("open", "os.remove", "os.unlink", "os.rename", "os.chmod", "os.makedirs", "os.mkdir",
                     "os.listdir", "os.walk", "os.scandir", "os.replace", "io.open", "os.path.expanduser"), "file"),
    **dict.fromkeys(("os.getenv", "os.environ.get", "os.putenv", "os.environ", "process.env"), "env"),
    **dict.fromkeys(("exec", "eval", "compile", "__import__", "Function", "execfile"), "dynamic-code"),
    **dict.fromkeys(("fetch", "XMLHttpRequest"), "network"),
    **dict.fromkeys(("require",), "import"),
}
PREFIX_CATEGORIES = (("os.exec", "process"), ("os.spawn", "process"), ("os.environ", "env"), ("process.env", "env"))

URL_RE = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>]+", re.IGNORECASE)
IP_RE = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
HOST_RE = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9-]{1,63}\.)+[a-z][a-z0-9-]{1,62}$", re.IGNORECASE)
PATH_RE = re.compile(r"^(?:~|/|\.{1,2}/|[A-Za-z]:\\)[^\s]*$")
_NOT_HOST_SUFFIX = {"py", "js", "json", "txt", "csv", "yaml", "yml", "md", "html", "sh", "log", "ts", "cfg", "ini"}


@dataclasses.dataclass(frozen=True, order=True)
class Capability:
    kind: str  # import | network | process | file | crypto | env | dynamic-code | encoding | host | url | ip | path
    value: str  # module, dotted call name, host, URL, ...

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclasses.dataclass
class CapabilitySet:
    """Capabilities with the 1-based lines where each first appears."""

    lines: dict[Capability, int] = dataclasses.field(default_factory=dict)

    def add(self, cap: Capability, line: int) -> None:
        self.lines.setdefault(cap, line)

    def __contains__(self, cap: object) -> bool:
        return cap in self.lines

    def __iter__(self):
        return iter(sorted(self.lines))

    def __len__(self) -> int:
        return len(self.lines)

    def kinds(self) -> set[str]:
        return {c.kind for c in self.lines}


def extract_capabilities(code: str, language: str = "python") -> CapabilitySet:
    """The capability set of `code` (never raises on broken code: tree-sitter recovers)."""
    language = language if language in ("python", "javascript", "typescript", "tsx") else "python"
    tree = parser(language).parse(code.encode("utf-8"))
    caps = CapabilitySet()
    aliases: dict[str, str] = {}
    stack = [tree.root_node]
    nodes = []
    while stack:  # pre-order so imports above a call are seen before it
        node = stack.pop()
        nodes.append(node)
        stack.extend(reversed(node.children))
    for node in nodes:
        line = node.start_point[0] + 1
        if language == "python" and node.type in ("import_statement", "import_from_statement"):
            _python_import(node, aliases, caps, line)
        elif node.type == "call":
            fn = node.child_by_field_name("function")
            if fn is not None:
                _categorise_call(_resolve(_text(fn), aliases), caps, line)
        elif node.type == "variable_declarator":  # const cp = require("child_process")
            value = node.child_by_field_name("value")
            if value is not None and value.type == "call_expression" and _text(value.child_by_field_name("function")) == "require":
                modules = _string_args(value)
                if modules:
                    aliases[_text(node.child_by_field_name("name"))] = modules[0]
        elif node.type in ("call_expression", "new_expression"):
            fn = node.child_by_field_name("function") or node.child_by_field_name("constructor")
            if fn is not None:
                name = _resolve(_text(fn), aliases)
                _categorise_call(name, caps, line)
                if name == "require":
                    for module in _string_args(node):
                        caps.add(Capability("import", module), line)
                        _categorise_module(module, module, caps, line)
        elif node.type in ("string", "template_string"):
            if node.parent is not None and node.parent.type == "import_statement":
                module = _strip_quotes(_text(node))
                caps.add(Capability("import", module), line)
                _categorise_module(module, module, caps, line)
            _literal(_strip_quotes(_text(node)), caps, line)
    return caps


def _python_import(node, aliases: dict[str, str], caps: CapabilitySet, line: int) -> None:
    if node.type == "import_statement":
        for child in node.named_children:
            if child.type == "aliased_import":
                module = _text(child.child_by_field_name("name"))
                aliases[_text(child.child_by_field_name("alias"))] = module
            else:
                module = _text(child)
            caps.add(Capability("import", module), line)
    else:
        module_node = node.child_by_field_name("module_name")
        module = _text(module_node) if module_node is not None else ""
        caps.add(Capability("import", module), line)
        for child in node.named_children:
            if child is module_node:
                continue
            if child.type == "aliased_import":
                name, alias = _text(child.child_by_field_name("name")), _text(child.child_by_field_name("alias"))
            else:
                name = alias = _text(child)
            aliases[alias] = f"{module}.{name}"


def _resolve(name: str, aliases: dict[str, str]) -> str:
    name = re.sub(r"\s+", "", name)
    head, _, rest = name.partition(".")
    if head in aliases:
        return aliases[head] + ("." + rest if rest else "")
    return name


def _categorise_call(name: str, caps: CapabilitySet, line: int) -> None:
    # `__import__("os").system(...)`: treat the imported module as the receiver.
    m = re.match(r"""__import__\(["']([\w.]+)["']\)(.*)""", name)
    if m:
        caps.add(Capability("import", m.group(1)), line)
        caps.add(Capability("dynamic-code", "__import__"), line)
        name = m.group(1) + m.group(2)
    if "(" in name:
        return
    kind = CALL_CATEGORIES.get(name)
    if kind is None:
        kind = next((k for prefix, k in PREFIX_CATEGORIES if name.startswith(prefix)), None)
    if kind is None:
        root = name.split(".")[0]
        kind = MODULE_CATEGORIES.get(root)
        if kind is None and name.count(".") >= 1:
            kind = MODULE_CATEGORIES.get(".".join(name.split(".")[:2]))
    if kind is not None and kind != "import":
        caps.add(Capability(kind, name), line)


def _categorise_module(module: str, name: str, caps: CapabilitySet, line: int) -> None:
    kind = MODULE_CATEGORIES.get(module.removeprefix("node:").split("/")[0])
    if kind is not None:
        caps.add(Capability(kind, name), line)


def _literal(value: str, caps: CapabilitySet, line: int) -> None:
    for url in URL_RE.findall(value):
        caps.add(Capability("url", url), line)
        host = re.sub(r"^[a-z][a-z0-9+.-]*://(?:[^@/]*@)?", "", url, flags=re.IGNORECASE).split("/")[0].split(":")[0]
        if host:
            caps.add(Capability("host", host.lower()), line)
    for ip in IP_RE.findall(value):
        caps.add(Capability("ip", ip), line)
    if HOST_RE.match(value) and value.rsplit(".", 1)[-1].lower() not in _NOT_HOST_SUFFIX and not IP_RE.match(value):
        caps.add(Capability("host", value.lower()), line)
    if PATH_RE.match(value) and len(value) > 1:
        caps.add(Capability("path", value), line)


def _string_args(call) -> list[str]:
    args = call.child_by_field_name("arguments")
    return [_strip_quotes(_text(a)) for a in (args.named_children if args is not None else []) if a.type == "string"]


def _strip_quotes(text: str) -> str:
    text = re.sub(r"^[rbuf]{0,2}", "", text, flags=re.IGNORECASE) if text[:1] not in "\"'`" else text
    for q in ('"""', "'''", '"', "'", "`"):
        if text.startswith(q) and text.endswith(q) and len(text) >= 2 * len(q):
            return text[len(q):-len(q)]
    return text


def _text(node) -> str:
    return node.text.decode("utf-8", errors="replace") if node is not None and node.text is not None else ""
