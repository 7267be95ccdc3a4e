-- MySQL dump 10.13  Distrib 8.0.36
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!50503 SET NAMES utf8mb4 */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
--comment-without-space where a statement begins: a comment to the mysql client (not to the server), so to Runway;
DROP TABLE IF EXISTS `users`;
/* a plain comment; dropped */
CREATE TABLE `users` (
  `id` int NOT NULL AUTO_INCREMENT, -- the key
  `name` varchar(50) DEFAULT 'it\'s; ok', # hash comment; too
  `bio` text COMMENT "say \"hi\"; here",
  PRIMARY KEY (`id`)
) ENGINE=InnoDB;
INSERT INTO `users` VALUES (1,'a\\',"b"),(2,'O''Brien','c;d');
SELECT /*+ MAX_EXECUTION_TIME(1000) */ COUNT(*) FROM `users`;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*M!100100 SET STATEMENT max_statement_time=1 FOR SELECT 1 */;
