-- PostgreSQL 14 SQL-standard function bodies.
CREATE FUNCTION add(a integer, b integer) RETURNS integer
    LANGUAGE SQL
    IMMUTABLE
    RETURN a + b;

CREATE PROCEDURE insert_data(a integer, b integer)
LANGUAGE SQL
BEGIN ATOMIC
  INSERT INTO tbl VALUES (a);
  INSERT INTO tbl VALUES (CASE WHEN b > 0 THEN b ELSE 0 END);
END;

CREATE FUNCTION classify(n int) RETURNS text LANGUAGE SQL
begin   /* comment between */   atomic
  SELECT CASE WHEN n < 0 THEN 'negative' WHEN n = 0 THEN 'zero' ELSE 'positive' END;
end;

BEGIN;
CREATE RULE log_insert AS ON INSERT TO accounts DO ALSO (
    INSERT INTO audit VALUES (NEW.id);
    NOTIFY accounts
);
COMMIT;
