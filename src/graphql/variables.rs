//! Variable values checked before execution.
//!
//! async-graphql validates most variable values during validation, but a
//! required variable that was not provided, or an input object given a
//! scalar, only fails when the field runs: a field error with `data: null`.
//! The GraphQL-over-HTTP spec calls both request errors (nothing may run),
//! so the selected operation's variables are checked here, right after
//! parsing, against the schema's registry.

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationDefinition, Type,
};
use async_graphql::registry::{MetaType, Registry};
use async_graphql::{Name, ServerError, Value, Variables};

/// Checks the variables of the operation `operation_name` selects. An
/// operation that cannot be selected is left to async-graphql to report.
pub fn check(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    registry: &Registry,
) -> Result<(), ServerError> {
    let Some(operation) = select_operation(document, operation_name) else {
        return Ok(());
    };
    for definition in &operation.variable_definitions {
        let name = &definition.node.name.node;
        let ty = &definition.node.var_type.node;
        let pos = definition.pos;
        match variables.get(&Name::new(name.as_str())) {
            None | Some(Value::Null) if !ty.nullable && definition.node.default_value.is_none() => {
                return Err(ServerError::new(
                    format!("Variable \"${name}\" of required type \"{ty}\" was not provided."),
                    Some(pos),
                ));
            }
            Some(value) if !fits(value, ty, registry) => {
                return Err(ServerError::new(
                    format!("Variable \"${name}\" got a value that is not a \"{ty}\"."),
                    Some(pos),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The operation a request selects: the only one, or the one named.
pub fn select_operation<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// A structural check: nulls where allowed, lists, and objects for input
/// objects. Scalar and enum values are left to async-graphql's validation.
fn fits(value: &Value, ty: &Type, registry: &Registry) -> bool {
    match (value, &ty.base) {
        (Value::Null, _) => ty.nullable,
        // Input coercion accepts a single item where a list is expected.
        (Value::List(items), BaseType::List(item)) => items.iter().all(|v| fits(v, item, registry)),
        (_, BaseType::List(item)) => fits(value, item, registry),
        (value, BaseType::Named(name)) => match registry.types.get(name.as_str()) {
            Some(MetaType::InputObject { .. }) => matches!(value, Value::Object(_)),
            _ => true,
        },
    }
}
