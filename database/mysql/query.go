package mysql

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/runwaydb/runway/database"
)

var _ database.Querier = (*Driver)(nil)

// QueryStrings runs query on the run's session and returns every value as
// text, nil for NULL.
func (d *Driver) QueryStrings(ctx context.Context, query string, args ...any) ([][]*string, error) {
	conn, err := d.session(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	return scanStrings(rows)
}

func scanStrings(rows *sql.Rows) ([][]*string, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	var out [][]*string
	vals := make([]sql.NullString, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("mysql: %w", err)
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
		return nil, fmt.Errorf("mysql: %w", err)
	}
	return out, nil
}
