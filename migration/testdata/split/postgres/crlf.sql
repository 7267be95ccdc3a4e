-- CRLF line endings: lines must still be counted right.
CREATE TABLE a (id int);

INSERT INTO a VALUES (1),
  (2);
SELECT 'multi
line';
