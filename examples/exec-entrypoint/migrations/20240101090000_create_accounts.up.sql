-- Accounts of the quickstart app. Portable SQL: runs on SQLite, PostgreSQL and MySQL.
CREATE TABLE accounts (
    id         integer      PRIMARY KEY,
    email      varchar(255) NOT NULL UNIQUE,
    created_at timestamp    NOT NULL DEFAULT CURRENT_TIMESTAMP
);
