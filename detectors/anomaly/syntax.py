"""Per-language syntax tables the feature walk needs: which nodes are scoring units, calls,
strings, numbers and imports. Adding a language is one `UnitSyntax` entry in `SYNTAX`.

The feature vector's node-type block is language specific (`node_types`), so a baseline fitted
on one language only scores units of that language.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from tree_sitter import Node

from detectors.anomaly.imports import javascript_imports, python_imports


@dataclasses.dataclass(frozen=True)
class UnitSyntax:
    language: str
    function_types: frozenset[str]  # each one is a scoring unit (innermost wins)
    definition_types: frozenset[str]  # top-level/class-level siblings that end a statement block
    top_level_parents: frozenset[str]  # node types whose statement children form block units
    class_body_parents: frozenset[tuple[str, str]]  # (parent, grandparent): class bodies
    call_type: str
    call_function_field: str
    string_types: frozenset[str]
    integer_types: frozenset[str]
    float_types: frozenset[str]
    identifier_types: frozenset[str]
    comment_types: frozenset[str]
    block_types: frozenset[str]  # statement blocks, for nesting depth
    list_types: frozenset[str]  # literal collections, for byte-array-like literals
    node_types: tuple[str, ...]  # node types whose share of the unit's nodes is a feature
    import_types: frozenset[str]
    swallow_types: frozenset[str]  # exception handlers (their do-nothing bodies are counted)
    member_types: frozenset[str]  # a.b member access (reads such as os.environ count as capabilities)
    member_field: str  # the member node's field holding the accessed name
    class_types: frozenset[str]  # classes: not units, but they qualify their methods' names
    read_imports: Callable[[Node, dict[str, str], set[str] | None], None]
    construct_types: frozenset[str] = frozenset()  # `new X(...)`: counted as a call of X
    docstring_types: frozenset[str] = frozenset()


PYTHON = UnitSyntax(
    language="python",
    function_types=frozenset({"function_definition"}),
    definition_types=frozenset({"function_definition", "class_definition", "decorated_definition"}),
    top_level_parents=frozenset({"module"}),
    class_body_parents=frozenset({("block", "class_definition")}),
    call_type="call",
    call_function_field="function",
    string_types=frozenset({"string"}),
    integer_types=frozenset({"integer"}),
    float_types=frozenset({"float"}),
    identifier_types=frozenset({"identifier"}),
    comment_types=frozenset({"comment"}),
    block_types=frozenset({"block"}),
    list_types=frozenset({"list", "tuple", "set"}),
    docstring_types=frozenset({"expression_statement"}),
    import_types=frozenset({"import_statement", "import_from_statement"}),
    swallow_types=frozenset({"except_clause"}),
    member_types=frozenset({"attribute"}),
    member_field="attribute",
    class_types=frozenset({"class_definition"}),
    read_imports=python_imports,
    node_types=(
        "call", "attribute", "identifier", "string", "integer", "float", "keyword_argument",
        "assignment", "augmented_assignment", "binary_operator", "boolean_operator", "comparison_operator",
        "not_operator", "unary_operator", "subscript", "slice", "if_statement", "for_statement",
        "while_statement", "try_statement", "except_clause", "with_statement", "return_statement",
        "raise_statement", "yield", "await", "lambda", "list_comprehension", "generator_expression",
        "dictionary", "list", "tuple", "conditional_expression", "import_statement",
        "import_from_statement", "global_statement", "nonlocal_statement", "assert_statement",
        "pass_statement", "break_statement", "continue_statement", "delete_statement",
        "interpolation", "escape_sequence", "comment", "true", "false", "none",
        "^", "<<", ">>", "%", "+", "*", "|", "&", "~",
    ),
)

JAVASCRIPT = UnitSyntax(
    language="javascript",
    function_types=frozenset({"function_declaration", "function_expression", "function", "arrow_function",
                              "method_definition", "generator_function_declaration", "generator_function"}),
    definition_types=frozenset({"function_declaration", "generator_function_declaration", "class_declaration",
                                "method_definition"}),
    top_level_parents=frozenset({"program"}),
    class_body_parents=frozenset({("class_body", "class_declaration"), ("class_body", "class")}),
    call_type="call_expression",
    call_function_field="function",
    string_types=frozenset({"string", "template_string"}),
    integer_types=frozenset({"number"}),
    float_types=frozenset(),
    identifier_types=frozenset({"identifier", "property_identifier", "shorthand_property_identifier"}),
    comment_types=frozenset({"comment"}),
    block_types=frozenset({"statement_block"}),
    list_types=frozenset({"array"}),
    import_types=frozenset({"import_statement", "variable_declarator"}),
    swallow_types=frozenset({"catch_clause"}),
    member_types=frozenset({"member_expression"}),
    member_field="property",
    class_types=frozenset({"class_declaration", "class"}),
    read_imports=javascript_imports,
    construct_types=frozenset({"new_expression"}),
    node_types=(
        "call_expression", "member_expression", "subscript_expression", "identifier", "property_identifier",
        "string", "template_string", "template_substitution", "number", "regex", "assignment_expression",
        "augmented_assignment_expression", "binary_expression", "unary_expression", "update_expression",
        "ternary_expression", "if_statement", "for_statement", "for_in_statement", "while_statement",
        "do_statement", "try_statement", "catch_clause", "switch_statement", "return_statement",
        "throw_statement", "arrow_function", "function_expression", "await_expression", "yield_expression",
        "new_expression", "object", "array", "pair", "spread_element", "lexical_declaration",
        "variable_declaration", "import_statement", "export_statement", "escape_sequence", "comment", "true",
        "false", "null", "undefined", "this", "sequence_expression", "parenthesized_expression",
        "^", "<<", ">>", ">>>", "%", "+", "*", "|", "&", "~", "!",
    ),
)

SYNTAX: dict[str, UnitSyntax] = {
    PYTHON.language: PYTHON,
    JAVASCRIPT.language: JAVASCRIPT,
    # TypeScript's grammars extend JavaScript's: the same tables apply (type nodes are simply not counted).
    "typescript": dataclasses.replace(JAVASCRIPT, language="typescript"),
    "tsx": dataclasses.replace(JAVASCRIPT, language="tsx"),
}
