//! The scalars, enums, payloads and inputs of the schema. (`User` and
//! `Session`, whose fields resolve, are in `user`.)

use async_graphql::{
    Enum, InputObject, InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value,
};
use chrono::{SecondsFormat, Utc};

use super::user::UserObject;
use crate::auth::SignedIn;

/// An RFC 3339 timestamp, UTC.
pub struct DateTime(pub chrono::DateTime<Utc>);

/// An RFC 3339 timestamp, UTC.
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| DateTime(t.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom("expected an RFC 3339 timestamp")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

/// What an account may do.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Role", remote = "crate::domain::Role")]
pub enum Role {
    /// Every account registered through the API.
    User,
    /// Granted by an operator.
    Admin,
}

/// A signed-in session: an access token and (in the body, or as a cookie)
/// a single-use refresh token.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// A JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Null when the server delivers the refresh token as an httpOnly cookie instead (REFRESH_TOKEN_COOKIE=on).
    pub refresh_token: Option<String>,
    /// Always "Bearer".
    pub token_type: String,
    /// Seconds until accessToken expires.
    pub expires_in: i32,
    /// The signed-in account.
    pub user: UserObject,
}

impl AuthPayload {
    /// The payload for a sign-in; `refresh_in_body` is false in cookie mode.
    pub fn new(signed_in: SignedIn, refresh_in_body: bool) -> Self {
        Self {
            access_token: signed_in.access_token,
            refresh_token: refresh_in_body.then_some(signed_in.refresh_token),
            token_type: "Bearer".to_owned(),
            expires_in: i32::try_from(signed_in.expires_in).unwrap_or(i32::MAX),
            user: UserObject::seen_by_itself(signed_in.user, signed_in.session_id),
        }
    }
}

/// Input of `register`.
#[derive(InputObject)]
pub struct RegisterInput {
    /// Trimmed and lowercased; at most 254 characters; `local@domain.tld`.
    pub email: String,
    /// 8 to 72 bytes of UTF-8.
    pub password: String,
}

/// Input of `login`.
#[derive(InputObject)]
pub struct LoginInput {
    /// The account's email (any case, surrounding spaces ignored).
    pub email: String,
    /// The account's password.
    pub password: String,
}

/// Input of `changePassword`.
#[derive(InputObject)]
pub struct ChangePasswordInput {
    /// The account's password now.
    pub current_password: String,
    /// 8 to 72 bytes of UTF-8, without NUL bytes.
    pub new_password: String,
}

/// Input of `resetPassword`.
#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The token of the reset link (`#token=...`).
    pub token: String,
    /// 8 to 72 bytes of UTF-8, without NUL bytes.
    pub new_password: String,
}

/// Input of `requestEmailChange`.
#[derive(InputObject)]
pub struct EmailChangeInput {
    /// The address to move to (trimmed and lowercased).
    pub new_email: String,
    /// The account's password.
    pub password: String,
}
