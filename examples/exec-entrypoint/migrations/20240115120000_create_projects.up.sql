CREATE TABLE projects (
    id         integer      PRIMARY KEY,
    account_id integer      NOT NULL REFERENCES accounts (id),
    name       varchar(100) NOT NULL
);

CREATE INDEX projects_account_id ON projects (account_id);
