package sds

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// latin1 encodes UTF-8 text as ISO-8859-1; characters outside Latin-1 become
// '?', as the system's export routine does.
func latin1(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x100 {
			out = append(out, byte(r))
		} else {
			out = append(out, '?')
		}
	}
	return out
}

// fromLatin1 decodes ISO-8859-1 bytes to UTF-8.
func fromLatin1(b []byte) string {
	if utf8.Valid(b) && !bytes.ContainsFunc(b, func(r rune) bool { return r >= 0x80 }) {
		return string(b)
	}
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// encodeCSV renders a header and rows as semicolon-separated CSV with CRLF
// line ends, Latin-1 encoded.
func encodeCSV(header []string, rows [][]string) ([]byte, error) {
	var buf strings.Builder
	w := csv.NewWriter(&buf)
	w.Comma = ';'
	w.UseCRLF = true
	if err := w.Write(header); err != nil {
		return nil, err
	}
	if err := w.WriteAll(rows); err != nil {
		return nil, err
	}
	return latin1(buf.String()), nil
}

// decodeCSV parses a Latin-1, semicolon-separated file into its header and
// rows.
func decodeCSV(data []byte) (header []string, rows [][]string, err error) {
	r := csv.NewReader(strings.NewReader(fromLatin1(data)))
	r.Comma = ';'
	all, err := r.ReadAll()
	if err != nil {
		return nil, nil, err
	}
	if len(all) == 0 {
		return nil, nil, fmt.Errorf("empty file")
	}
	return all[0], all[1:], nil
}

// writeAtomic writes data to dir/name through a temporary file in the same
// folder and a rename, so that a reader never sees half a file.
func writeAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, ".tmp-"+name+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
