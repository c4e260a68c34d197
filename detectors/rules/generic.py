"""Text-based name and value resolution for languages without a dataflow layer (JS/TS, Go, Bash).

`callee` is the call's function text with whitespace removed (`child_process.exec`,
`exec.Command`, `curl`); `fold` understands string literals and `+` concatenation of them;
`argument` reads positional arguments and, for JS, `{name: value}` object-literal options.
"""

from __future__ import annotations

from typing import Any

from tree_sitter import Node

from detectors.rules.python_dataflow import MAX_DEPTH, MAX_LEN, UNKNOWN

# call node type -> field holding the function
CALL_FUNCTION_FIELDS = {
    "call_expression": "function",  # javascript, typescript, go
    "new_expression": "constructor",  # javascript
    "command": "name",  # bash
}
_STRING_TYPES = frozenset({"string", "template_string", "interpreted_string_literal", "raw_string_literal", "raw_string", "string_literal"})
_INTERPOLATIONS = frozenset({"template_substitution", "expansion", "simple_expansion", "command_substitution", "arithmetic_expansion"})
_ARG_CONTAINERS = frozenset({"arguments", "argument_list"})


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", errors="replace")


class GenericFile:
    """Resolution over one parsed file of a language without a dataflow layer."""

    def __init__(self, root: Node, language: str):
        self.root = root
        self.language = language

    def callee(self, node: Node) -> str | None:
        field = CALL_FUNCTION_FIELDS.get(node.type)
        fn = node.child_by_field_name(field) if field else node
        return self.dotted(fn, 0) if fn is not None else None

    def dotted(self, node: Node, depth: int) -> str | None:
        text = "".join(_text(node).split())
        return text[:300] or None

    def definition(self, ident: Node) -> Node | None:
        return None

    def sources(self, ident: Node) -> list[Node]:
        return []

    def positional(self, call: Node) -> list[Node]:
        if call.type == "command":
            return [c for c in call.children_by_field_name("argument")]
        args = call.child_by_field_name("arguments")
        if args is None:
            return []
        return [a for a in args.named_children if a.type != "comment"]

    def argument(self, call: Node, name: str | None, position: int | None) -> Node | None:
        args = self.positional(call)
        if name is not None:
            for arg in args:
                if arg.type == "object":
                    for pair in arg.named_children:
                        key = pair.child_by_field_name("key")
                        if pair.type == "pair" and key is not None and _text(key).strip("'\"") == name:
                            return pair.child_by_field_name("value")
        if position is not None and 0 <= position < len(args):
            return args[position]
        return None

    def fold(self, node: Node, depth: int = 0, env: dict[str, Any] | None = None) -> Any:
        if depth > MAX_DEPTH:
            return UNKNOWN
        kind = node.type
        if kind in _STRING_TYPES:
            if any(c.type in _INTERPOLATIONS for c in node.children):
                return UNKNOWN
            text = _text(node)
            if kind == "raw_string_literal" or kind == "raw_string" or len(text) < 2:
                return text[1:-1] if len(text) >= 2 else text
            return text[1:-1].replace("\\\\", "\0").replace('\\"', '"').replace("\\'", "'").replace("\0", "\\")
        if kind in ("word", "number", "number_literal", "int_literal"):
            return _text(node)
        if kind in ("true", "false"):
            return kind == "true"
        if kind in ("null", "undefined", "nil"):
            return None
        if kind == "parenthesized_expression" and node.named_child_count == 1:
            return self.fold(node.named_children[0], depth + 1)
        if kind == "binary_expression":
            op = node.child_by_field_name("operator")
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if op is None or _text(op) != "+" or left is None or right is None:
                return UNKNOWN
            a, b = self.fold(left, depth + 1), self.fold(right, depth + 1)
            if isinstance(a, str) and isinstance(b, str) and len(a) + len(b) <= MAX_LEN:
                return a + b
            return UNKNOWN
        if kind == "concatenation":  # bash: "a"'b'c
            parts = [self.fold(c, depth + 1) for c in node.named_children]
            if all(isinstance(p, str) for p in parts):
                return "".join(parts)
        return UNKNOWN
