// Package records reads documents of the shared data contract from files:
// one JSON document, a JSON array of documents, or JSON Lines. Each
// document keeps its position (file, array index or line) so that every
// error can say where it is, and a broken line never stops the rest.
package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/snodo-hub/snodo/schemas"
)

// Position says where a document was read.
type Position struct {
	File string `json:"file"`
	// Index is the 0-based position in a JSON array, -1 otherwise.
	Index int `json:"index"`
	// Line is the 1-based line where the document starts (JSON Lines and
	// arrays), 0 for a whole-file document.
	Line int `json:"line,omitempty"`
}

func (p Position) String() string {
	switch {
	case p.Index >= 0:
		return fmt.Sprintf("%s[%d]", p.File, p.Index)
	case p.Line > 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return p.File
}

// Item is one document read from an input, or the reason it could not be
// decoded.
type Item struct {
	Pos Position
	// Doc is the decoded document (numbers as json.Number).
	Doc any
	// Raw is the document's bytes as read.
	Raw []byte
	// Err is set when the document is not well-formed JSON.
	Err error
}

// Read calls fn for each document in r, in order. A JSON array yields its
// elements; several values one per line are JSON Lines; anything else must
// be one document. A line that is not JSON yields an Item with Err and
// reading goes on. Read stops early only if fn returns an error or the input
// cannot be read.
func Read(r io.Reader, name string, fn func(Item) error) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return fn(Item{Pos: Position{File: name, Index: -1}, Err: errors.New("empty input: expected a JSON document, a JSON array or JSON Lines")})
	case trimmed[0] == '[':
		return readArray(data, name, fn)
	}
	if single(data) || strings.HasSuffix(name, ".json") && !multiline(data) {
		doc, derr := decode(data)
		return fn(Item{Pos: Position{File: name, Index: -1}, Doc: doc, Raw: data, Err: locate(data, 0, derr)})
	}
	return readLines(data, name, fn)
}

// single reports whether data holds exactly one JSON value.
func single(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return false
	}
	_, err := dec.Token()
	return err == io.EOF
}

// multiline reports whether data has more than one non-blank line that
// starts a JSON object, the shape of JSON Lines.
func multiline(data []byte) bool {
	n := 0
	for _, l := range bytes.Split(data, []byte("\n")) {
		if bytes.HasPrefix(bytes.TrimSpace(l), []byte("{")) {
			n++
		}
	}
	return n > 1
}

func readLines(data []byte, name string, fn func(Item) error) error {
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		doc, err := decode(l)
		if err := fn(Item{Pos: Position{File: name, Index: -1, Line: line}, Doc: doc, Raw: l, Err: locate(l, line-1, err)}); err != nil {
			return err
		}
	}
	return nil
}

func readArray(data []byte, name string, fn func(Item) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return fn(Item{Pos: Position{File: name, Index: -1}, Err: locate(data, 0, err)})
	}
	for i := 0; dec.More(); i++ {
		start := skipSpace(data, int(dec.InputOffset()))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			// The rest of an array cannot be read past a syntax error. The
			// decoder's offsets count from the value, so read it again alone.
			if _, verr := decode(data[start:]); verr != nil {
				err = verr
			}
			return fn(Item{Pos: Position{File: name, Index: i, Line: lineOf(data, start)}, Err: locateFrom(data, start, 0, err)})
		}
		doc, err := decode(raw)
		if err := fn(Item{Pos: Position{File: name, Index: i, Line: lineOf(data, start)}, Doc: doc, Raw: raw, Err: err}); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fn(Item{Pos: Position{File: name, Index: -1}, Err: locate(data, 0, err)})
	}
	return nil
}

func decode(data []byte) (any, error) { return schemas.Decode(data) }

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r' || data[i] == ',') {
		i++
	}
	return i
}

func lineOf(data []byte, offset int) int {
	if offset > len(data) {
		offset = len(data)
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// locate rewrites a JSON syntax error with its line and column (lineBase
// lines precede data in the file).
func locate(data []byte, lineBase int, err error) error {
	return locateFrom(data, 0, lineBase, err)
}

// locateFrom is locate for an error whose offset counts from data[base:].
func locateFrom(data []byte, base, lineBase int, err error) error {
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// The offending byte is the last one read.
		off := base + int(se.Offset) - 1
		if off < 0 {
			off = 0
		}
		if off > len(data) {
			off = len(data)
		}
		line := bytes.Count(data[:off], []byte("\n")) + 1
		col := off - bytes.LastIndexByte(data[:off], '\n')
		return fmt.Errorf("not valid JSON at line %d, column %d: %s", lineBase+line, col, se.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("not valid JSON: the document ends too early (an unclosed { or [ or string)")
	}
	return fmt.Errorf("not valid JSON: %w", err)
}
