"""Dangerous capabilities, by resolved call name and by string literal shape.

A capability is what a piece of code can *do* (talk to the network, start processes, run code
built at run time, ...). Backdoors need capabilities; most functions in a codebase use few of
them. These tables are generic API knowledge (module and function names), not tuned on any test
corpus. Call names are resolved through the file's imports first (`from subprocess import
Popen as P; P(...)` is `subprocess.Popen`).
"""

from __future__ import annotations

import re

CATEGORIES = ("network", "process", "file", "crypto", "env", "dynamic", "encoding", "sysinfo", "reflection",
              "surveillance")
# What a payload does, and what it hides or collects: in an anomalous unit, one action or two of
# the others suggest embedded malicious code (CWE-506). See detector.py for the severity policy.
ACTIONS = frozenset({"network", "process", "dynamic", "surveillance"})
HIDE_OR_COLLECT = frozenset({"encoding", "env", "sysinfo"})

# Module roots whose every call counts for a category.
_MODULES: dict[str, str] = {
    **dict.fromkeys(("socket", "urllib", "urllib2", "urllib3", "requests", "httpx", "aiohttp", "http",
                     "ftplib", "smtplib", "telnetlib", "paramiko", "websocket", "websockets", "dns",
                     "poplib", "imaplib", "xmlrpc", "pycurl", "ssl", "socketserver",
                     "https", "net", "dgram", "tls", "axios", "node-fetch", "got", "request", "ws"), "network"),
    **dict.fromkeys(("subprocess", "pty", "commands", "popen2", "multiprocessing", "signal", "child_process",
                     "execa", "shelljs", "cluster"), "process"),
    **dict.fromkeys(("shutil", "tempfile", "glob", "pathlib", "fileinput", "zipfile", "tarfile", "fs",
                     "fs-extra"), "file"),
    **dict.fromkeys(("hashlib", "hmac", "Crypto", "Cryptodome", "cryptography", "nacl", "rsa",
                     "secrets", "fernet"), "crypto"),
    **dict.fromkeys(("getpass", "platform", "psutil", "uuid", "pwd", "grp", "winreg", "_winreg"), "sysinfo"),
    **dict.fromkeys(("base64", "binascii", "codecs", "zlib", "bz2", "lzma", "gzip", "marshal", "pickle",
                     "quopri", "uu"), "encoding"),
    **dict.fromkeys(("pyperclip", "clipboard", "win32clipboard", "pynput", "keyboard", "pyautogui", "mss",
                     "PIL.ImageGrab", "pyscreenshot", "cv2", "sounddevice", "pyaudio"), "surveillance"),
    **dict.fromkeys(("vm", "ffi-napi"), "dynamic"),
    **dict.fromkeys(("ctypes", "importlib", "imp", "types", "runpy", "code", "builtins"), "dynamic"),
}

