package changelog

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"

	"github.com/jmoiron/sqlx"
)

// eachRow runs query and calls fn with each row's n values: nil, int64,
// float64, string or []byte. The slice is reused between rows; fn copies
// what it keeps. On a connection it reads through the driver directly:
// database/sql's locking and conversion per row cost a tenth of a read of
// 100,000 changes.
func eachRow(ctx context.Context, q sqlx.QueryerContext, query string, args []any, n int, fn func([]any) error) error {
	if conn, ok := q.(*sqlx.Conn); ok {
		return conn.Raw(func(dc any) error {
			if qc, ok := dc.(driver.QueryerContext); ok {
				return eachDriverRow(ctx, qc, query, args, n, fn)
			}
			return errors.ErrUnsupported
		})
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	return rows.Err()
}

func eachDriverRow(ctx context.Context, qc driver.QueryerContext, query string, args []any, n int, fn func([]any) error) error {
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		v, err := driver.DefaultParameterConverter.ConvertValue(a) // int to int64, as database/sql would
		if err != nil {
			return err
		}
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	rows, err := qc.QueryContext(ctx, query, named)
	if err != nil {
		return err
	}
	defer rows.Close()
	dest := make([]driver.Value, n)
	vals := make([]any, n)
	for {
		if err := rows.Next(dest); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		for i, v := range dest {
			vals[i] = v
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
}
