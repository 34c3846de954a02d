DROP TABLE audit_events;
DROP INDEX users_created_idx;
ALTER TABLE users DROP COLUMN disabled;
