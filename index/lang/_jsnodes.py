"""Node types of the TypeScript/JavaScript tree-sitter grammars that several extractor parts test."""

FUNC_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})
CLASS_VALUES = frozenset({"class"})
# expressions that wrap a value without changing what it is: `await x`, `x as T`, `x!`, `(x)`
WRAPPERS = frozenset({"await_expression", "as_expression", "satisfies_expression", "non_null_expression",
                      "parenthesized_expression", "type_assertion"})
