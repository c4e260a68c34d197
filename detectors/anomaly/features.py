"""Feature vectors for scoring units (functions/methods and top-level statement blocks).

One iterative tree-sitter cursor walk per file (no Python recursion, so deep nesting cannot
overflow the stack). Every node is attributed to the innermost enclosing unit: a function, or a
block of consecutive module-level (or class-level) statements between definitions. Call names are
resolved through the file's imports after the walk, so the feature vector of a unit is a pure
function of the file's bytes.

Changing what a feature means, or the list of features, requires bumping `SCHEMA_VERSION`:
saved baselines record it and refuse to score with a different one.
"""

from __future__ import annotations

import dataclasses
import math
import re
import zlib
from collections import Counter

from tree_sitter import Node, TreeCursor

from detectors.anomaly.capabilities import (
    ACTIONS,
    CATEGORIES,
    HIDE_OR_COLLECT,
    STRING_PATTERNS,
    call_category,
    module_category,
    read_category,
)
from detectors.anomaly.syntax import SYNTAX, UnitSyntax

SCHEMA_VERSION = 6
CALL_BUCKETS = 24  # call names (last dotted component) hashed into this many buckets
MODULE_BUCKETS = 16  # referenced module roots hashed into this many buckets

_SIMPLE_NAME = re.compile(rb"^[A-Za-z_][\w.]*$")
_STRING_AFFIXES = re.compile(r'^[A-Za-z]*("""|\'\'\'|"|\'|`)|("""|\'\'\'|"|\'|`)$')
# Dunder names ordinary code uses; others (__import__, __builtins__, __pyarmor__) are unusual.
_COMMON_DUNDERS = frozenset({
    "__init__", "__name__", "__file__", "__doc__", "__class__", "__dict__", "__all__", "__main__", "__module__",
    "__qualname__", "__slots__", "__version__", "__repr__", "__str__", "__eq__", "__hash__", "__len__",
    "__iter__", "__next__", "__enter__", "__exit__", "__call__", "__getattr__", "__setattr__", "__getitem__",
    "__setitem__", "__contains__", "__new__", "__del__", "__lt__", "__le__", "__gt__", "__ge__", "__ne__",
    "__bool__", "__annotations__", "__path__", "__spec__", "__package__", "__loader__", "__debug__", "__mro__",
    "__bases__", "__subclasses__", "__func__", "__self__", "__wrapped__", "__code__", "__defaults__",
    "__kwdefaults__", "__traceback__", "__cause__", "__context__", "__fspath__", "__index__", "__int__",
    "__float__", "__format__", "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__copy__",
    "__deepcopy__", "__sizeof__", "__init_subclass__", "__set_name__", "__class_getitem__", "__missing__",
    "__aenter__", "__aexit__", "__aiter__", "__anext__", "__await__", "__add__", "__sub__", "__mul__",
})
_OBFUSCATED_IDENT = re.compile(r"^_*0x[0-9a-fA-F]+$|^[Il1O0_]{4,}$|^_{2,}[A-Za-z]\d+$|[a-z]\d{3,}[a-z]", re.ASCII)


_BASE64ISH = re.compile(r"^[A-Za-z0-9+/=_-]{24,}$")
_HEXISH = re.compile(r"^(?:\\x)?[0-9a-fA-F]{32,}$|^(?:\\x[0-9a-fA-F]{2}){8,}$")


def _looks_encoded(body: str) -> bool:
    """Base64-, hex- or escape-encoded data rather than text."""
    if _HEXISH.match(body):
        return True
    if _BASE64ISH.match(body):
        return any(c.isupper() for c in body) and any(c.islower() for c in body) and any(c.isdigit() for c in body)
    return len(body) >= 40 and " " not in body and entropy(body) >= 4.5


def bucket(name: str, buckets: int) -> int:
    """Stable hash bucket of a name (crc32, not Python's salted hash)."""
    return zlib.crc32(name.encode()) % buckets


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


