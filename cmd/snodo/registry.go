package main

import (
	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/schemas"
)

// registry compiles the embedded data contract with the hub's identifier
// formats.
func registry() (*schemas.Registry, error) {
	reg, err := schemas.Compile(identity.SchemaFormats()...)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return reg, nil
}
