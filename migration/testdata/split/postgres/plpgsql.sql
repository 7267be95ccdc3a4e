-- A plpgsql function, a trigger and a DO block: semicolons inside dollar quotes.
CREATE TABLE accounts (
    id      bigserial PRIMARY KEY,
    balance numeric NOT NULL DEFAULT 0, -- never negative; enforced below
    updated timestamptz
);

CREATE OR REPLACE FUNCTION touch_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated := now();
    IF NEW.balance < 0 THEN
        RAISE EXCEPTION 'balance of % is negative; refused', NEW.id;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER accounts_touch
    BEFORE UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION touch_updated();

DO $migration$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT id FROM accounts LOOP
        PERFORM pg_notify('accounts', r.id::text || ';');
    END LOOP;
    -- an inner $$ does not close the outer quote
    EXECUTE $q$SELECT $$;$$$q$;
END
$migration$;

COMMENT ON FUNCTION touch_updated() IS 'sets updated; checks balance';
