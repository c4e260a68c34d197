"""Python dataflow for rule helpers: alias-resolved call names and constant folding.

Intra-procedural and cheap: one query pass collects imports and simple assignments, built lazily
the first time a matched rule asks for a name or a value. Everything is depth-limited so that
adversarial input (deep nesting, self-referencing assignments) yields "unknown", never a crash.
"""

from __future__ import annotations

import ast
import base64
import binascii
import codecs
import functools
import re
import stat
import unicodedata
import zlib
from collections.abc import Callable
from typing import Any

import tree_sitter
from tree_sitter import Node

from detectors.languages import grammar

MAX_DEPTH = 40  # folding/resolution recursion budget per value
MAX_LEN = 1 << 20  # folded strings longer than this are "unknown" (no "a" * 10**9 surprises)
MAX_ITEMS = 10_000


class Unknown:
    """A value the folder cannot compute."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = Unknown()

_TABLE_QUERY = """
(import_statement name: (dotted_name) @imp)
(import_statement name: (aliased_import name: (dotted_name) @imp alias: (identifier) @alias))
(import_from_statement module_name: (_) @mod name: (dotted_name) @name)
(import_from_statement module_name: (_) @mod name: (aliased_import name: (dotted_name) @name alias: (identifier) @alias))
(assignment left: (identifier) @lhs right: (_) @rhs)
(augmented_assignment left: (identifier) @blhs right: (_) @brhs)
(as_pattern (_) @brhs alias: (as_pattern_target (identifier) @blhs))
(for_statement left: (identifier) @blhs right: (_) @brhs)
(for_in_clause left: (identifier) @blhs right: (_) @brhs)
"""

_PLAIN_DOTTED = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_LITERAL_TYPES = {"string": "str", "concatenated_string": "str", "list": "list", "dictionary": "dict", "tuple": "tuple", "integer": "int"}
_SCOPES = frozenset({"function_definition", "lambda", "class_definition"})
_BUILTIN_MAPS = frozenset({"__builtins__", "globals()", "locals()", "vars()", "builtins.__dict__", "__builtins__.__dict__"})


@functools.cache
def _table_query() -> tree_sitter.Query:
    return tree_sitter.Query(grammar("python"), _TABLE_QUERY)


def _text(node: Node | None) -> str:
    return (node.text or b"").decode("utf-8", errors="replace") if node is not None else ""


def _scope_of(node: Node) -> int | None:
    parent = node.parent
    while parent is not None:
        if parent.type in _SCOPES:
            return parent.id
        parent = parent.parent
    return None


def _block_contains(rhs: Node, use: Node) -> bool:
    """Whether the statement block holding the assignment of `rhs` also holds `use`."""
    statement = rhs.parent.parent if rhs.parent is not None else None  # assignment -> expression_statement
    block = statement.parent if statement is not None else None
    if block is None or block.type == "module":
        return True
    return block.start_byte <= use.start_byte < block.end_byte


def _with_target_value(use: Node, name: str) -> Node | None:
    """The value bound by an enclosing `with VALUE as name:` (so `sct.grab` inside
    `with mss.mss() as sct:` resolves to `mss.mss().grab`), or None. Stops at a function scope."""
    parent = use.parent
    while parent is not None and parent.type not in _SCOPES:
        if parent.type == "with_statement":
            for clause in parent.named_children:
                if clause.type != "with_clause":
                    continue
                for item in clause.named_children:
                    pattern = item.named_children[0] if item.named_child_count else None
                    if pattern is None or pattern.type != "as_pattern":
                        continue
                    target = pattern.child_by_field_name("alias")
                    if target is not None and _text(target).strip() == name and pattern.named_child_count:
                        return pattern.named_children[0]
        parent = parent.parent
    return None


class PythonFile:
    """Name and value resolution over one parsed Python file."""

    def __init__(self, root: Node):
        self.root = root
        self._tables: tuple[dict[str, str], dict[str, list[tuple[int, Node, int | None]]]] | None = None
        self._bindings: dict[str, list[tuple[Node, int | None]]] = {}
        self._resolving: set[str] = set()
        self._fold_cache: dict[int, Any] = {}
        self._callee_cache: dict[int, Any] = {}

    # -- tables -----------------------------------------------------------------------------
    def _build(self) -> tuple[dict[str, str], dict[str, list[tuple[int, Node, int | None]]]]:
        if self._tables is None:
            imports: dict[str, str] = {}
            assigns: dict[str, list[tuple[int, Node, int | None]]] = {}
            for _, caps in tree_sitter.QueryCursor(_table_query()).matches(self.root):
                if "lhs" in caps:
                    lhs, rhs = caps["lhs"][0], caps["rhs"][0]
                    scope = _scope_of(lhs)
                    assigns.setdefault(_text(lhs), []).append((lhs.start_byte, rhs, scope))
                    self._bindings.setdefault(_text(lhs), []).append((rhs, scope))
                elif "blhs" in caps:
                    lhs, rhs = caps["blhs"][0], caps["brhs"][0]
                    self._bindings.setdefault(_text(lhs), []).append((rhs, _scope_of(lhs)))
                elif "imp" in caps:
                    full = _text(caps["imp"][0])
                    if "alias" in caps:
                        imports[_text(caps["alias"][0])] = full
                    else:
                        head = full.split(".", 1)[0]
                        imports.setdefault(head, head)
                else:
                    module = _text(caps["mod"][0]).strip()
                    name = _text(caps["name"][0])
                    target = f"{module}.{name}" if module.strip(".") else name
                    imports[_text(caps["alias"][0]) if "alias" in caps else name] = target
            self._tables = (imports, assigns)
        return self._tables

    def definition(self, ident: Node) -> Node | None:
        """The right-hand side of the last simple assignment to `ident` visible at its use."""
        candidates = self._build()[1].get(_text(ident))
        if not candidates:
            return None
        scope = _scope_of(ident)
        best = None
        seen = 0
        for start, rhs, cand_scope in candidates:
            if start >= ident.start_byte:
                continue
            if cand_scope == scope or (cand_scope is None and best is None):
                best = rhs
                seen += 1
        if best is not None and seen > 1 and not _block_contains(best, ident):
            return None  # e.g. reassigned inside an `if` the use is not in: the value depends on the path
        if best is None and scope is not None:  # module-level assignment after the function body
            best = next((rhs for _, rhs, s in reversed(candidates) if s is None), None)
        if best is not None and best.start_byte <= ident.start_byte < best.end_byte:
            return None
        return best

    def sources(self, ident: Node) -> list[Node]:
        """Every expression bound to `ident`'s name in its scope or at module level: plain and
        augmented assignments, `with ... as name`, `for name in ...` (for `contains`, not folding)."""
        self._build()
        bound = self._bindings.get(_text(ident))
        if not bound:
            return []
        scope = _scope_of(ident)
        return [rhs for rhs, s in bound if (s == scope or s is None) and not (rhs.start_byte <= ident.start_byte < rhs.end_byte)]

    # -- names ------------------------------------------------------------------------------
    def callee(self, node: Node) -> str | None:
        """Dotted, alias-resolved name of a call's function (`node` is the call or the function)."""
        cached = self._callee_cache.get(node.id, self)
        if cached is self:
            cached = self._callee_cache[node.id] = self._callee(node)
        return cached  # type: ignore[return-value]

    def _callee(self, node: Node) -> str | None:
        fn: Node | None = node
        if node.type == "call":
            parent = node.parent
            parent_fn = parent.child_by_field_name("function") if parent is not None and parent.type == "call" else None
            if parent_fn is None or parent_fn.id != node.id:  # the call itself, not `getattr(...)(x)`'s callee
                fn = node.child_by_field_name("function")
        if fn is None:
            return None
        name = self._plain_dotted(fn) if fn.type in ("identifier", "attribute") else None
        if name is None:
            name = self.dotted(fn, 0)
        while name and name.endswith(".__call__"):
            name = name[: -len(".__call__")]
        if name and name.startswith(("builtins.", "__builtins__.")):
            name = name.split(".", 1)[1]
        return name

    def _plain_dotted(self, fn: Node) -> str | None:
        """Fast path for `a.b.c` whose head is imported or never assigned in this file (most
        calls): one text slice and a dict lookup instead of walking the attribute chain."""
        text = fn.text
        if not text or not _PLAIN_DOTTED.match(text):
            return None
        name = text.decode("ascii")
        head, dot, rest = name.partition(".")
        imports, assigns = self._build()
        if head in imports:
            return imports[head] + dot + rest
        if head in assigns or head in self._bindings:
            return None  # a local alias may apply: take the slow, position-aware path
        return name

    def dotted(self, node: Node, depth: int) -> str | None:
        if depth > MAX_DEPTH:
            return None
        kind = node.type
        if kind == "identifier":
            name = _text(node)
            if not name.isascii():  # Python folds identifiers with NFKC: 𝚎𝚡𝚎𝚌 is exec
                name = unicodedata.normalize("NFKC", name)
            imports, _ = self._build()
            if name in imports:
                return imports[name]
            if name in self._resolving:
                return name
            rhs = self.definition(node)
            if rhs is None:
                rhs = _with_target_value(node, name)
            if rhs is not None and rhs.type in ("identifier", "attribute", "call", "subscript"):
                self._resolving.add(name)
                try:
                    resolved = self.dotted(rhs, depth + 1)
                finally:
                    self._resolving.discard(name)
                if resolved:
                    return resolved
            return name
        if kind == "attribute":
            obj, attr = node.child_by_field_name("object"), node.child_by_field_name("attribute")
            base = self.dotted(obj, depth + 1) if obj is not None else None
            if base is None and obj is not None and obj.type in _LITERAL_TYPES:
                base = _LITERAL_TYPES[obj.type]
                if obj.type == "string" and _text(obj)[:1] in "bB":
                    base = "bytes"
            return f"{base}.{_text(attr)}" if base and attr is not None else None
        if kind == "parenthesized_expression" and node.named_child_count == 1:
            return self.dotted(node.named_children[0], depth + 1)
        if kind == "call":
            fn = node.child_by_field_name("function")
            if fn is None:
                return None
            fname = self.dotted(fn, depth + 1)
            if fname and fname.startswith(("builtins.", "__builtins__.")) and "." not in fname.split(".", 1)[1]:
                fname = fname.split(".", 1)[1]  # __builtins__.getattr is getattr
            args = self.positional(node)
            if fname in ("getattr", "builtins.getattr") and len(args) >= 2:
                base = self.dotted(args[0], depth + 1)
                attr = self.fold(args[1], depth + 1)
                if base and isinstance(attr, str):
                    return f"{base}.{attr}"
            if fname and fname.endswith(".__getattribute__") and args:
                attr = self.fold(args[0], depth + 1)
                if isinstance(attr, str):
                    return f"{fname[: -len('.__getattribute__')]}.{attr}"
            if fname and fname.endswith(".get") and args and (fname[:-4] in _BUILTIN_MAPS or fname.endswith(".__dict__.get")):
                key = self.fold(args[0], depth + 1)
                if isinstance(key, str):
                    base = fname[:-4]
                    return key if base in _BUILTIN_MAPS else f"{base[: -len('.__dict__')]}.{key}"
            if fname in ("vars", "builtins.vars") and args:
                base = self.dotted(args[0], depth + 1)
                return f"{base}.__dict__" if base else None
            if fname in ("__import__", "importlib.import_module") and args:
                module = self.fold(args[0], depth + 1)
                if isinstance(module, str):
                    return module
            return f"{fname}()" if fname else None
        if kind == "subscript":
            base_node, index = node.child_by_field_name("value"), node.child_by_field_name("subscript")
            base = self.dotted(base_node, depth + 1) if base_node is not None else None
            if base is not None and index is not None and (base in _BUILTIN_MAPS or base.endswith(".__dict__")):
                key = self.fold(index, depth + 1)
                if not isinstance(key, str):
                    return None
                return key if base in _BUILTIN_MAPS else f"{base[: -len('.__dict__')]}.{key}"
            return f"{base}[]" if base else None
        return None

    # -- arguments --------------------------------------------------------------------------
    def positional(self, call: Node) -> list[Node]:
        args = call.child_by_field_name("arguments")
        if args is None:
            return []
        if args.type == "generator_expression":  # f(x for x in y)
            return [args]
        return [a for a in args.named_children if a.type not in ("keyword_argument", "comment")]

    def argument(self, call: Node, name: str | None, position: int | None) -> Node | None:
        """The node passed as keyword `name`, else as positional `position` (0-based)."""
        args = call.child_by_field_name("arguments")
        if args is None:
            return None
        index = 0
        found = None
        for arg in args.named_children:
            if arg.type == "keyword_argument":
                key = arg.child_by_field_name("name")
                if name is not None and key is not None and _text(key) == name:
                    return arg.child_by_field_name("value")
            elif arg.type in ("list_splat", "dictionary_splat", "comment"):
                continue
            else:
                if position is not None and index == position and found is None:
                    found = arg
                index += 1
        return found

    # -- values -----------------------------------------------------------------------------
    def fold(self, node: Node | None, depth: int = 0, env: dict[str, Any] | None = None) -> Any:
        """The constant value of an expression (None: a missing node), or UNKNOWN."""
        if node is None or depth > MAX_DEPTH:
            return UNKNOWN
        if env is None:
            cached = self._fold_cache.get(node.id, self)
            if cached is not self:
                return cached
        try:
            value = self._fold(node, depth, env or {})
        except (ValueError, TypeError, OverflowError, IndexError, KeyError, ZeroDivisionError, SyntaxError,
                MemoryError, UnicodeError, binascii.Error, zlib.error, AttributeError, LookupError):
            value = UNKNOWN
        if isinstance(value, (str, bytes, list, tuple)) and len(value) > MAX_LEN:
            value = UNKNOWN
        if env is None:
            self._fold_cache[node.id] = value
        return value

    def _fold(self, node: Node, depth: int, env: dict[str, Any]) -> Any:
        kind = node.type
        d = depth + 1
        if kind == "string":
            return self._fold_string(node, d, env)
        if kind == "concatenated_string":
            parts = [self.fold(c, d, env) for c in node.named_children]
            if any(p is UNKNOWN for p in parts):
                return UNKNOWN
            return (b"" if parts and isinstance(parts[0], bytes) else "").join(parts)
        if kind in ("integer", "float"):
            return ast.literal_eval(_text(node))
        if kind == "true":
            return True
        if kind == "false":
            return False
        if kind == "none":
            return None
        if kind == "parenthesized_expression":
            return self.fold(node.named_children[0], d, env) if node.named_child_count == 1 else UNKNOWN
        if kind in ("list", "tuple", "set", "expression_list"):
            items = [self.fold(c, d, env) for c in node.named_children if c.type != "comment"]
            if any(i is UNKNOWN for i in items):
                return UNKNOWN
            return tuple(items) if kind != "list" else items
        if kind == "identifier":
            name = _text(node)
            if name in env:
                return env[name]
            rhs = self.definition(node)
            return self.fold(rhs, d, env if env else None) if rhs is not None else UNKNOWN
        if kind == "binary_operator":
            return self._fold_binary(node, d, env)
        if kind == "unary_operator":
            arg = self.fold(node.child_by_field_name("argument"), d, env)
            op = _text(node.child_by_field_name("operator"))
            if arg is UNKNOWN or not isinstance(arg, (int, float)):
                return UNKNOWN
            if op == "~":
                return ~arg if isinstance(arg, int) else UNKNOWN
            return -arg if op == "-" else arg
        if kind == "not_operator":
            arg = self.fold(node.child_by_field_name("argument"), d, env)
            return UNKNOWN if arg is UNKNOWN else not arg
        if kind == "subscript":
            return self._fold_subscript(node, d, env)
        if kind == "call":
            return self._fold_call(node, d, env)
        if kind in ("list_comprehension", "generator_expression"):
            return self._fold_comprehension(node, d, env)
        if kind == "attribute":
            return _CONSTANTS.get(self.dotted(node, d) or "", UNKNOWN)
        return UNKNOWN

    def _fold_string(self, node: Node, depth: int, env: dict[str, Any]) -> Any:
        children = node.named_children
        if not any(c.type == "interpolation" for c in children):
            return ast.literal_eval(_text(node))
        prefix = _text(children[0]).lower() if children else ""
        raw = "r" in prefix
        parts: list[str] = []
        for child in children:
            if child.type == "string_content":
                text = _text(child)
                parts.append(text if raw else codecs.decode(text, "unicode_escape"))
            elif child.type == "interpolation":
                expr = child.named_children[0] if child.named_child_count else None
                if expr is None:
                    return UNKNOWN
                value = self.fold(expr, depth, env)
                if value is UNKNOWN:
                    return UNKNOWN
                parts.append(str(value))
        return "".join(parts)

    def _fold_binary(self, node: Node, depth: int, env: dict[str, Any]) -> Any:
        op_node = node.child_by_field_name("operator")
        op = _text(op_node) if op_node is not None else ""
        left = self.fold(node.child_by_field_name("left"), depth, env)
        if left is UNKNOWN:
            return UNKNOWN
        right = self.fold(node.child_by_field_name("right"), depth, env)
        if right is UNKNOWN:
            return UNKNOWN
        if op == "+":
            return left + right
        if op == "*":
            size = len(left) if isinstance(left, (str, bytes, list)) else len(right) if isinstance(right, (str, bytes, list)) else 0
            count = right if isinstance(right, int) else left if isinstance(left, int) else 0
            if size * max(count, 0) > MAX_LEN:
                return UNKNOWN
            return left * right
        if op == "%" and isinstance(left, (str, bytes)):
            return left % (tuple(right) if isinstance(right, list) else right)
        if isinstance(left, int) and isinstance(right, int):
            ops: dict[str, Callable[[int, int], int]] = {
                "-": lambda a, b: a - b, "^": lambda a, b: a ^ b, "&": lambda a, b: a & b,
                "|": lambda a, b: a | b, "//": lambda a, b: a // b,
            }
            if op in ops:
                return ops[op](left, right)
        return UNKNOWN

    def _fold_subscript(self, node: Node, depth: int, env: dict[str, Any]) -> Any:
        value = self.fold(node.child_by_field_name("value"), depth, env)
        index = node.child_by_field_name("subscript")
        if value is UNKNOWN or index is None:
            return UNKNOWN
        if index.type == "slice":
            bounds: list[Any] = [None, None, None]
            slot = 0
            for child in index.children:
                if child.type == ":":
                    slot += 1
                elif slot < 3:
                    bounds[slot] = self.fold(child, depth, env)
            if any(b is UNKNOWN for b in bounds):
                return UNKNOWN
            return value[slice(*bounds)]
        key = self.fold(index, depth, env)
        return UNKNOWN if key is UNKNOWN else value[key]

    def _fold_comprehension(self, node: Node, depth: int, env: dict[str, Any]) -> Any:
        body = node.child_by_field_name("body")
        clauses = [c for c in node.named_children if body is None or c.id != body.id]
        if body is None or len(clauses) != 1 or clauses[0].type != "for_in_clause":
            return UNKNOWN
        left, right = clauses[0].child_by_field_name("left"), clauses[0].child_by_field_name("right")
        if left is None or right is None or left.type != "identifier":
            return UNKNOWN
        items = self.fold(right, depth, env)
        if items is UNKNOWN or len(items) > MAX_ITEMS:
            return UNKNOWN
        name = _text(left)
        out = []
        for item in items:
            value = self.fold(body, depth, {**env, name: item})
            if value is UNKNOWN:
                return UNKNOWN
            out.append(value)
        return out

    def _fold_call(self, node: Node, depth: int, env: dict[str, Any]) -> Any:
        fn = node.child_by_field_name("function")
        if fn is None:
            return UNKNOWN
        args = [self.fold(a, depth, env) for a in self.positional(node)]
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        if fn.type == "attribute":  # methods on a folded receiver: "".join, b.decode, s[::-1].replace ...
            receiver_node = fn.child_by_field_name("object")
            method = _text(fn.child_by_field_name("attribute"))
            if method in _STR_METHODS and receiver_node is not None and self._is_value_name(receiver_node):
                receiver = self.fold(receiver_node, depth, env)
                if isinstance(receiver, (str, bytes)):
                    if method == "join":
                        return receiver.join(args[0])
                    return getattr(receiver, method)(*args)
        name = self.callee(fn)
        decoder = _DECODERS.get(name or "")
        return decoder(*args) if decoder is not None else UNKNOWN

    def _is_value_name(self, node: Node) -> bool:
        """False for a bare imported name (a module such as `base64`), True otherwise."""
        return node.type != "identifier" or _text(node) not in self._build()[0]