@dataclasses.dataclass
class Unit:
    """One scoring unit. Lines are 1-based and inclusive; `vector` aligns with feature_names()."""

    kind: str  # "function" | "block"
    name: str
    start_line: int
    end_line: int
    vector: list[float] = dataclasses.field(default_factory=list)
    calls: list[str] = dataclasses.field(default_factory=list)  # resolved dotted call names
    modules: set[str] = dataclasses.field(default_factory=set)  # module roots referenced
    capabilities: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class _Acc:
    unit: Unit
    root_depth: int
    nodes: int = 0
    types: Counter[str] = dataclasses.field(default_factory=Counter)
    raw_calls: list[str] = dataclasses.field(default_factory=list)
    raw_reads: list[str] = dataclasses.field(default_factory=list)  # dotted names read, not called
    strings: list[tuple[int, float]] = dataclasses.field(default_factory=list)  # (length, entropy)
    string_flags: Counter[str] = dataclasses.field(default_factory=Counter)
    numbers: Counter[str] = dataclasses.field(default_factory=Counter)
    ident_lengths: list[int] = dataclasses.field(default_factory=list)
    obfuscated_idents: int = 0
    dunder_idents: int = 0  # unusual __names__ (__import__, __builtins__, __pyarmor__, ...)
    swallowed: int = 0  # except clauses whose body only passes
    docstring: int = 0
    max_depth: int = 0
    max_block: int = 0


def feature_names(syntax: UnitSyntax) -> list[str]:
    return [
        "size.log_nodes", "size.log_lines", "depth.max_tree", "depth.max_block",
        *(f"node.{t}" for t in syntax.node_types),
        *(f"call.bucket_{i}" for i in range(CALL_BUCKETS)),
        "call.distinct_share",
        *(f"module.bucket_{i}" for i in range(MODULE_BUCKETS)),
        "string.log_count", "string.log_max_len", "string.mean_entropy", "string.max_entropy",
        "string.encoded_blob", "string.non_ascii", *(f"string.{k}" for k in STRING_PATTERNS),
        "number.large_hex", "number.big_int", "number.byte_array",
        "ident.mean_len", "ident.short_share", "ident.obfuscated", "ident.dunder", "flow.swallowed_exceptions",
        *(f"cap.{c}" for c in CATEGORIES), "cap.distinct", "cap.dangerous_distinct",
        "doc.docstring", "doc.comment_share",
    ]


def extract_units(content: bytes, language: str) -> list[Unit]:
    """Scoring units of one file with their feature vectors ([] for an unsupported language)."""
    syntax = SYNTAX.get(language)
    if syntax is None:
        return []
    from detectors.languages import parser

    tree = parser(language).parse(content)
    imports: dict[str, str] = {}
    accs = _walk(tree.walk(), syntax, imports)
    return [_finish(acc, syntax, imports) for acc in accs]


def _walk(cursor: TreeCursor, syntax: UnitSyntax, imports: dict[str, str]) -> list[_Acc]:
    accs: list[_Acc] = []
    frames: list[tuple[int, _Acc]] = []  # (depth of the node that opened it, accumulator)
    types: list[str] = []  # node type at each depth on the current path
    blocks: list[int] = []  # statement-block count on the path, per depth
    open_block: dict[int, _Acc | None] = {}  # depth -> the block unit still accepting siblings
    scope: list[tuple[int, str]] = []  # (depth, class/function name) for qualified names
    depth = 0
    while True:
        node = cursor.node
        assert node is not None  # a cursor always stands on a node
        t = node.type
        while frames and frames[-1][0] >= depth:
            frames.pop()
        while scope and scope[-1][0] >= depth:
            scope.pop()
        del types[depth:], blocks[depth:]
        parent = types[-1] if types else ""
        types.append(t)
        blocks.append((blocks[-1] if blocks else 0) + (t in syntax.block_types))
        if parent in syntax.top_level_parents or (parent, types[-3] if depth >= 2 else "") in syntax.class_body_parents:
            if t in syntax.definition_types:
                open_block[depth] = None
            elif t not in syntax.comment_types and node.is_named:
                acc = open_block.get(depth)
                if acc is None:
                    owner = ".".join(name for _, name in scope)
                    unit = Unit("block", f"{owner}.<block>" if owner else "<module>", node.start_point[0] + 1, 0)
                    acc = open_block[depth] = _Acc(unit, depth)
                    accs.append(acc)
                acc.unit.end_line = node.end_point[0] + 1
                frames.append((depth, acc))
        if (t in syntax.function_types or t in syntax.class_types) and node.is_named:
            name = _unit_name(node)
            if t in syntax.function_types:
                owner = ".".join(n for _, n in scope)
                acc = _Acc(Unit("function", f"{owner}.{name}" if owner else name, node.start_point[0] + 1,
                                node.end_point[0] + 1), depth)
                accs.append(acc)
                frames.append((depth, acc))
            scope.append((depth, name))
        if frames:
            _count(node, t, parent, depth, frames[-1][1], syntax, blocks[-1])
        if t in syntax.import_types:
            syntax.read_imports(node, imports, frames[-1][1].unit.modules if frames else None)
        if cursor.goto_first_child():
            depth += 1
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return accs
            depth -= 1


