package main

import (
	"encoding/json"
	"errors"
	"os"

	"github.com/segloop/segloop/internal/safefile"
	"github.com/segloop/segloop/mapping"
)

// runSpec is what shapes a run's events: the mapping (--map) and the trigger
// object (--trigger), with the files' bytes, which the run's fingerprint
// covers.
type runSpec struct {
	mapping   *mapping.Mapping
	trigger   map[string]any
	mapBytes  []byte // nil for the default mapping
	trigBytes []byte // nil without --trigger
}

// loadSpec reads and checks the --map and --trigger files, adding them to
// files as inputs. Every fault is a usage error.
func loadSpec(f *importFlags, files *safefile.Set) (*runSpec, error) {
	s := &runSpec{}
	var err error
	if s.mapping, s.mapBytes, err = loadMapping(f.mapFile, files); err != nil {
		return nil, err
	}
	if s.trigger, s.trigBytes, err = loadTrigger(f.triggerFile, files); err != nil {
		return nil, err
	}
	return s, nil
}

// loadMapping reads and checks the --map file; no file means the default
// mapping.
func loadMapping(name string, files *safefile.Set) (*mapping.Mapping, []byte, error) {
	if name == "" {
		return mapping.Default(), nil, nil
	}
	data, err := os.ReadFile(name)
	if err == nil {
		err = files.InputPath("--map", name)
	}
	if err != nil {
		return nil, nil, usageError("import: --map: %v", err)
	}
	m, err := mapping.Parse(data)
	if err != nil {
		return nil, nil, usageError("import: --map %s: %v", name, err)
	}
	return m, data, nil
}

// loadTrigger reads the --trigger file: one JSON object.
func loadTrigger(name string, files *safefile.Set) (map[string]any, []byte, error) {
	if name == "" {
		return nil, nil, nil
	}
	data, err := os.ReadFile(name)
	if err == nil {
		err = files.InputPath("--trigger", name)
	}
	if err != nil {
		return nil, nil, usageError("import: --trigger: %v", err)
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		return nil, nil, usageError("import: --trigger %s: want a JSON object: %v", name, err)
	}
	return obj, data, nil
}
