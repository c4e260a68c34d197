"""Per-language syntax tables the feature walk needs: which nodes are scoring units, calls,
strings, numbers and imports. Adding a language is one `UnitSyntax` entry in `SYNTAX`.

The feature vector's node-type block is language specific (`node_types`), so a baseline fitted
on one language only scores units of that language.
"""

from __future__ import annotations

import dataclasses


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

SYNTAX: dict[str, UnitSyntax] = {PYTHON.language: PYTHON}
