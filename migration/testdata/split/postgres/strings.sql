/* Strings: standard, E'' with backslash escapes, quoted identifiers,
   /* nested comments */ and parameters that look like dollar quotes. */
INSERT INTO notes (body) VALUES ('it''s; fine'), ('C:\path\'), (E'line\nnext\'s;');
SELECT "weird;""name", e'\\', U&'d\0061t\+000061' FROM "t;t";
SELECT a$1, $1 + $2 FROM t WHERE tag$ = 'x'; -- a$1 is an identifier, $1 a parameter
/* comment between statements; with ; inside */
SELECT 1 /* inside a statement: kept */ + 2;
SELECT $tag$ it's $$ still; quoted $tag$ AS body;
SELECT 'unterminated? no: ''' AS q
;;;
-- the last statement has no semicolon
SELECT 'last'