def _count(node: Node, t: str, parent: str, depth: int, acc: _Acc, syntax: UnitSyntax, block_depth: int) -> None:
    acc.nodes += 1
    acc.types[t] += 1
    rel = depth - acc.root_depth
    acc.max_depth = max(acc.max_depth, rel)
    acc.max_block = max(acc.max_block, block_depth)
    if t == syntax.call_type or t in syntax.construct_types:
        fn = node.child_by_field_name(syntax.call_function_field if t == syntax.call_type else "constructor")
        if fn is not None:
            callee = fn.text or b""
            if not _SIMPLE_NAME.match(callee):
                attr = fn.child_by_field_name(syntax.member_field)
                callee = b"?." + (attr.text or b"") if attr is not None else b"?"
            acc.raw_calls.append(callee.decode("utf-8", "replace"))
    elif t in syntax.member_types and parent not in syntax.member_types and parent != syntax.call_type:
        member = node.text or b""
        if _SIMPLE_NAME.match(member):
            acc.raw_reads.append(member.decode("utf-8", "replace"))
    elif t in syntax.string_types:
        text = (node.text or b"").decode("utf-8", "replace")
        if parent in syntax.docstring_types:  # a bare string statement: documentation
            acc.docstring = 1
            return
        body = _STRING_AFFIXES.sub("", text)
        acc.strings.append((len(body), entropy(body)))
        if _looks_encoded(body):
            acc.string_flags["encoded_blob"] += 1
        if any(ord(ch) > 127 for ch in body):
            acc.string_flags["non_ascii"] += 1
        for key, pattern in STRING_PATTERNS.items():
            if pattern.search(body):
                acc.string_flags[key] += 1
    elif t in syntax.integer_types:
        literal = (node.text or b"0").decode("ascii", "replace").replace("_", "").lower().rstrip("lj")
        try:
            value = int(literal, 0)
        except ValueError:
            value = 0
        if literal.startswith("0x") and value > 0xFFFF:
            acc.numbers["large_hex"] += 1
        if value > 2**31:
            acc.numbers["big_int"] += 1
    elif t in syntax.identifier_types:
        name = (node.text or b"").decode("utf-8", "replace")
        acc.ident_lengths.append(len(name))
        if _OBFUSCATED_IDENT.search(name):
            acc.obfuscated_idents += 1
        if name.startswith("__") and name.endswith("__") and name not in _COMMON_DUNDERS:
            acc.dunder_idents += 1
    elif t in syntax.swallow_types and _only_passes(node, syntax):
        acc.swallowed += 1
    elif t in syntax.list_types and node.named_child_count >= 8 and \
            all(c.type in syntax.integer_types for c in node.named_children[:8]):
        acc.numbers["byte_array"] += 1


