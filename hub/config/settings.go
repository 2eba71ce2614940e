package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ReadSettings reads an instance's settings file — JSON, or YAML (any
// extension but .json) — as a JSON object, and returns it with the file's
// folder, which relative paths in it are relative to.
func ReadSettings(file string) ([]byte, string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("settings %s: %w", file, err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, "", err
	}
	var v any
	if strings.EqualFold(filepath.Ext(file), ".json") {
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, "", fmt.Errorf("settings %s are not valid JSON: %v", file, err)
		}
		if _, ok := v.(map[string]any); !ok {
			return nil, "", fmt.Errorf("settings %s: want a JSON object of settings", file)
		}
		return data, filepath.Dir(abs), nil
	}
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, "", fmt.Errorf("settings %s are not valid YAML: %v", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if v == nil {
		v = map[string]any{}
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, "", fmt.Errorf("settings %s: want a mapping of settings (name: value)", file)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, "", fmt.Errorf("settings %s cannot be written as JSON: %v", file, err)
	}
	return out, filepath.Dir(abs), nil
}
