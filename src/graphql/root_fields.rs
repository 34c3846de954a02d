//! Checks on the root fields of the operation a request selects, run right
//! after parsing (fragments and inline fragments at the root included).
//!
//! - Introspection when `GRAPHQL_INTROSPECTION` is off: async-graphql would
//!   answer `__schema` with `null` and no error, which breaks the schema
//!   (`__schema` is non-null) and leaves clients guessing.
//! - More than one field that checks a password, a code or a token in one
//!   operation: aliases would otherwise pack hundreds of password guesses, and
//!   bcrypt runs, into a single request. Only the selected operation counts,
//!   so a GraphiQL tab holding both a Login and a Register operation works.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};

/// The operation a request will run, chosen exactly as async-graphql's
/// executor chooses it: with `operationName`, the named operation (an
/// anonymous one has no name, so none); without, the only operation,
/// anonymous or named. `None` when the executor will refuse the request
/// ("unknown operation", "operation name required"), so nothing runs.
///
/// Every rule about "the operation a request runs" goes through here; a
/// rule that picked differently from the executor could be dodged by
/// spelling the document another way (a single named operation once was).
pub fn select_operation<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), None) => Some(&op.node),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Root fields that check a password, a code or a token (the contract's
/// list, including fields later versions add): one per operation, so one
/// request cannot carry many guesses or many bcrypt runs.
const GUESS_FIELDS: [&str; 12] = [
    "register",
    "login",
    "refreshToken",
    "resetPassword",
    "verifyMfa",
    "changePassword",
    "requestEmailChange",
    "deleteAccount",
    "enrollTotp",
    "confirmTotp",
    "disableTotp",
    "regenerateRecoveryCodes",
];

/// True when the operation's root selection asks for `__schema` or `__type`.
/// `__typename` is not introspection of the schema.
pub fn asks_for_schema(document: &ExecutableDocument, operation: &OperationDefinition) -> bool {
    count_root_fields(
        document,
        &operation.selection_set.node,
        &["__schema", "__type"],
        0,
    ) > 0
}

/// How many fields that check a password, a code or a token the
/// operation's root selection holds (aliases and fragments included).
pub fn guess_fields(document: &ExecutableDocument, operation: &OperationDefinition) -> usize {
    count_root_fields(document, &operation.selection_set.node, &GUESS_FIELDS, 0)
}

fn count_root_fields(
    document: &ExecutableDocument,
    set: &SelectionSet,
    names: &[&str],
    depth: usize,
) -> usize {
    // Fragment cycles are invalid (validation reports them); stop anyway.
    if depth > 32 {
        return 0;
    }
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => usize::from(names.contains(&field.node.name.node.as_str())),
            Selection::InlineFragment(fragment) => count_root_fields(
                document,
                &fragment.node.selection_set.node,
                names,
                depth + 1,
            ),
            Selection::FragmentSpread(spread) => document
                .fragments
                .get(&spread.node.fragment_name.node)
                .map_or(0, |f| {
                    count_root_fields(document, &f.node.selection_set.node, names, depth + 1)
                }),
        })
        .sum()
}
