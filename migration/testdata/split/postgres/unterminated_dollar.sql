CREATE TABLE ok (id int);

SELECT $fn$ never closed;
