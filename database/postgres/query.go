package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/runwaydb/runway/database"
)

var _ database.Querier = (*Driver)(nil)

// QueryStrings runs sql on the run's session and returns every value in
// PostgreSQL's text form, nil for NULL. It uses the simple protocol (arguments
// interpolated by pgx), like the rest of the driver: no prepared statement a
// transaction-pooling proxy could lose.
func (d *Driver) QueryStrings(ctx context.Context, sql string, args ...any) ([][]*string, error) {
	rows, err := d.conn.Query(ctx, sql, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer rows.Close()
	var out [][]*string
	for rows.Next() {
		raw := rows.RawValues()
		row := make([]*string, len(raw))
		for i, v := range raw {
			if v != nil {
				s := string(v)
				row[i] = &s
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return out, nil
}
