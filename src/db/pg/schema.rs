// @generated automatically by Diesel CLI.

diesel::table! {
    login_attempts (email_hash) {
        email_hash -> Bytea,
        attempts -> Int4,
        window_ends_at -> Timestamptz,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Bytea,
        session_id -> Uuid,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
        end_reason -> Nullable<Text>,
        last_active_at -> Nullable<Timestamptz>,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        created_at -> Timestamptz,
        email_verified -> Bool,
        last_login_at -> Nullable<Timestamptz>,
        disabled -> Bool,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Uuid,
        #[sql_name = "type"]
        kind -> Text,
        at -> Timestamptz,
        user_id -> Nullable<Uuid>,
        actor_id -> Nullable<Uuid>,
        session_id -> Nullable<Uuid>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        reason -> Nullable<Text>,
        request_id -> Nullable<Text>,
    }
}

diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_events,
    login_attempts,
    refresh_tokens,
    sessions,
    users,
);
