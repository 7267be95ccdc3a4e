-- A routine created under NO_BACKSLASH_ESCAPES, as mysqldump writes it:
-- until sql_mode is set back, a backslash ends no string.
/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;
/*!50003 SET sql_mode              = 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES' */ ;
DELIMITER ;;
/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW
BEGIN
  IF NEW.p = '' THEN SET NEW.p = 'D:\'; END IF;
END */;;
DELIMITER ;
INSERT INTO t VALUES ('C:\');
-- don't worry
INSERT INTO t VALUES ('ok');
/*!50003 SET sql_mode              = @saved_sql_mode */ ;
SELECT 'x\';y';
SET SESSION sql_mode = "ANSI,NO_BACKSLASH_ESCAPES";
SELECT 'e\';
SET @@session.sql_mode := '';
SELECT 'f\';g';
