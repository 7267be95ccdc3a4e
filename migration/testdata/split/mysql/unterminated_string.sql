INSERT INTO t VALUES ('ok');
INSERT INTO t VALUES ('it\'s never closed);
