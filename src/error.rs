//! The one error type every client-facing failure goes through.
//!
//! Each [`AppError`] variant is one `extensions.code` of the API contract. The
//! type deliberately has no `Display` impl: async-graphql converts any
//! `Display` type into an error carrying its text, so a stray `?` on a driver
//! error would send SQL or connection details to the client. Without
//! `Display`, the only way into a GraphQL error is our `From` impl below, which
//! always sets the code and never sends internal text.

use async_graphql::ErrorExtensionValues;

/// A failure as the client sees it: a contract error code plus a safe message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    /// Input failed validation; `field` names the offending input field.
    BadUserInput {
        /// `email` or `password`.
        field: &'static str,
        /// A human-readable reason that never echoes the input.
        message: &'static str,
    },
    /// `register` with an email that already has an account.
    EmailTaken,
    /// `login` with any pair that matches no account.
    InvalidCredentials,
    /// A guarded field got no usable access token.
    Unauthenticated,
    /// The token is valid but its role may not do this.
    Forbidden,
    /// A refresh token that is malformed, expired, revoked, used or foreign.
    InvalidRefreshToken,
    /// A password-reset, email-verification or email-change token that is
    /// malformed, expired, used, superseded or never issued: one answer for
    /// all, so a guesser learns nothing about which.
    InvalidToken,
    /// The feature this field needs is switched off on this server (mail).
    FeatureDisabled,
    /// `EMAIL_VERIFICATION=required`: the account's address is not verified
    /// yet, so no session starts.
    EmailNotVerified,
    /// `login` of a disabled account, after the password matched.
    AccountDisabled,
    /// An administration field given an id that names no account.
    NotFound,
    /// Too many attempts; retry after this many whole seconds.
    RateLimited {
        /// Whole seconds until the next attempt may succeed.
        retry_after: u64,
    },
    /// Anything unexpected. The text is a safe description for the server log
    /// (never driver text, SQL, hashes or tokens); the client sees none of it.
    Internal(String),
}

impl AppError {
    /// Builds an internal error from a description that is safe to log.
    pub fn internal(description: impl Into<String>) -> Self {
        Self::Internal(description.into())
    }

    /// The contract's `extensions.code` for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUserInput { .. } => "BAD_USER_INPUT",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::InvalidRefreshToken => "INVALID_REFRESH_TOKEN",
            Self::InvalidToken => "INVALID_TOKEN",
            Self::FeatureDisabled => "FEATURE_DISABLED",
            Self::EmailNotVerified => "EMAIL_NOT_VERIFIED",
            Self::AccountDisabled => "ACCOUNT_DISABLED",
            Self::NotFound => "NOT_FOUND",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The message the client sees.
    pub fn message(&self) -> &'static str {
        match self {
            Self::BadUserInput { message, .. } => message,
            Self::EmailTaken => "an account with this email already exists",
            Self::InvalidCredentials => "invalid email or password",
            Self::Unauthenticated => "a valid access token is required",
            Self::Forbidden => "not allowed for this account",
            Self::InvalidRefreshToken => "invalid refresh token",
            Self::InvalidToken => "this link is invalid or has expired",
            Self::FeatureDisabled => "this feature is not enabled on this server",
            Self::EmailNotVerified => "confirm your email address first: see the link we sent",
            Self::AccountDisabled => "this account has been disabled",
            Self::NotFound => "no account has this id",
            Self::RateLimited { .. } => "too many attempts, try again later",
            Self::Internal(_) => "internal server error",
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(error: AppError) -> Self {
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", error.code());
        match &error {
            AppError::BadUserInput { field, .. } => extensions.set("field", *field),
            AppError::RateLimited { retry_after } => extensions.set("retryAfter", *retry_after),
            // Logged here, once, where it leaves the server; the description is
            // built from safe parts only (see `db::StoreError`).
            AppError::Internal(description) => {
                tracing::error!(error = %description, "internal error")
            }
            _ => {}
        }
        async_graphql::Error {
            message: error.message().to_owned(),
            source: None,
            extensions: Some(extensions),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_reveal_nothing_to_the_client() {
        let error: async_graphql::Error =
            AppError::internal("relation \"users\" does not exist").into();
        assert_eq!(error.message, "internal server error");
        let extensions = error.extensions.expect("extensions");
        assert_eq!(
            extensions.get("code"),
            Some(&async_graphql::Value::from("INTERNAL_SERVER_ERROR"))
        );
    }

    #[test]
    fn bad_user_input_names_the_field() {
        let error: async_graphql::Error = AppError::BadUserInput {
            field: "password",
            message: "too short",
        }
        .into();
        let extensions = error.extensions.expect("extensions");
        assert_eq!(
            extensions.get("field"),
            Some(&async_graphql::Value::from("password"))
        );
        assert_eq!(
            extensions.get("code"),
            Some(&async_graphql::Value::from("BAD_USER_INPUT"))
        );
    }

    #[test]
    fn rate_limited_carries_whole_seconds() {
        let error: async_graphql::Error = AppError::RateLimited { retry_after: 42 }.into();
        let extensions = error.extensions.expect("extensions");
        assert_eq!(
            extensions.get("retryAfter"),
            Some(&async_graphql::Value::from(42u64))
        );
    }
}
