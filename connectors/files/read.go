package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/snodo-hub/snodo/plugins/sdk"
	"github.com/snodo-hub/snodo/schemas"
)

// DefaultMaxBatch is the batch size when the hub does not ask for one.
const DefaultMaxBatch = 500

// Limits of what an XLSX workbook may unpack to in memory.
const (
	xlsxUnzipLimit    = 1 << 30
	xlsxUnzipXMLLimit = 16 << 20
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// reading is one Read call: it walks the files, fills batches and keeps
// the cursor up to date.
type reading struct {
	ctx   context.Context
	cfg   *config
	root  *os.Root
	log   *slog.Logger
	state map[string]fileState
	max   int
	emit  func(sdk.Batch) error

	recs  [][]byte
	dirty bool // the state moved since the last batch
	cur   string
	snap  func() fileState // the state of the file being read
}

func (r *reading) add(rec map[string]any) error {
	b, err := schemas.AppendCanonical(make([]byte, 0, 512), rec)
	if err != nil {
		return sdk.Fatal(fmt.Errorf("marshal a record: %w", err))
	}
	r.recs = append(r.recs, b)
	r.dirty = true
	if len(r.recs) >= r.max {
		return r.flush()
	}
	return nil
}

// flush sends the records so far with the cursor after the last row
// read. A batch without records still moves the cursor (past malformed
// rows, or a file read again that now holds nothing new).
func (r *reading) flush() error {
	if !r.dirty {
		return nil
	}
	if r.snap != nil {
		r.state[r.cur] = r.snap()
	}
	b := sdk.Batch{Records: r.recs, Cursor: encodeCursor(r.state)}
	r.recs, r.dirty = nil, false
	return r.emit(b)
}

// fileRun counts what happens to one file's rows.
type fileRun struct {
	r         *reading
	e         entry
	env       envelope
	rows      int // data rows read, malformed ones included
	records   int
	malformed int
	from      int // data rows already read before this run
}

func (r *reading) begin(e entry, st fs.FileInfo, rows int, snap func(fr *fileRun) fileState) *fileRun {
	fr := &fileRun{r: r, e: e, rows: rows, from: rows, env: envelope{
		source:     r.cfg.s.Source,
		territory:  r.cfg.s.Territory,
		recordedAt: st.ModTime().In(r.cfg.loc).Truncate(time.Second).Format(time.RFC3339),
	}}
	r.cur = e.name
	r.snap = func() fileState { return snap(fr) }
	return fr
}

// end records the file's final state and says what happened to it.
func (fr *fileRun) end() {
	r := fr.r
	final := r.snap()
	if r.state[r.cur] != final {
		r.dirty = true // the cursor must say so, even without a new record
	}
	r.state[r.cur] = final
	r.snap = nil
	if fr.rows > fr.from || fr.malformed > 0 {
		r.log.Info("read a file", "file", fr.e.name, "rows", fr.rows-fr.from, "records", fr.records, "malformed_rows_skipped", fr.malformed, "first_row", fr.from+1)
	}
}

// handle turns a row into a record, or skips it as malformed.
func (fr *fileRun) handle(rowNum int, rw row) error {
	rec, bad := fr.e.fm.record(rw, fr.env)
	if bad != nil {
		fr.skip(rowNum, bad.reason)
		return nil
	}
	fr.records++
	return fr.r.add(rec)
}

// skip logs a malformed row by file and row number and why — never the
// values in it, which may be personal.
func (fr *fileRun) skip(rowNum int, reason string) {
	fr.malformed++
	fr.r.log.Warn("skipped a malformed row", "file", fr.e.name, "row", rowNum, "reason", reason)
}

// file reads one file from where the cursor left it.
func (r *reading) file(e entry) error {
	f, st, err := r.cfg.folder.open(r.root, e)
	if err != nil {
		var se *sdk.Error
		if errors.As(err, &se) {
			return err
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil // gone since it was listed: the next read decides
		}
		return sdk.Transient(fmt.Errorf("open %s: %w", e.name, err))
	}
	defer f.Close()
	prev, had := r.state[e.name]
	switch e.fm.format {
	case formatCSV:
		return r.readCSV(e, f, st, prev, had)
	case formatJSONL:
		return r.readJSONL(e, f, st, prev, had)
	}
	return r.readXLSX(e, f, st, prev, had)
}

func ioError(name string, err error) error {
	return sdk.Transient(fmt.Errorf("read %s: %w", name, err))
}

// resumeAt decides where to go on reading a CSV or JSON Lines file: after
// the bytes already read if they are unchanged (rows were appended), else
// from the start (the file was replaced). h holds the hash of the bytes
// before start.
func resumeAt(f *os.File, size int64, prev fileState, had bool, format string) (start int64, rows int, h hash.Hash, replaced bool, err error) {
	h = sha256.New()
	if !had {
		return 0, 0, h, false, nil
	}
	if prev.Format != format || prev.Size > size {
		return 0, 0, h, true, nil
	}
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, prev.Size)); err != nil {
		return 0, 0, nil, false, err
	}
	if hex.EncodeToString(h.Sum(nil)) != prev.SHA256 {
		return 0, 0, sha256.New(), true, nil
	}
	return prev.Size, prev.Rows, h, false, nil
}

