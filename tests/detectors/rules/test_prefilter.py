import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.rules.prefilter import literal_alternation, prefilter, text_prefilter

PATTERNS = [
    rb"ssh|aws|cron\.|Login Data",
    rb"(?i)powershell|pwsh",
    rb"0\.0\.0\.0|['\"]::['\"]",
    rb"[\x80-\xff]+",
    rb"\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]",
    rb"\beval\b|Function",
    rb"(net\.Socket|connect)[\s\S]*\.pipe\(",
    rb"(?:ab)+c",
    rb"writeFile(Sync)?\(",
]


@pytest.mark.parametrize(
    ("pattern", "content", "may"),
    [
        (rb"ssh|aws", b"import os\n", False),
        (rb"ssh|aws", b"x = '~/.aws/credentials'", True),
        (rb"(?i)powershell|pwsh", b"PowerShell -enc", True),
        (rb"(?i)powershell|pwsh", b"bash -c", False),
        (rb"[\x80-\xff]+", "caf\u00e9".encode(), True),
        (rb"[\x80-\xff]+", b"cafe", False),
    ],
)
def test_rejects_only_files_without_a_required_literal(pattern: bytes, content: bytes, may: bool) -> None:
    check = prefilter(re.compile(pattern))
    assert check is not None
    assert check(content) is may


@pytest.mark.parametrize("pattern", [rb"[2-7][0-9a-f]{4}", rb".*", rb"(?i:abc)|d", rb"a?b?"])
def test_no_prefilter_when_no_literal_is_required(pattern: bytes) -> None:
    assert prefilter(re.compile(pattern)) is None


ALPHABET = st.sampled_from([b"a", b"b", b"c", b"s", b"h", b"w", b"A", b"W", b"S", b".", b"'", b":", b"0",
                            b"\xe2", b"\x80", b"\xab", b"\x81", b"\xa7", b"pwsh", b"POWERSHELL", b"connect",
                            b".pipe(", b"eval", b"ssh", b"writeFile(", b"Function", b" "])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATTERNS), st.lists(ALPHABET, max_size=30).map(b"".join))
def test_prefilter_never_rejects_a_file_the_regex_matches(pattern: bytes, content: bytes) -> None:
    regex = re.compile(pattern)
    check = prefilter(regex)
    if regex.search(content) is not None:
        assert check is None or check(content)


TEXT_PATTERNS = [
    r"(?i)requests\.get|curl",
    r"(?is)((exec|eval)\s*\(.{0,20}(urlopen|wget)|(curl|wget)\s[^|;]{0,30}\|\s*(ba)?sh\b)",
    r"[\u0080-\uffff]+",
    r"(?i)[\u0080-\uffff]k",
    r"stop|ſtart",
    r"^(pickle|marshal)\.loads$",
]
TEXT_ALPHABET = st.sampled_from(["a", "s", "S", "ſ", "k", "K", "\u212a", "İ", "ı", "i", "curl", "CURL", "cur", "wget", " ",
                                 "|", "sh", "bash", "exec(", "EVAL(", "urlopen", "requests.get", "REQUESTS.GET",
                                 "stop", "start", "tart", "pickle.loads", "marshal", ".loads", "\n"])


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(TEXT_PATTERNS), st.lists(TEXT_ALPHABET, max_size=25).map("".join))
def test_text_prefilter_never_rejects_a_text_the_regex_matches(pattern: str, text: str) -> None:
    regex = re.compile(pattern)
    check = text_prefilter(regex)
    if regex.search(text) is not None:
        assert check is None or check(text)


def test_text_prefilter_rejects_texts_without_the_literals() -> None:
    check = text_prefilter(re.compile(r"(?i)requests\.get|curl"))
    assert check is not None and not check("import os") and check("CURL x") and not check("ſ non-ascii")
    assert check("REQUEſTſ.get(u)") and check("requests.get") and not check("requests-get")


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        (rb"ssh|aws|cron\.", (b"ssh", b"aws", b"cron.")),
        (rb"(?i)PowerShell|pwsh", (b"powershell", b"pwsh")),
        (rb"cp114[1-3]|ebcdic", (b"cp1141", b"cp1142", b"cp1143", b"ebcdic")),
        (rb"net\s+user", None),
        (rb"[^a]x", None),
    ],
)
def test_literal_alternation(pattern: bytes, literals: tuple[bytes, ...] | None) -> None:
    assert literal_alternation(re.compile(pattern)) == literals


@settings(max_examples=200, deadline=None)
@given(st.lists(ALPHABET, max_size=30).map(b"".join))
def test_literal_alternation_occurrences_cover_every_regex_match(content: bytes) -> None:
    for pattern in (rb"(?i)pwsh|SSH|eval", rb"ssh|aws|a[bw]s"):
        regex = re.compile(pattern)
        literals = literal_alternation(regex)
        assert literals is not None
        folded = content.lower() if regex.flags & re.IGNORECASE else content
        for match in regex.finditer(content):
            assert folded[match.start():match.end()] in literals
