package database

import "context"

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
