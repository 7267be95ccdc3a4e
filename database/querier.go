package database

import (
	"context"
	"database/sql"
)

// Querier is implemented by drivers that can run an arbitrary read-only query
// on the run's session and hand back every value as text. Runway uses it to
// read other migration tools' history tables (`runway adopt`), whose columns
// differ from tool to tool and database to database, so the values come back
// untyped: the caller parses what it needs.
type Querier interface {
	// QueryStrings runs sql with args (placeholders in the driver's own
	// syntax: $1 on PostgreSQL, ? on MySQL and SQLite) and returns its rows,
	// each value in the database's text form, nil for NULL.
	QueryStrings(ctx context.Context, sql string, args ...any) ([][]*string, error)
}

// ScanStrings reads every row of rows as text, nil for NULL, and closes
// rows: the part of QueryStrings that drivers built on database/sql share.
func ScanStrings(rows *sql.Rows) ([][]*string, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]*string
	vals := make([]sql.NullString, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		row := make([]*string, len(cols))
		for i, v := range vals {
			if v.Valid {
				s := v.String
				row[i] = &s
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
