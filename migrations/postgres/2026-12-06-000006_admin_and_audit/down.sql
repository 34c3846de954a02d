DROP TABLE audit_events;
DROP INDEX IF EXISTS users_email_trgm_idx;
DROP INDEX users_created_idx;
ALTER TABLE users DROP COLUMN disabled;
