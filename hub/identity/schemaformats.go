package identity

import "github.com/snodo-hub/snodo/schemas"

// SchemaFormats registers the identifier formats that the shared schemas
// use ("codice-fiscale" and "cf-provisional"), so that
// schemas.Compile(identity.SchemaFormats()...) checks them with the same
// rules as the keyed index.
func SchemaFormats() []schemas.Option {
	return []schemas.Option{
		schemas.WithFormat("codice-fiscale", CheckFormat),
		schemas.WithFormat("cf-provisional", func(v any) error { return checkStored(v, KindProvisional) }),
	}
}