// hashTee hashes what a reader read, up to the offsets it is told: the end
// of each row.
type hashTee struct {
	r       io.Reader
	h       hash.Hash
	pending []byte
	base    int64 // the offset of pending[0]
}

func (t *hashTee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.pending = append(t.pending, p[:n]...)
	return n, err
}

func (t *hashTee) upTo(off int64) {
	n := int(off - t.base)
	if n <= 0 {
		return
	}
	n = min(n, len(t.pending))
	t.h.Write(t.pending[:n])
	t.pending = t.pending[n:]
	t.base += int64(n)
}

func (r *reading) noteReplaced(name string) {
	r.log.Info("a file changed since it was last read: reading it again from the start", "file", name)
}

func (r *reading) readCSV(e entry, f *os.File, st fs.FileInfo, prev fileState, had bool) error {
	fm := e.fm
	size := st.Size()
	start, rows, h, replaced, err := resumeAt(f, size, prev, had, formatCSV)
	if err != nil {
		return ioError(e.name, err)
	}
	if replaced {
		r.noteReplaced(e.name)
	}
	if had && !replaced && start == size {
		return nil // nothing new
	}
	enc := fm.encoding
	if enc == "" {
		enc = "utf-8"
	}
	bom := int64(0)
	head := make([]byte, 3)
	if n, _ := f.ReadAt(head, 0); n == 3 && bytes.Equal(head, utf8BOM) {
		enc, bom = "utf-8", 3 // a byte-order mark says UTF-8, whatever the settings say
	}
	pre := fm.skipRows
	if fm.header {
		pre++
	}
	preLeft := pre
	index, width := fm.fixedColumns()

	newReader := func(rd io.Reader) *csv.Reader {
		cr := csv.NewReader(rd)
		cr.Comma = fm.delimiter
		cr.LazyQuotes = fm.lazyQuotes
		cr.FieldsPerRecord = -1
		return cr
	}
	if start > bom && pre > 0 {
		// The header was read before: read it again from the verified
		// prefix.
		cr := newReader(io.NewSectionReader(f, bom, start-bom))
		for preLeft > 0 {
			cells, err := cr.Read()
			if err == io.EOF {
				break
			}
			preLeft--
			if preLeft == 0 && fm.header {
				if index, width, err = bindCSVHeader(e, cells, err, enc); err != nil {
					return err
				}
			}
		}
	}
	from := start
	if start == 0 {
		h.Write(head[:bom])
		from = bom
	}
	tee := &hashTee{r: io.NewSectionReader(f, from, size-from), h: h, base: from}
	cr := newReader(tee)
	fr := r.begin(e, st, rows, func(fr *fileRun) fileState {
		return fileState{Name: e.name, Format: formatCSV, Size: tee.base, SHA256: hex.EncodeToString(h.Sum(nil)), Rows: fr.rows}
	})
	for {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		cells, err := cr.Read()
		tee.upTo(from + cr.InputOffset())
		if err == io.EOF {
			break
		}
		r.dirty = true
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			return ioError(e.name, err)
		}
		if preLeft > 0 {
			preLeft--
			if preLeft == 0 && fm.header {
				if index, width, err = bindCSVHeader(e, cells, err, enc); err != nil {
					return err
				}
			}
			continue
		}
		fr.rows++
		rowNum := pre + fr.rows
		if pe != nil {
			fr.skip(rowNum, "not valid CSV: "+pe.Err.Error())
			continue
		}
		if i, ok := decodeCells(cells, enc); !ok {
			fr.skip(rowNum, fmt.Sprintf("cell %d is not UTF-8 text (if the file is Latin-1, set encoding: latin-1)", i+1))
			continue
		}
		if len(cells) != width {
			fr.skip(rowNum, fmt.Sprintf("%d cells where the header has %d (check the delimiter and the quotes)", len(cells), width))
			continue
		}
		if err := fr.handle(rowNum, tableRow{index: index, cells: cells}); err != nil {
			return err
		}
	}
	fr.end()
	return nil
}

