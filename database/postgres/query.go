package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/runwaydb/runway/database"
)

var _ database.Querier = (*Driver)(nil)

// QueryStrings runs sql on the run's session and returns every value in
// PostgreSQL's text form, nil for NULL. Arguments ($1, $2 …) are sent as
// text parameters of an unnamed statement, parsed, bound and run in one
// message: no prepared statement outlives it for a transaction-pooling proxy
// to lose. They may be strings, byte slices, integers (int, int32, int64, uint32,
// uint64), booleans or nil.
func (d *Driver) QueryStrings(ctx context.Context, sql string, args ...any) ([][]*string, error) {
	params := make([][]byte, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case nil:
		case string:
			params[i] = []byte(v)
		case []byte:
			params[i] = v
		case int:
			params[i] = strconv.AppendInt(nil, int64(v), 10)
		case int32:
			params[i] = strconv.AppendInt(nil, int64(v), 10)
		case int64:
			params[i] = strconv.AppendInt(nil, v, 10)
		case uint32:
			params[i] = strconv.AppendUint(nil, uint64(v), 10)
		case uint64:
			params[i] = strconv.AppendUint(nil, v, 10)
		case bool:
			params[i] = strconv.AppendBool(nil, v)
		default:
			return nil, fmt.Errorf("postgres: query argument $%d: unsupported type %T", i+1, a)
		}
	}
	res := d.pg.ExecParams(ctx, sql, params, nil, nil, nil).Read()
	if res.Err != nil {
		return nil, fmt.Errorf("postgres: %w", res.Err)
	}
	out := make([][]*string, 0, len(res.Rows))
	for _, raw := range res.Rows {
		row := make([]*string, len(raw))
		for i, v := range raw {
			if v != nil {
				s := string(v)
				row[i] = &s
			}
		}
		out = append(out, row)
	}
	return out, nil
}
