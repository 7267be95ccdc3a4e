package mysql

import (
	"context"
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
	out, err := database.ScanStrings(rows)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	return out, nil
}
