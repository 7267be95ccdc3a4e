-- Stored routines with the mysql client's DELIMITER lines.
DROP PROCEDURE IF EXISTS transfer;

DELIMITER $$
CREATE DEFINER=`admin`@`%` PROCEDURE transfer(IN src INT, IN dst INT, IN amount DECIMAL(10,2))
BEGIN
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        ROLLBACK;
        RESIGNAL;
    END;
    START TRANSACTION;
    UPDATE accounts SET balance = balance - amount WHERE id = src;
    UPDATE accounts SET balance = balance + amount WHERE id = dst;
    COMMIT;
END$$

CREATE FUNCTION greet(name VARCHAR(20)) RETURNS VARCHAR(40) DETERMINISTIC
BEGIN
    RETURN CONCAT('hello; ', name);
END $$
DELIMITER ;

delimiter //
CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1; //
delimiter ;

SELECT greet('world');
