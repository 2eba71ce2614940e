package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// kinds are the export's file kinds, in the order a night is read: people
// before what refers to them.
var kinds = []string{"assistiti", "accessi_pua", "valutazioni_uvm", "servizi", "stati_segnalazioni"}

var exportName = regexp.MustCompile(`^(assistiti|accessi_pua|valutazioni_uvm|servizi|stati_segnalazioni)_([0-9]{8})\.csv$`)

// Cursor is where reading stopped: the last file read (in export order)
// and how many of its data rows were read. Files are immutable once
// written, so every file before it is done.
type Cursor struct {
	File string `json:"file"`
	Rows int    `json:"rows"`
}

// exportFile is one night file.
type exportFile struct {
	name, date string
	kind       int
}

func (f exportFile) before(g exportFile) bool {
	if f.date != g.date {
		return f.date < g.date
	}
	return f.kind < g.kind
}

func parseName(name string) (exportFile, bool) {
	m := exportName.FindStringSubmatch(name)
	if m == nil {
		return exportFile{}, false
	}
	return exportFile{name: name, date: m[2], kind: slices.Index(kinds, m[1])}, true
}

// listExport returns the export files in reading order; temporary files
// and anything else are ignored.
func listExport(dir string) ([]exportFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []exportFile
	for _, e := range entries {
		if f, ok := parseName(e.Name()); ok && e.Type().IsRegular() {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b exportFile) int {
		if a.before(b) {
			return -1
		}
		if b.before(a) {
			return 1
		}
		return 0
	})
	return out, nil
}

// decodeLatin1 turns ISO-8859-1 bytes into UTF-8 text.
func decodeLatin1(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/8)
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// parseCSV reads a Latin-1, semicolon-separated file.
func parseCSV(data []byte) (header []string, rows [][]string, err error) {
	r := csv.NewReader(strings.NewReader(decodeLatin1(data)))
	r.Comma = ';'
	r.FieldsPerRecord = -1
	all, err := r.ReadAll()
	if err != nil {
		return nil, nil, err
	}
	if len(all) == 0 {
		return nil, nil, nil
	}
	h := all[0]
	if len(h) > 0 {
		h[0] = strings.TrimPrefix(h[0], "\ufeff")
	}
	return h, all[1:], nil
}

func decodeCursor(raw []byte) (Cursor, error) {
	var c Cursor
	if len(raw) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(raw, &c); err != nil || (c.File != "" && !exportName.MatchString(c.File)) || c.Rows < 0 {
		return c, sdk.Fatal(fmt.Errorf("cursor is not one of this connector's"))
	}
	return c, nil
}

// Read emits the records of the export files after the cursor.
func (c *Connector) Read(ctx context.Context, req sdk.ReadRequest, emit func(sdk.Batch) error) error {
	st, err := settings(req.Settings)
	if err != nil {
		return err
	}
	cur, err := decodeCursor(req.Cursor)
	if err != nil {
		return err
	}
	files, err := listExport(st.Folder)
	if err != nil {
		return folderErr(st.Folder, err)
	}
	max := req.MaxBatch
	if max <= 0 {
		max = 500
	}
	m := &mapper{st: st}
	var from exportFile
	if cur.File != "" {
		from, _ = parseName(cur.File)
	}
	var batch [][]byte
	pos, emitted := cur, cur
	flush := func() error {
		if len(batch) == 0 && pos == emitted {
			return nil
		}
		raw, err := json.Marshal(pos)
		if err != nil {
			return sdk.Fatal(fmt.Errorf("marshal cursor: %w", err))
		}
		if err := emit(sdk.Batch{Records: batch, Cursor: raw}); err != nil {
			return err
		}
		batch, emitted = nil, pos
		return nil
	}
	for _, f := range files {
		skip := 0
		switch {
		case cur.File != "" && f.before(from):
			continue
		case f.name == cur.File:
			skip = cur.Rows
		}
		data, err := os.ReadFile(filepath.Join(st.Folder, f.name))
		if err != nil {
			return folderErr(st.Folder, err)
		}
		header, rows, err := parseCSV(data)
		if err != nil {
			return sdk.Fatal(fmt.Errorf("export file %s is not valid CSV: %v", f.name, csvErr(err)))
		}
		if skip > len(rows) {
			return sdk.Fatal(fmt.Errorf("cursor says %d rows of %s were read, the file has %d: was it rewritten?", skip, f.name, len(rows)))
		}
		idx := index(header)
		for i := skip; i < len(rows); i++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			recs, err := m.row(kinds[f.kind], idx, rows[i])
			if err != nil {
				// Never the row's content: it may hold identifiers.
				c.log().Warn("row skipped", "file", f.name, "row", i+2, "problem", err.Error())
				recs = nil
			}
			if len(batch) > 0 && len(batch)+len(recs) > max {
				if err := flush(); err != nil {
					return err
				}
			}
			for _, r := range recs {
				b, err := sdk.Record(r)
				if err != nil {
					return sdk.Fatal(err)
				}
				batch = append(batch, b)
			}
			pos = Cursor{File: f.name, Rows: i + 1}
		}
		if pos.File != f.name {
			pos = Cursor{File: f.name, Rows: len(rows)}
		}
	}
	return flush()
}

// csvErr keeps the position of a CSV error and drops the text it quotes.
func csvErr(err error) string {
	var pe *csv.ParseError
	if e, ok := err.(*csv.ParseError); ok {
		pe = e
		return fmt.Sprintf("line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
	}
	return "unreadable"
}

func folderErr(dir string, err error) error {
	if os.IsNotExist(err) {
		return sdk.Transient(fmt.Errorf("export folder is not reachable (missing): is the share mounted?"))
	}
	return sdk.Transient(fmt.Errorf("read export folder: %w", err))
}

// columns gives a row's cells by column name.
type columns map[string]int

func index(header []string) columns {
	c := columns{}
	for i, h := range header {
		c[strings.TrimSpace(h)] = i
	}
	return c
}

func (c columns) get(row []string, name string) string {
	i, ok := c[name]
	if !ok || i >= len(row) {
		return ""
	}
	v := strings.TrimSpace(row[i])
	if !utf8.ValidString(v) {
		return ""
	}
	return v
}
