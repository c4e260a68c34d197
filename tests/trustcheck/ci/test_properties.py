"""Property tests: baseline counts are exact under insertions; git hunks give exactly the added lines."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustcheck.baseline import build
from trustcheck.findings import Confidence, Finding, Severity
from trustcheck.git import Repo

BAD = "    exec(base64.b64decode(blob))"
filler = st.sampled_from(["", "x = 1", "    return x", "def f():", "# note", "    y = x + 1"])


def findings_in(lines: list[str]) -> list[Finding]:
    return [Finding("py-bad", "rules", Severity.HIGH, Confidence.HIGH, "bad", "a.py", n)
            for n, line in enumerate(lines, 1) if line == BAD]


def insert(lines: list[str], extra: list[tuple[int, str]]) -> list[str]:
    out = list(lines)
    for position, line in extra:
        out.insert(position % (len(out) + 1), line)
    return out


@settings(max_examples=200, deadline=None)
@given(base=st.lists(st.one_of(filler, st.just(BAD)), max_size=30),
       moves=st.lists(st.tuples(st.integers(0, 40), filler), max_size=10),
       copies=st.lists(st.integers(0, 40), max_size=4))
def test_baseline_hides_exactly_what_it_holds(base, moves, copies):
    baseline = build(findings_in(base), lambda p: base)
    head = insert(base, moves + [(c, BAD) for c in copies])
    new, old = baseline.split(findings_in(head), lambda p: head)
    assert len(old) == base.count(BAD)
    assert len(new) == len(copies)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=st.lists(filler, min_size=1, max_size=20), positions=st.lists(st.integers(0, 30), max_size=5))
def test_added_lines_are_exactly_the_inserted_ones(repo, base, positions):
    target = repo.root / "a.py"  # written as is (the harness's write() dedents)
    target.write_text("\n".join(base) + "\n")
    repo.commit_files({})
    head = insert(base, [(p, f"inserted_{i} = {i}") for i, p in enumerate(positions)])
    target.write_text("\n".join(head) + "\n")
    expected = {n for n, line in enumerate(head, 1) if line.startswith("inserted_")}
    changes = Repo.discover(".").changes("HEAD")
    assert (changes[0].added_lines if changes else set()) == expected
