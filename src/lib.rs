//! authql: a GraphQL authentication API.
//!
//! A request travels through the crate like this:
//!
//! 1. [`http`] receives it on `/graphql`, negotiates the media type, refuses
//!    what the GraphQL-over-HTTP spec refuses (mutations over GET, non-JSON
//!    bodies, oversized bodies), and collects the bearer token and refresh
//!    cookie into a [`graphql::RequestContext`].
//! 2. [`graphql`] parses, validates (depth and complexity limits) and runs
//!    the operation; guards check the access token on `me` and `logoutAll`.
//! 3. Resolvers call [`auth::AuthService`], which holds the flows: password
//!    policy and bcrypt (off the async executor), JWTs, refresh rotation.
//! 4. The flows speak to storage only through [`db::Store`], one atomic step
//!    per call; [`db::sqlite`] implements it on an embedded SQLite file (the
//!    default) and [`db::pg`] on PostgreSQL (for several instances).
//!
//! Failures become [`error::AppError`], whose variants are the contract's
//! error codes; internal details go to the log in a safe form, never to
//! the client. [`config`] reads every setting once; [`app`] ties it together;
//! [`housekeeping`] purges expired rows in the background.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod housekeeping;
pub mod http;
pub mod mail;
