# Compound statements without DELIMITER: BEGIN … END, IF … END IF, CASE … END CASE,
# loops; the body's semicolons belong to the CREATE statement.
CREATE TABLE counters (name VARCHAR(20) PRIMARY KEY, n INT NOT NULL DEFAULT 0);

CREATE PROCEDURE bump(IN k VARCHAR(20), IN times INT)
BEGIN
  DECLARE i INT DEFAULT 0;
  DECLARE done INT DEFAULT IF(times > 0, 0, 1);
  IF NOT EXISTS (SELECT 1 FROM counters WHERE name = k) THEN
    INSERT INTO counters (name) VALUES (k);
  ELSEIF times < 0 THEN
    SET times = 0;
  END IF;
  bump_loop: LOOP
    IF i >= times THEN
      LEAVE bump_loop;
    END IF;
    UPDATE counters SET n = n + 1 WHERE name = k;
    SET i = i + 1;
  END LOOP bump_loop;
  WHILE i > 0 DO
    SET i = i - 1;
  END WHILE;
  REPEAT
    SET i = i + 1;
  UNTIL i >= 3 END REPEAT;
  CASE k
    WHEN 'a' THEN SELECT REPEAT('a', 3);
    ELSE SELECT CASE WHEN i > 1 THEN 'many' ELSE 'one' END;
  END CASE;
END;

CREATE TRIGGER counters_check BEFORE UPDATE ON counters
FOR EACH ROW
IF NEW.n < 0 THEN
  SET NEW.n = 0;
END IF;

CREATE EVENT cleanup ON SCHEDULE EVERY 1 DAY DO
  BEGIN
    DELETE FROM counters WHERE n = 0;
  END;

CREATE TABLE IF NOT EXISTS log (event VARCHAR(20), `begin` INT);
DROP TABLE IF EXISTS old_log;
