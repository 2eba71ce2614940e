package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// folder is the folder exports are read from, resolved: every file read
// is inside it.
type folder struct {
	shown string // as the settings name it, for messages
	real  string // absolute, symbolic links resolved
}

func openFolder(shown, p string) (*folder, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, sdk.ConfigError("/folder", "folder %s: %v", shown, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, sdk.ConfigError("/folder", "the folder %s does not exist (looked for %s): create it or fix the folder setting (relative paths are relative to the settings file)", shown, abs)
		}
		return nil, sdk.ConfigError("/folder", "the folder %s cannot be reached: %v", shown, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, sdk.ConfigError("/folder", "the folder %s cannot be reached: %v", shown, err)
	}
	if !st.IsDir() {
		return nil, sdk.ConfigError("/folder", "%s is a file, not a folder: set folder to the folder the exports are dropped in", shown)
	}
	if _, err := os.ReadDir(real); err != nil {
		return nil, sdk.ConfigError("/folder", "the folder %s cannot be read: %v; let the user the hub runs as read it", shown, err)
	}
	return &folder{shown: shown, real: real}, nil
}

// inside says whether the resolved path p is in the folder.
func (f *folder) inside(p string) bool {
	return p == f.real || strings.HasPrefix(p, f.real+string(filepath.Separator))
}

// entry is a file to read and the mapping that reads it.
type entry struct {
	name string // relative to the folder, with / between folders
	path string // what to open, relative to the folder: a link's target, resolved
	fm   *fileMapping
}

// list finds the files that a mapping reads, by name. It skips hidden
// files and folders and office lock files (~$…), does not follow links to
// folders, and refuses a link to a file outside the folder.
func (f *folder) list(m *mapping) ([]entry, error) {
	var out []entry
	err := filepath.WalkDir(f.real, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == f.real {
				return err
			}
			return fmt.Errorf("%s: %w", p, err)
		}
		if p == f.real {
			return nil
		}
		base := d.Name()
		if d.IsDir() {
			if strings.HasPrefix(base, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(base, ".") || strings.HasPrefix(base, "~$") {
			return nil
		}
		rel, err := filepath.Rel(f.real, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		fm := m.match(rel)
		if fm == nil {
			return nil
		}
		open := rel
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				return sdk.ConfigError("/folder", "%s in the folder %s is a symbolic link that leads nowhere: remove it", rel, f.shown)
			}
			if !f.inside(target) {
				return sdk.ConfigError("/folder", "%s in the folder %s is a symbolic link that leads outside the folder: refused, because the connector reads only inside its folder; copy the file into the folder instead", rel, f.shown)
			}
			st, err := os.Stat(target)
			if err != nil || !st.Mode().IsRegular() {
				return nil
			}
			if open, err = filepath.Rel(f.real, target); err != nil {
				return err
			}
		case !d.Type().IsRegular():
			return nil // pipes, sockets, devices
		}
		out = append(out, entry{name: rel, path: filepath.FromSlash(open), fm: fm})
		return nil
	})
	if err != nil {
		var se *sdk.Error
		if errors.As(err, &se) {
			return nil, err
		}
		return nil, sdk.ConfigError("/folder", "the folder %s cannot be read: %v; let the user the hub runs as read it", f.shown, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// match finds the first file mapping whose pattern matches a file name.
func (m *mapping) match(name string) *fileMapping {
	for _, fm := range m.files {
		if ok, _ := path.Match(fm.pattern, name); ok {
			return fm
		}
	}
	return nil
}

// open opens a listed file through root, which refuses any path that
// would leave the folder, even if a link changed since it was listed.
func (f *folder) open(root *os.Root, e entry) (*os.File, fs.FileInfo, error) {
	name := e.name
	file, err := root.Open(e.path)
	if err != nil {
		if strings.Contains(err.Error(), "escapes") {
			return nil, nil, sdk.ConfigError("/folder", "%s leads outside the folder %s: refused, because the connector reads only inside its folder", name, f.shown)
		}
		return nil, nil, err
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		file.Close()
		return nil, nil, fmt.Errorf("%s is no longer a regular file", name)
	}
	return file, st, nil
}
