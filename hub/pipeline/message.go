package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// batchFormat is the first byte of an encoded batch.
const batchFormat = 1

// encodeBatch writes a connector's batch as one message payload:
//
//	format (1 byte) || source || cursor || count (uvarint) || record…
//
// where source, cursor and each record are a uvarint length followed by the
// bytes. One allocation, no escaping: the records travel as they came.
func encodeBatch(source string, b sdk.Batch) []byte {
	size := 1 + binary.MaxVarintLen64*(3+len(b.Records)) + len(source) + len(b.Cursor)
	for _, r := range b.Records {
		size += len(r)
	}
	out := make([]byte, 0, size)
	out = append(out, batchFormat)
	out = appendBytes(out, []byte(source))
	out = appendBytes(out, b.Cursor)
	out = binary.AppendUvarint(out, uint64(len(b.Records)))
	for _, r := range b.Records {
		out = appendBytes(out, r)
	}
	return out
}

func appendBytes(out, b []byte) []byte {
	out = binary.AppendUvarint(out, uint64(len(b)))
	return append(out, b...)
}

// decodeBatch reads what encodeBatch wrote. The records and the cursor
// share the payload's memory.
func decodeBatch(payload []byte) (source string, b sdk.Batch, err error) {
	if len(payload) == 0 || payload[0] != batchFormat {
		return "", sdk.Batch{}, errors.New("batch message: unknown format (a message not written by this pipeline)")
	}
	rest := payload[1:]
	// what names the part read, and i the record's index when it is "record".
	next := func(what string, i int) ([]byte, error) {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			if what == "record" {
				what = fmt.Sprintf("record %d", i)
			}
			return nil, fmt.Errorf("batch message: %s is cut short", what)
		}
		v := rest[k : k+int(n) : k+int(n)]
		rest = rest[k+int(n):]
		return v, nil
	}
	src, err := next("the source", 0)
	if err != nil {
		return "", sdk.Batch{}, err
	}
	if b.Cursor, err = next("the cursor", 0); err != nil {
		return "", sdk.Batch{}, err
	}
	count, k := binary.Uvarint(rest)
	if k <= 0 || count > uint64(len(rest)) { // every record takes a byte at least
		return "", sdk.Batch{}, errors.New("batch message: the record count is cut short or too large")
	}
	rest = rest[k:]
	b.Records = make([][]byte, count)
	for i := range b.Records {
		if b.Records[i], err = next("record", i); err != nil {
			return "", sdk.Batch{}, err
		}
	}
	if len(rest) != 0 {
		return "", sdk.Batch{}, fmt.Errorf("batch message: %d bytes after the last record", len(rest))
	}
	return string(src), b, nil
}
