DROP TABLE email_requests;
DROP TABLE outbox;
DROP TABLE email_tokens;
