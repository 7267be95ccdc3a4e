-- SQLite triggers: BEGIN … END bodies, CASE … END inside.
CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, total REAL, [order date] TEXT, `note;` TEXT);

CREATE TRIGGER IF NOT EXISTS orders_status
AFTER UPDATE OF status ON orders
WHEN NEW.status <> OLD.status
BEGIN
    INSERT INTO audit (order_id, msg) VALUES (NEW.id, 'status; ' || NEW.status);
    UPDATE orders SET total = CASE
        WHEN NEW.status = 'cancelled' THEN 0
        ELSE total
    END WHERE id = NEW.id;
END;

CREATE TEMP TRIGGER t2 BEFORE DELETE ON orders BEGIN SELECT RAISE(ABORT, 'no; deletes'); END;

BEGIN TRANSACTION;
SELECT [order date], `note;`, "id" FROM orders; -- brackets and backticks
END TRANSACTION;
/* block; comment */
SELECT 'it''s' -- no terminator at the end