def _only_passes(handler: Node, syntax: UnitSyntax) -> bool:
    """An exception handler whose block does nothing (pass, ..., continue, {}): errors dropped."""
    block = next((c for c in handler.named_children if c.type in syntax.block_types), None)
    return block is not None and all(c.type in ("pass_statement", "continue_statement", "empty_statement",
                                                "comment") or (c.type == "expression_statement" and c.text == b"...")
                                     for c in block.named_children)


def _unit_name(node: Node) -> str:
    """A definition's name; an anonymous function takes the name it is assigned to."""
    name = node.child_by_field_name("name")
    if name is None and node.parent is not None:
        name = node.parent.child_by_field_name("name") or node.parent.child_by_field_name("key") \
            or node.parent.child_by_field_name("left")
    text = _text(name) if name is not None and name.type != node.type else ""
    return text if text and len(text) <= 80 else f"<anonymous@{node.start_point[0] + 1}>"


def _text(node: Node | None) -> str:
    return (node.text or b"").decode("utf-8", "replace") if node is not None else ""


def _resolve(name: str, imports: dict[str, str]) -> str:
    head, _, rest = name.partition(".")
    full = imports.get(head)
    if full is None:
        return name
    return f"{full}.{rest}" if rest else full


def _finish(acc: _Acc, syntax: UnitSyntax, imports: dict[str, str]) -> Unit:
    unit = acc.unit
    nodes = max(acc.nodes, 1)
    unit.calls = [_resolve(c, imports) for c in acc.raw_calls]
    caps: Counter[str] = Counter()
    for raw, call in zip(acc.raw_calls, unit.calls):
        if raw.split(".", 1)[0] in imports:
            unit.modules.add(call.split(".", 1)[0])
        category = call_category(call)
        if category:
            caps[category] += 1
    for read in acc.raw_reads:
        category = read_category(_resolve(read, imports))
        if category:
            caps[category] += 1
    for module in unit.modules:
        category = module_category(module)
        if category:
            caps[category] += 0  # referenced: keep the key, calls carry the count
    unit.capabilities = {k: v for k, v in caps.items() if v}
    call_buckets = [0.0] * CALL_BUCKETS
    for call in unit.calls:
        call_buckets[bucket(call.rsplit(".", 1)[-1], CALL_BUCKETS)] += 1
    n_calls = max(len(unit.calls), 1)
    module_buckets = [0.0] * MODULE_BUCKETS
    for module in unit.modules:
        module_buckets[bucket(module, MODULE_BUCKETS)] = 1.0
    lengths = [s[0] for s in acc.strings]
    entropies = [s[1] for s in acc.strings]
    idents = acc.ident_lengths
    lines = unit.end_line - unit.start_line + 1
    unit.vector = [
        math.log1p(acc.nodes), math.log1p(lines), float(acc.max_depth), float(acc.max_block),
        *(acc.types.get(t, 0) / nodes for t in syntax.node_types),
        *(c / n_calls for c in call_buckets),
        len(set(unit.calls)) / n_calls,
        *module_buckets,
        math.log1p(len(lengths)), math.log1p(max(lengths, default=0)),
        sum(entropies) / len(entropies) if entropies else 0.0, max(entropies, default=0.0),
        math.log1p(acc.string_flags["encoded_blob"]), math.log1p(acc.string_flags["non_ascii"]),
        *(math.log1p(acc.string_flags[k]) for k in STRING_PATTERNS),
        math.log1p(acc.numbers["large_hex"]), math.log1p(acc.numbers["big_int"]),
        math.log1p(acc.numbers["byte_array"]),
        sum(idents) / len(idents) if idents else 0.0,
        sum(1 for n in idents if n <= 2) / len(idents) if idents else 0.0,
        math.log1p(acc.obfuscated_idents), math.log1p(acc.dunder_idents), math.log1p(acc.swallowed),
        *(math.log1p(caps[c]) for c in CATEGORIES), float(len(unit.capabilities)),
        float(len(unit.capabilities.keys() & (ACTIONS | HIDE_OR_COLLECT))),
        float(acc.docstring), acc.types.get("comment", 0) / lines,
    ]
    return unit