// fixedColumns is the column index of a file mapping that names its
// columns (header: false).
func (fm *fileMapping) fixedColumns() (map[string]int, int) {
	if fm.header {
		return nil, 0
	}
	index := make(map[string]int, len(fm.columns))
	for i, c := range fm.columns {
		index[c] = i
	}
	return index, len(fm.columns)
}

func bindCSVHeader(e entry, cells []string, err error, enc string) (map[string]int, int, error) {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return nil, 0, sdk.ConfigError("/mapping", "the header row of %s is not valid CSV (%v): check the file mapping's delimiter (%s)", e.name, pe.Err, e.fm.at)
	}
	if _, ok := decodeCells(cells, enc); !ok {
		return nil, 0, sdk.ConfigError("/mapping", "the header row of %s is not UTF-8 text: if the file is Latin-1, set encoding: latin-1 in its file mapping (%s)", e.name, e.fm.at)
	}
	index, err := bindHeader(e, cells)
	return index, len(cells), err
}

// bindHeader maps the header's column names to their positions and checks
// that every column the file mapping reads is there (exactly, or else
// ignoring case).
func bindHeader(e entry, cells []string) (map[string]int, error) {
	index := map[string]int{}
	folded := map[string]int{}
	dup := map[string]bool{}
	var names []string
	for i, c := range cells {
		name := strings.TrimSpace(c)
		if name == "" {
			continue
		}
		names = append(names, name)
		if _, ok := index[name]; ok {
			dup[name] = true
			continue
		}
		index[name] = i
		if _, ok := folded[fold(name)]; ok {
			folded[fold(name)] = -1
		} else {
			folded[fold(name)] = i
		}
	}
	var problems []string
	found := 0 // mapped columns the row has: it is a header, not a data row
	for _, u := range e.fm.columnsUsed() {
		if dup[u.name] {
			problems = append(problems, fmt.Sprintf("column %q (named at %s) appears more than once in the header", u.name, u.at))
			continue
		}
		if _, ok := index[u.name]; ok {
			found++
			continue
		}
		if i, ok := folded[fold(u.name)]; ok && i >= 0 {
			index[u.name] = i
			found++
			continue
		}
		if !u.optional {
			problems = append(problems, fmt.Sprintf("no column %q (named at %s)", u.name, u.at))
		}
	}
	if len(problems) > 0 {
		hint := ""
		if e.fm.format == formatCSV && len(names) == 1 {
			for _, d := range []string{";", ",", "\t", "|"} {
				if strings.Contains(names[0], d) && []rune(d)[0] != e.fm.delimiter {
					hint = fmt.Sprintf(" The header is a single column: is the delimiter %q? Set delimiter in the file mapping (%s).", d, e.fm.at)
					break
				}
			}
		}
		// The row's cells are named only when it holds one of the mapped
		// columns. Otherwise it may be a data row (header or skip_rows set
		// wrong, or the wrong delimiter), and its cells — a name, a codice
		// fiscale — must not reach an error the hub logs.
		columns := fmt.Sprintf("Its columns are: %s.", strings.Join(names, ", "))
		if found == 0 {
			columns = fmt.Sprintf("The row read as the header has %d cells and none of the mapped columns, so they are not shown (it may be a data row): check header and skip_rows (%s).", len(names), e.fm.at)
		}
		return nil, sdk.ConfigError("/mapping", "the header of %s does not fit its file mapping: %s. %s%s Fix the mapping (or mark the field optional: true)", e.name, strings.Join(dedupeStrings(problems), "; "), columns, hint)
	}
	return index, nil
}

