"""Anomaly model benchmark: fit on the Python standard library, find injected backdoors.

    .venv/bin/python benchmarks/anomaly.py [--models isolation-forest,lof,ocsvm] [--corpora ../shared/corpora]

Split: the stdlib's .py files outside test folders, sorted; a seeded random 10% is held out (fixed
seed, never tuned). The models fit on the other 90%. Negatives: every function of the held-out
files. Positives: backdoor behaviour from guarddog's test inputs (v2 `# ruleid:`-annotated Python
lines, with the statements just before them that set up their variables, and the v3 positive
.py files), each wrapped as a function and appended, with its imports, to a seeded random held-out
module; only the injected function is scored. Reports AUROC, recall at 1% / 5% FPR (thresholds
from the negatives' scores), fit/score times, and how many positives the anomaly model flags at
5% FPR that no rule (detectors.rules.RuleDetector) flags inside the injected function.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import sysconfig
import textwrap
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.anomaly.features import extract_units
from detectors.anomaly.fit import all_feature_names
from detectors.anomaly.model import MODEL_KINDS, Baseline, fit_model
from detectors.anomaly.vocabulary import Vocabulary
from detectors.languages import parser
from trustcheck.errors import TrustcheckError
from trustcheck.sources import Source

SEED = 20261124
HOLDOUT = 0.10
_SKIP = {"test", "tests", "idle_test", "site-packages", "__pycache__"}
_RULEID = re.compile(r"#\s*ruleid:\s*([\w-]+)")


def stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.startswith("test"))
        found += [Path(folder) / f for f in files if f.endswith(".py")]
    return sorted(found)


def split(files: list[Path]) -> tuple[list[Path], list[Path]]:
    rng = np.random.default_rng(SEED)
    held = set(rng.choice(len(files), size=max(1, round(HOLDOUT * len(files))), replace=False).tolist())
    return [f for i, f in enumerate(files) if i not in held], [f for i, f in enumerate(files) if i in held]


# --- positives -------------------------------------------------------------------------------

def _statement_groups(content: bytes) -> tuple[list, list[str]]:
    """Top-level statements of a file and the text of its import statements."""
    root = parser("python").parse(content).root_node
    statements = [c for c in root.named_children if c.type != "comment"]
    imports = [c.text.decode() for c in statements if c.type in ("import_statement", "import_from_statement")]
    return statements, imports


def _snippet_for_line(content: bytes, statements: list, line: int) -> str | None:
    """The code that carries the annotated line: its enclosing function, else its top-level statement
    plus the statements right before it (no blank line, no docstring between) that set it up."""
    row = line - 1
    for i, stmt in enumerate(statements):
        if not stmt.start_point[0] <= row <= stmt.end_point[0]:
            continue
        node = stmt.named_children[-1] if stmt.type == "decorated_definition" else stmt
        if node.type == "function_definition":
            return stmt.text.decode()
        if node.type == "class_definition":
            return None
        first = i
        while first > 0:
            prev = statements[first - 1]
            gap_blank = statements[first].start_point[0] - prev.end_point[0] > 2
            if gap_blank or prev.type in ("import_statement", "import_from_statement", "function_definition",
                                          "class_definition", "decorated_definition") or \
                    (prev.type == "expression_statement" and prev.named_children[0].type == "string"):
                break
            first -= 1
        lines = content.decode().splitlines()
        return "\n".join(lines[statements[first].start_point[0]: stmt.end_point[0] + 1])
    return None


def _as_function(snippet: str, name: str) -> str:
    snippet = textwrap.dedent(snippet)
    if re.match(r"(@.*\n)*\s*(async\s+)?def\s", snippet):
        return re.sub(r"def\s+\w+", f"def {name}", snippet, count=1)
    return f"def {name}():\n" + textwrap.indent(snippet, "    ")


def _dedup_key(snippet: str) -> str:
    """v3 re-formatted many v2 inputs (black): the same code modulo whitespace, quotes, comments."""
    code = "\n".join(line.split("#", 1)[0] if "ruleid" in line or line.strip().startswith("#") else line
                     for line in snippet.splitlines())
    return re.sub(r"\s+", "", code).replace("'", '"').rstrip(",")


def positives(corpora: Path) -> list[tuple[str, str, list[str]]]:
    """(origin, function source, imports) for every distinct backdoor snippet."""
    found: dict[str, tuple[str, str, list[str]]] = {}
    v2 = corpora / "guarddog" / "v2.10.0-semgrep"
    v3 = corpora / "guarddog" / "HEAD-ca8b5b4-v3-yara"
    annotated = sorted((v2 / "tests" / "analyzer" / "sourcecode").glob("*.py"))
    annotated += sorted(p for p in (v3 / "tests" / "analyzer" / "sourcecode").glob("*.py")
                        if not p.name.startswith("threat-"))
    for path in annotated:
        content = path.read_bytes()
        statements, imports = _statement_groups(content)
        lines = content.decode().splitlines()
        for number, text in enumerate(lines, 1):
            if not _RULEID.search(text) or text.strip().startswith(("# todo", "#todo")):
                continue
            target = next((n for n in range(number + 1, len(lines) + 1) if lines[n - 1].strip()
                           and not lines[n - 1].strip().startswith("#")), None)
            snippet = _snippet_for_line(content, statements, target) if target else None
            if snippet:
                found.setdefault(_dedup_key(snippet), (
                    f"{'v2' if v2 in path.parents else 'v3'}/{path.name}:{target}", snippet, imports))
    for path in sorted((v3 / "tests" / "analyzer" / "sourcecode").glob("threat-*.py")):
        content = path.read_bytes()
        statements, imports = _statement_groups(content)
        body = []
        for stmt in statements:
            node = stmt.named_children[-1] if stmt.type == "decorated_definition" else stmt
            if node.type == "function_definition":
                found.setdefault(_dedup_key(stmt.text.decode()), (f"v3/{path.name}:{stmt.start_point[0] + 1}",
                                                                        stmt.text.decode(), imports))
            elif stmt.type not in ("import_statement", "import_from_statement", "class_definition"):
                body.append(stmt.text.decode())
        if body:
            snippet = "\n".join(body)
            found.setdefault(_dedup_key(snippet), (f"v3/{path.name}", snippet, imports))
    return [(origin, snippet, imports) for origin, snippet, imports in found.values()]


def inject(host: bytes, snippet: str, imports: list[str], index: int) -> tuple[bytes, str, int]:
    """Host module + imports + the snippet as a function; returns (content, name, first line)."""
    name = f"sync_state_{index}"  # a neutral name: names are not features, but keep it plain
    text = host.decode("utf-8", "replace").rstrip("\n") + "\n\n" + "\n".join(imports) + "\n\n\n"
    first = text.count("\n") + 1
    return (text + _as_function(snippet, name) + "\n").encode(), name, first


# --- metrics ---------------------------------------------------------------------------------

def rule_family(origin: str) -> str:
    """The guarddog rule a positive came from (v2 and v3 spellings merged)."""
    name = origin.split("/", 1)[1].split(":", 1)[0].removesuffix(".py")
    return name.removeprefix("threat-")


def dev_families(origins: list[str]) -> set[str]:
    """Half of the rule families, seeded: features were developed looking at these only."""
    families = sorted({rule_family(o) for o in origins})
    rng = np.random.default_rng(7)
    return set(rng.choice(families, size=len(families) // 2, replace=False).tolist())


def recall_at_fpr(neg: np.ndarray, pos: np.ndarray, fpr: float) -> tuple[float, float]:
    threshold = float(np.quantile(neg, 1 - fpr))
    return float(np.mean(pos > threshold)), threshold


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODEL_KINDS))
    ap.add_argument("--corpora", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "corpora"))
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--show", type=int, default=0, help="print the N lowest-scored positives (default model)")
    args = ap.parse_args()
    from sklearn.metrics import roc_auc_score

    corpora = Path(args.corpora)
    if not (corpora / "guarddog").is_dir():
        sys.exit(f"corpora not found at {corpora}: pass --corpora")
    train, held = split(stdlib_files())
    started = time.perf_counter()
    per_file = [extract_units(f.read_bytes(), "python") for f in train]
    vocabulary = Vocabulary.build(per_file)
    matrix = np.asarray([vocabulary.vector(u) for units in per_file for u in units], dtype=np.float32)
    extract_s = time.perf_counter() - started
    print(f"stdlib: {len(train)} train files ({len(matrix)} units, features {extract_s:.1f}s), {len(held)} held out")

    started = time.perf_counter()
    neg_units = [u for f in held for u in extract_units(f.read_bytes(), "python") if u.kind == "function"]
    neg_x = np.asarray([vocabulary.vector(u) for u in neg_units], dtype=np.float32)
    block_x = np.asarray([vocabulary.vector(u) for f in held for u in extract_units(f.read_bytes(), "python")
                          if u.kind == "block"], dtype=np.float32)
    neg_extract_s = time.perf_counter() - started

    rng = np.random.default_rng(SEED + 1)
    cases = []
    for index, (origin, snippet, imports) in enumerate(positives(corpora)):
        host = held[int(rng.integers(len(held)))]
        content, name, first = inject(host.read_bytes(), snippet, imports, index)
        unit = next((u for u in extract_units(content, "python") if u.name == name), None)
        if unit is not None:
            cases.append((origin, content, unit, first))
    pos_x = np.asarray([vocabulary.vector(c[2]) for c in cases], dtype=np.float32)
    print(f"negatives: {len(neg_units)} held-out functions; positives: {len(cases)} injected backdoor functions")

    rule_hits = _rule_hits(cases)
    results = {}
    for kind in args.models.split(","):
        started = time.perf_counter()
        model = fit_model(matrix, kind, all_feature_names("python"))
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        neg, pos = model.raw_scores(neg_x), model.raw_scores(pos_x)
        score_s = time.perf_counter() - started
        auroc = float(roc_auc_score(np.r_[np.zeros(len(neg)), np.ones(len(pos))], np.r_[neg, pos]))
        r1, _ = recall_at_fpr(neg, pos, 0.01)
        r5, t5 = recall_at_fpr(neg, pos, 0.05)
        flagged = pos > t5
        blocks = model.raw_scores(block_x)
        block_fpr = (float(np.mean(blocks > recall_at_fpr(neg, pos, 0.01)[1])), float(np.mean(blocks > t5)))
        beyond = None if rule_hits is None else int(sum(f and not r for f, r in zip(flagged, rule_hits)))
        if rule_hits is not None and kind == args.models.split(",")[0]:
            union = sum(f or r for f, r in zip(flagged, rule_hits))
            print(f"rules alone {sum(rule_hits)}/{len(cases)}; rules or anomaly@5%FPR {union}/{len(cases)}; "
                  f"anomaly-only: {', '.join(c[0] for c, f, r in zip(cases, flagged, rule_hits) if f and not r)}")
        dev = dev_families([c[0] for c in cases])
        held_pos = np.array([rule_family(c[0]) not in dev for c in cases])
        auroc_test = float(roc_auc_score(np.r_[np.zeros(len(neg)), np.ones(held_pos.sum())], np.r_[neg, pos[held_pos]]))
        r5_test, _ = recall_at_fpr(neg, pos[held_pos], 0.05)
        r1_test, _ = recall_at_fpr(neg, pos[held_pos], 0.01)
        results[kind] = {"block_fpr_at_1pct": block_fpr[0], "block_fpr_at_5pct": block_fpr[1],
                         "auroc_test_families": auroc_test, "recall_at_5pct_test_families": r5_test,
                         "recall_at_1pct_test_families": r1_test,
                         "auroc": auroc, "recall_at_1pct": r1, "recall_at_5pct": r5, "beyond_rules": beyond,
                         "fit_s": fit_s, "score_s": score_s, "n_neg": len(neg), "n_pos": len(pos)}
        print(f"{kind:17s} auroc={auroc:.3f} recall@1%={r1:.3f} recall@5%={r5:.3f} "
              f"beyond_rules={beyond} fit={fit_s:.2f}s score={score_s:.3f}s "
              f"({len(neg) + len(pos)} units; +{neg_extract_s:.1f}s features)\n"
              f"{'':17s} unseen-families only ({held_pos.sum()} positives): auroc={auroc_test:.3f} "
              f"recall@1%={r1_test:.3f} recall@5%={r5_test:.3f}\n"
              f"{'':17s} held-out top-level blocks over the same thresholds: {block_fpr[0]:.3f} / "
              f"{block_fpr[1]:.3f} ({len(blocks)} blocks)")
        if kind == args.models.split(",")[0]:  # ablation: each half of the score alone
            for part, (n_part, p_part) in {
                "estimator only": (-model.estimator.score_samples(model.transform(neg_x)),
                                   -model.estimator.score_samples(model.transform(pos_x))),
                "rarity only": (model.rarity.scores(neg_x), model.rarity.scores(pos_x)),
            }.items():
                a = roc_auc_score(np.r_[np.zeros(len(n_part)), np.ones(len(p_part))], np.r_[n_part, p_part])
                print(f"{'':17s} {part}: auroc={a:.3f} recall@1%={recall_at_fpr(n_part, p_part, 0.01)[0]:.3f} "
                      f"recall@5%={recall_at_fpr(n_part, p_part, 0.05)[0]:.3f}")
        if args.show and kind == args.models.split(",")[0]:
            for i in np.argsort(pos)[: args.show]:
                print(f"   low: {pos[i]:.3f} {cases[i][0]}")
    _operating_point(matrix, vocabulary, args.models.split(",")[0], held, cases)
    if rule_hits is not None:
        print(f"rules flag {sum(rule_hits)}/{len(rule_hits)} injected functions")
    print(f"time on stdlib: features {extract_s:.1f}s for {len(matrix)} units")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    best = results.get("isolation-forest") or next(iter(results.values()))
    beyond = "n/a" if best["beyond_rules"] is None else f"{best['beyond_rules']}/{best['n_pos']}"
    print(f"auroc={best['auroc']:.3f} recall_at_1pct={best['recall_at_1pct']:.3f} "
          f"recall_at_5pct={best['recall_at_5pct']:.3f} beyond_rules={beyond}")


def _operating_point(matrix: np.ndarray, vocabulary: Vocabulary, kind: str, held: list[Path], cases: list) -> None:
    """The detector as shipped (threshold: 99th percentile of the baseline's own units): the
    severities it gives held-out clean units and the injected functions."""
    from collections import Counter

    from detectors.anomaly.detector import AnomalyDetector
    from detectors.anomaly.fit import DEFAULT_THRESHOLD

    settings = {"language": "python", "model": kind, "threshold_percentile": DEFAULT_THRESHOLD,
                "feature_names": all_feature_names("python"), "vocabulary": vocabulary.to_json(),
                "fitted_on": {"content_hash": "benchmark", "files": {}}}
    detector = AnomalyDetector(Baseline(matrix, settings))
    clean: Counter[str] = Counter()
    n_clean = 0
    for path in held:
        source = Source(str(path), "python", path.read_bytes())
        scored = detector.score_units(source)
        n_clean += len(scored)
        clean.update(f.severity.value for f in detector.findings_for(source, scored))
    injected: Counter[str] = Counter()
    for origin, content, unit, _ in cases:
        source = Source(origin, "python", content)
        found = detector.score_functions(source, [(unit.start_line, unit.end_line)])
        injected.update(f.severity.value for f in found if f.line == unit.start_line)
    print(f"shipped detector ({kind}, threshold p{DEFAULT_THRESHOLD:g}): held-out clean units flagged "
          f"{sum(clean.values())}/{n_clean} {dict(clean)}; injected functions flagged "
          f"{sum(injected.values())}/{len(cases)} {dict(injected)}")


def _rule_hits(cases: list) -> list[bool] | None:
    """Per case: does any rule finding fall inside the injected function? None without the engine."""
    try:
        from detectors.rules import RuleDetector

        detector = RuleDetector()
    except (ImportError, TrustcheckError) as exc:
        print(f"rules: the rule engine is not usable ({exc}); beyond_rules not measured")
        return None
    hits = []
    for origin, content, unit, first in cases:
        findings = detector.detect(Source(f"injected_{origin}.py", "python", content))
        hits.append(any(unit.start_line <= f.line <= unit.end_line for f in findings))
    return hits


if __name__ == "__main__":
    main()
