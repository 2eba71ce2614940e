package yamldoc_test

import (
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/snodo-hub/snodo/plugins/sdk/yamldoc"
)

// A settings file checked against its schema: each problem says where it
// is, which value it is about and what is wrong.
func Example() {
	const schema = `{
  "type": "object",
  "required": ["source", "folder"],
  "properties": {
    "source": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
    "folder": {"type": "string"}
  }
}`
	settings := []byte("source: Anagrafe\nfolder:\n  - exports\n")

	c := jsonschema.NewCompiler()
	if err := c.AddResource("settings.schema.json", strings.NewReader(schema)); err != nil {
		panic(err)
	}
	s := c.MustCompile("settings.schema.json")

	root, err := yamldoc.Parse("settings.yaml", settings)
	if err != nil {
		fmt.Println(err) // file:line:column: not valid YAML or JSON: ...
		return
	}
	value, err := yamldoc.ToJSON("settings.yaml", root)
	if err != nil {
		fmt.Println(err) // a key given twice, say
		return
	}
	for _, p := range yamldoc.SchemaProblems("settings.yaml", root, s.Validate(value), nil) {
		fmt.Println(p)
	}
	// Output:
	// settings.yaml:1:9: /source: does not match pattern '^[a-z][a-z0-9-]*$'
	// settings.yaml:3:3: /folder: expected string, but got array
}
