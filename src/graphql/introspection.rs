//! Refusing introspection when `GRAPHQL_INTROSPECTION` is off.
//!
//! With introspection disabled, async-graphql answers `__schema` with `null`
//! and no error, which breaks the schema (`__schema` is non-null) and leaves
//! clients guessing. Refusing the document as invalid says what happened.

use async_graphql::parser::types::{
    ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};

/// True when the operation's root selection (fragments included) asks for
/// `__schema` or `__type`. `__typename` is not introspection of the schema.
pub fn asks_for_schema(document: &ExecutableDocument, operation: &OperationDefinition) -> bool {
    selects_schema(document, &operation.selection_set.node, 0)
}

fn selects_schema(document: &ExecutableDocument, set: &SelectionSet, depth: usize) -> bool {
    // Fragment cycles are invalid (validation reports them); stop anyway.
    if depth > 32 {
        return false;
    }
    set.items.iter().any(|item| match &item.node {
        Selection::Field(field) => matches!(field.node.name.node.as_str(), "__schema" | "__type"),
        Selection::InlineFragment(fragment) => {
            selects_schema(document, &fragment.node.selection_set.node, depth + 1)
        }
        Selection::FragmentSpread(spread) => document
            .fragments
            .get(&spread.node.fragment_name.node)
            .is_some_and(|f| selects_schema(document, &f.node.selection_set.node, depth + 1)),
    })
}
