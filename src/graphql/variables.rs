//! Variable values checked before execution.
//!
//! async-graphql validates most variable values during validation, but a
//! required variable that was not provided, or an input object given a
//! scalar, only fails when the field runs: a field error with `data: null`.
//! The GraphQL-over-HTTP spec calls both request errors (nothing may run),
//! so the selected operation's variables are checked here, right after
//! parsing, against the schema's registry.

use async_graphql::parser::types::{BaseType, OperationDefinition, Type};
use async_graphql::registry::{MetaType, Registry};
use async_graphql::{Name, ServerError, Value, Variables};

/// Checks the variables `operation` declares against the values sent.
pub fn check(
    operation: &OperationDefinition,
    variables: &Variables,
    registry: &Registry,
) -> Result<(), ServerError> {
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
