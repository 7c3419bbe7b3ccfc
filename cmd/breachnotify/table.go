package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// table prints aligned columns for people; every verb also has --json.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, headers ...any) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(headers...)
	return t
}

// row prints one row; times print in UTC to the second, nil as "-".
func (t *table) row(cells ...any) {
	for i, c := range cells {
		if i > 0 {
			fmt.Fprint(t.tw, "\t")
		}
		fmt.Fprint(t.tw, cell(c))
	}
	fmt.Fprintln(t.tw)
}

func cell(c any) string {
	switch v := c.(type) {
	case nil:
		return "-"
	case time.Time:
		return v.UTC().Format("2006-01-02 15:04:05Z")
	case *time.Time:
		if v == nil {
			return "-"
		}
		return v.UTC().Format("2006-01-02 15:04:05Z")
	case *int64:
		if v == nil {
			return "-"
		}
		return fmt.Sprint(*v)
	case string:
		if v == "" {
			return "-"
		}
		return v
	}
	return fmt.Sprint(c)
}

func (t *table) flush() error { return t.tw.Flush() }
