// Package storetest holds checks that tests of several packages run on a
// Snodo database.
package storetest

import (
	"bytes"
	"database/sql"
	"testing"
)

// RowsHolding counts, by table, the rows of the database in which some
// column holds needle, as text or bytes: what erasure and retention tests
// use to prove that nothing of a person is left anywhere.
func RowsHolding(t testing.TB, db *sql.DB, needle []byte) map[string]int {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	found := map[string]int{}
	for _, table := range tables {
		if n := rowsOf(t, db, table, needle); n > 0 {
			found[table] = n
		}
	}
	return found
}

// rowsOf counts the rows of table with a column holding needle.
func rowsOf(t testing.TB, db *sql.DB, table string, needle []byte) int {
	t.Helper()
	rows, err := db.Query(`SELECT * FROM "` + table + `"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			var b []byte
			switch x := v.(type) {
			case string:
				b = []byte(x)
			case []byte:
				b = x
			}
			if bytes.Contains(b, needle) {
				n++
				break
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}
