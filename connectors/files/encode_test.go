package main

import (
	"encoding/json"
	"testing"
)

func TestAppendJSONAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	values := []any{
		map[string]any{"b": "x", "a": []any{int64(1), json.Number("2.5"), true, nil, "<&>"}, "c": map[string]any{}},
		"quote \" backslash \\ newline \n tab \t cr \r bell \a nul \x00 del \x7f",
		"Perù città € “x” \u2028 \u2029 😀",
		"invalid \xff\xfe utf-8",
		[]any{},
		map[string]any{"z": map[string]any{"y": []any{map[string]any{"x": "1"}}}},
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendJSON(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("appendJSON(%#v)\n got %s\nwant %s", v, got, want)
		}
	}
	if _, err := appendJSON(nil, json.Number("1e")); err == nil {
		t.Error("appendJSON accepted an invalid number")
	}
}
