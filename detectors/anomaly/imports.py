"""Per-language import readers: alias -> dotted module name for the file, module roots for the unit.

Each reader gets an import-ish node (the language's `UnitSyntax.import_types`), the file's alias
map to fill and the current unit's module set (None at top level outside any unit).
"""

from __future__ import annotations

from tree_sitter import Node


def _text(node: Node | None) -> str:
    return (node.text or b"").decode("utf-8", "replace") if node is not None else ""


def _root(module: str) -> str:
    return module.lstrip("./").split(".", 1)[0].split("/", 1)[0]


def python_imports(node: Node, imports: dict[str, str], modules: set[str] | None) -> None:
    """`import a.b as c` -> c: a.b; `from a import b as c` -> c: a.b."""
    module = _text(node.child_by_field_name("module_name")) if node.type == "import_from_statement" else ""
    for child in node.children_by_field_name("name"):
        if child.type == "aliased_import":
            target, alias = _text(child.child_by_field_name("name")), _text(child.child_by_field_name("alias"))
        else:
            target = _text(child)
            alias = target if module else target.split(".", 1)[0]
            target = target if module else alias
        full = f"{module}.{target}" if module else target
        imports[alias] = full
        if modules is not None:
            modules.add(_root(full))
    if module and modules is not None:
        modules.add(_root(module))


def javascript_imports(node: Node, imports: dict[str, str], modules: set[str] | None) -> None:
    """`import x, {a as b} from "m"`, `import * as ns from "m"`, `const x = require("m")`,
    `const {a} = require("m")` -> aliases onto the module name (a: m.a)."""
    if node.type == "import_statement":
        source = node.child_by_field_name("source")
        clause = next((c for c in node.named_children if c.type == "import_clause"), None)
    else:  # variable_declarator: only `= require("m")`
        value = node.child_by_field_name("value")
        if value is None or value.type != "call_expression" or _text(value.child_by_field_name("function")) != "require":
            return
        args = value.child_by_field_name("arguments")
        source = args.named_children[0] if args is not None and args.named_children else None
        clause = node.child_by_field_name("name")
    if source is None or source.type != "string":
        return
    module = _text(source).strip("'\"`")
    if modules is not None:
        modules.add(_root(module))
    stack = [clause] if clause is not None else []
    while stack:
        item = stack.pop()
        if item.type == "identifier":
            imports[_text(item)] = module
        elif item.type in ("import_specifier",):
            name, alias = item.child_by_field_name("name"), item.child_by_field_name("alias")
            imports[_text(alias or name)] = f"{module}.{_text(name)}"
        elif item.type in ("shorthand_property_identifier_pattern",):
            imports[_text(item)] = f"{module}.{_text(item)}"
        else:
            stack.extend(item.named_children)