# Exact dotted names (after alias resolution) or bare builtins.
_CALLS: dict[str, str] = {
    **dict.fromkeys(("os.system", "os.popen", "os.fork", "os.kill", "os.setsid", "os.startfile",
                     "os.posix_spawn", "os.posix_spawnp", "os.forkpty"), "process"),
    **dict.fromkeys(("open", "os.remove", "os.unlink", "os.rename", "os.chmod", "os.chown", "os.makedirs",
                     "os.mkdir", "os.rmdir", "os.listdir", "os.walk", "os.scandir", "os.replace",
                     "io.open", "os.open", "os.write", "os.read", "os.symlink", "os.link"), "file"),
    **dict.fromkeys(("os.getenv", "os.putenv", "os.unsetenv", "os.environ.get", "os.getenvb",
                     "os.environ.copy", "os.environ.items"), "env"),
    **dict.fromkeys(("os.getlogin", "os.uname", "os.getuid", "os.getcwd", "os.cpu_count",
                     "socket.gethostname", "sys.getwindowsversion"), "sysinfo"),
    **dict.fromkeys(("exec", "eval", "compile", "__import__", "execfile"), "dynamic"),
    **dict.fromkeys(("globals", "locals", "vars", "setattr", "getattr", "delattr"), "reflection"),
    **dict.fromkeys(("chr", "ord", "bytes.fromhex", "bytearray.fromhex", "atob", "btoa", "Buffer.from",
                     "String.fromCharCode", "unescape", "decodeURIComponent"), "encoding"),
    **dict.fromkeys(("Function",), "dynamic"),
}
_PREFIX_CALLS = (("os.exec", "process"), ("os.spawn", "process"), ("os.environ", "env"))
# Method names that mean the same thing whatever the receiver is (receiver types are unknown).
_METHODS: dict[str, str] = {
    **dict.fromkeys(("urlopen", "urlretrieve", "recv", "sendall", "sendto", "connect", "getaddrinfo",
                     "gethostbyname"), "network"),
    **dict.fromkeys(("b64decode", "b64encode", "b32decode", "b16decode", "a85decode", "b85decode",
                     "decompress", "hexlify", "unhexlify", "fromhex", "translate", "maketrans"), "encoding"),
    **dict.fromkeys(("Popen", "check_output", "check_call", "getoutput", "getstatusoutput"), "process"),
    **dict.fromkeys(("write_bytes", "write_text", "read_bytes", "expanduser"), "file"),
    **dict.fromkeys(("encrypt", "decrypt", "hexdigest"), "crypto"),
    **dict.fromkeys(("read_clipboard", "to_clipboard", "clipboard_get", "clipboard_append", "grab", "screenshot",
                     "GetClipboardData", "SetClipboardData", "OpenClipboard"), "surveillance"),
}


def call_category(dotted: str) -> str | None:
    """Capability category of a resolved dotted call name, or None."""
    category = _CALLS.get(dotted)
    if category:
        return category
    for prefix, category in _PREFIX_CALLS:
        if dotted.startswith(prefix):
            return category
    root = dotted.split(".", 1)[0]
    if root in _MODULES and "." in dotted:
        return _MODULES[root]
    return _METHODS.get(dotted.rsplit(".", 1)[-1])


# Dotted names whose mere reading is a capability (os.environ["AWS_SECRET_ACCESS_KEY"]).
_READS: dict[str, str] = {"os.environ": "env", "os.environb": "env", "sys.modules": "reflection",
                          "builtins.__dict__": "reflection", "process.env": "env", "os.userInfo": "sysinfo"}


def read_category(dotted: str) -> str | None:
    """Capability category of a resolved dotted name that is read, not called."""
    parts = dotted.split(".")
    return next((_READS[".".join(parts[:n])] for n in range(len(parts), 1, -1) if ".".join(parts[:n]) in _READS), None)


def module_category(module: str) -> str | None:
    return _MODULES.get(module.split(".", 1)[0])


# String literal shapes: generic indicators, each a separate feature.
STRING_PATTERNS: dict[str, re.Pattern[str]] = {
    "url": re.compile(r"\b(?:https?|ftp|wss?)://", re.IGNORECASE),
    "ipv4": re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"),
    "sensitive_path": re.compile(
        r"\.ssh|id_rsa|\.aws|/etc/(?:passwd|shadow|sudoers|crontab)|\.bash_?(?:rc|profile|history)|"
        r"\.gnupg|\.netrc|\.npmrc|\.pypirc|\.docker/config|\.kube|appdata|cookies|login data|"
        r"wallet|keychain|\\\\startup|autostart|\.git-credentials|credentials|token",
        re.IGNORECASE,
    ),
    "shell": re.compile(
        r"\b(?:powershell|cmd(?:\.exe)?\s*/c|/bin/(?:ba)?sh|bash\s+-[ic]|curl\s|wget\s|chmod\s+[+0-7]|"
        r"nc\s+-|netcat|mshta|rundll32|regsvr32|certutil|schtasks|crontab|nohup)",
        re.IGNORECASE,
    ),
    "executable": re.compile(r"\.(?:exe|dll|scr|bat|vbs|ps1|so|dylib|bin|msi)\b", re.IGNORECASE),
}