func dedupeStrings(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func (r *reading) readJSONL(e entry, f *os.File, st fs.FileInfo, prev fileState, had bool) error {
	size := st.Size()
	start, rows, h, replaced, err := resumeAt(f, size, prev, had, formatJSONL)
	if err != nil {
		return ioError(e.name, err)
	}
	if replaced {
		r.noteReplaced(e.name)
	}
	if had && !replaced && start == size {
		return nil
	}
	off := start
	br := bufio.NewReaderSize(io.NewSectionReader(f, start, size-start), 64<<10)
	fr := r.begin(e, st, rows, func(fr *fileRun) fileState {
		return fileState{Name: e.name, Format: formatJSONL, Size: off, SHA256: hex.EncodeToString(h.Sum(nil)), Rows: fr.rows}
	})
	for {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return ioError(e.name, err)
		}
		first := off == 0
		h.Write(line)
		off += int64(len(line))
		fr.rows++
		r.dirty = true
		if first {
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		rowNum := fr.rows
		if !utf8.Valid(line) {
			fr.skip(rowNum, "the line is not UTF-8 text (JSON Lines files are UTF-8)")
			continue
		}
		obj, ok := decodeObject(line)
		if !ok {
			fr.skip(rowNum, "the line is not one JSON object")
			continue
		}
		if err := fr.handle(rowNum, jsonRow{obj: obj}); err != nil {
			return err
		}
	}
	fr.end()
	return nil
}

func decodeObject(line []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return obj, true
}

func (r *reading) readXLSX(e entry, f *os.File, st fs.FileInfo, prev fileState, had bool) error {
	fm := e.fm
	data, err := io.ReadAll(io.LimitReader(f, st.Size()))
	if err != nil {
		return ioError(e.name, err)
	}
	sum := sha256.Sum256(data)
	fileSum := hex.EncodeToString(sum[:])
	if had && prev.Format == formatXLSX && prev.FileSHA256 == fileSum {
		return nil // unchanged and read to the end
	}
	x, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: xlsxUnzipLimit, UnzipXMLSizeLimit: xlsxUnzipXMLLimit})
	if err != nil {
		r.log.Warn("skipped a file that is not a readable XLSX workbook; it will be tried again at the next read", "file", e.name, "reason", err.Error())
		return nil
	}
	defer x.Close()
	sheet := fm.sheet
	sheets := x.GetSheetList()
	if sheet == "" {
		if len(sheets) == 0 {
			r.log.Warn("skipped a workbook without sheets", "file", e.name)
			return nil
		}
		sheet = sheets[0]
	} else if idx, _ := x.GetSheetIndex(sheet); idx < 0 {
		return sdk.ConfigError("/mapping", "%s has no sheet %q (named at %s): its sheets are %s", e.name, sheet, fm.at, strings.Join(sheets, ", "))
	}
	serial := serials1900
	if props, err := x.GetWorkbookProps(); err == nil && props.Date1904 != nil && *props.Date1904 {
		serial = serials1904
	}
	all, err := x.GetRows(sheet, excelize.Options{RawCellValue: true})
	if err != nil {
		r.log.Warn("skipped a workbook whose sheet cannot be read; it will be tried again at the next read", "file", e.name, "reason", err.Error())
		return nil
	}
	pre := fm.skipRows
	if fm.header {
		pre++
	}
	hashRow := func(h hash.Hash, cells []string) {
		b, _ := json.Marshal(cells)
		h.Write(b)
		h.Write([]byte{'\n'})
	}

	// Resume after the rows read before, if they are unchanged.
	h := sha256.New()
	start, rows := 0, 0
	if had && prev.Format == formatXLSX {
		target := pre + prev.Rows
		hh := sha256.New()
		matched := false
		for k := 0; k <= len(all) && k <= target; k++ {
			if (k == target || (prev.Rows == 0 && k < pre)) && hex.EncodeToString(hh.Sum(nil)) == prev.SHA256 {
				start, rows, h, matched = k, prev.Rows, hh, true
				break
			}
			if k < len(all) {
				hashRow(hh, all[k])
			}
		}
		if !matched {
			r.noteReplaced(e.name)
		}
	}
	index, width := fm.fixedColumns()
	if fm.header && start >= pre {
		if index, err = bindHeader(e, all[pre-1]); err != nil {
			return err
		}
		width = len(all[pre-1])
	}
	complete := false
	fr := r.begin(e, st, rows, func(fr *fileRun) fileState {
		s := fileState{Name: e.name, Format: formatXLSX, Size: st.Size(), SHA256: hex.EncodeToString(h.Sum(nil)), Rows: fr.rows}
		if complete {
			s.FileSHA256 = fileSum
		}
		return s
	})
	fr.env.serial = serial
	for k := start; k < len(all); k++ {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		cells := all[k]
		hashRow(h, cells)
		if k < pre {
			if fm.header && k == pre-1 {
				if index, err = bindHeader(e, cells); err != nil {
					return err
				}
				width = len(cells)
			}
			continue
		}
		fr.rows++
		rowNum := k + 1
		if isBlank(cells) {
			continue
		}
		if extra := nonBlankBeyond(cells, width); extra > 0 {
			fr.skip(rowNum, fmt.Sprintf("a cell beyond the %d columns of the header is filled (column %d)", width, extra))
			continue
		}
		if err := fr.handle(rowNum, tableRow{index: index, cells: cells}); err != nil {
			return err
		}
	}
	complete = true
	fr.end()
	return nil
}

func isBlank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// nonBlankBeyond returns the 1-based column of the first filled cell past
// width, or 0.
func nonBlankBeyond(cells []string, width int) int {
	for i := width; i < len(cells); i++ {
		if strings.TrimSpace(cells[i]) != "" {
			return i + 1
		}
	}
	return 0
}