def _zlib(data: bytes, *rest: Any) -> bytes:
    out = zlib.decompressobj(*rest).decompress(data, MAX_LEN)
    return out


def _codecs_decode(data: Any, encoding: str = "utf-8", *_: Any) -> Any:
    enc = encoding.lower().replace("-", "_")
    if enc in ("rot13", "rot_13"):
        return codecs.decode(data, "rot13")
    if enc in ("hex", "hex_codec"):
        return binascii.unhexlify(data)
    if enc in ("base64", "base64_codec", "base_64"):
        return base64.b64decode(data)
    if enc in ("zlib", "zlib_codec", "zip"):
        return _zlib(data)
    return codecs.decode(data, encoding)


def _bytes(value: Any = b"", encoding: str | None = None, *_: Any) -> bytes:
    if isinstance(value, str):
        return value.encode(encoding or "utf-8")
    return bytes(value)


_STR_METHODS = frozenset({"join", "decode", "encode", "replace", "lower", "upper", "strip", "format", "swapcase", "casefold"})

_DECODERS: dict[str, Callable[..., Any]] = {
    "chr": chr,
    "ord": ord,
    "str": str,
    "bytes": _bytes,
    "bytearray": lambda *a: bytearray(_bytes(*a)),
    "list": list,
    "tuple": tuple,
    "reversed": lambda x: list(reversed(x)),
    "bytes.fromhex": bytes.fromhex,
    "binascii.unhexlify": binascii.unhexlify,
    "binascii.a2b_hex": binascii.a2b_hex,
    "binascii.a2b_base64": binascii.a2b_base64,
    "base64.b64decode": base64.b64decode,
    "base64.standard_b64decode": base64.standard_b64decode,
    "base64.urlsafe_b64decode": base64.urlsafe_b64decode,
    "base64.decodebytes": base64.decodebytes,
    "base64.b32decode": base64.b32decode,
    "base64.b16decode": base64.b16decode,
    "base64.b85decode": base64.b85decode,
    "base64.a85decode": base64.a85decode,
    "codecs.decode": _codecs_decode,
    "zlib.decompress": _zlib,
}


# Module constants worth folding (permission bits for chmod rules).
_CONSTANTS: dict[str, Any] = {f"stat.{name}": getattr(stat, name) for name in dir(stat) if name.startswith("S_I")}
