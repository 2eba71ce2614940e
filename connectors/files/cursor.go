package main

import (
	"encoding/json"
	"sort"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// cursorVersion is the version of the cursor's layout.
const cursorVersion = 1

// cursorDoc is the cursor as JSON. To the hub it is opaque bytes.
type cursorDoc struct {
	V     int         `json:"v"`
	Files []fileState `json:"files"`
}

// fileState is how far a file has been read.
type fileState struct {
	Name   string `json:"name"`
	Format string `json:"format"`
	// Size is, for CSV and JSON Lines, the byte offset just after the last
	// row read; for XLSX, the size of the file.
	Size int64 `json:"size"`
	// SHA256 is, for CSV and JSON Lines, the hash of the file's first Size
	// bytes; for XLSX, the hash of the rows read (each row as a JSON array
	// of its cells and a line break).
	SHA256 string `json:"sha256"`
	// FileSHA256 is the hash of the whole XLSX file, to skip an unchanged
	// workbook without opening it.
	FileSHA256 string `json:"file_sha256,omitempty"`
	// Rows is the number of data rows read, malformed ones included.
	Rows int `json:"rows"`
}

func decodeCursor(b []byte) (map[string]fileState, error) {
	out := map[string]fileState{}
	if len(b) == 0 {
		return out, nil
	}
	var doc cursorDoc
	if err := json.Unmarshal(b, &doc); err != nil || doc.V != cursorVersion {
		return nil, sdk.ConfigError("", "the cursor was not written by this version of the files connector: reset the connector's cursor, and every file will be read again from the start")
	}
	for _, f := range doc.Files {
		out[f.Name] = f
	}
	return out, nil
}

// encodeCursor writes the state of every file seen, by name. Files that
// have gone keep their entry, so that one put back unchanged is not read
// twice.
func encodeCursor(state map[string]fileState) []byte {
	doc := cursorDoc{V: cursorVersion, Files: make([]fileState, 0, len(state))}
	for _, f := range state {
		doc.Files = append(doc.Files, f)
	}
	sort.Slice(doc.Files, func(i, j int) bool { return doc.Files[i].Name < doc.Files[j].Name })
	b, err := json.Marshal(doc)
	if err != nil {
		panic("files connector: marshal cursor: " + err.Error())
	}
	return b
}
