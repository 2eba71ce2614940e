package supervisor

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTruncate(t *testing.T) {
	t.Parallel()
	a := strings.Repeat("a", 499)
	tests := map[string]struct{ in, want string }{
		"short":                     {in: "the registry does not answer", want: "the registry does not answer"},
		"exactly 500 bytes":         {in: a + "b", want: a + "b"},
		"longer: cut at 500 bytes":  {in: a + "bcdef", want: a + "b…"},
		"never inside a character":  {in: a + "èèè", want: a + "…"},
		"a character ending at 500": {in: a[:498] + "è" + "xyz", want: a[:498] + "è…"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, truncate(tc.in)); diff != "" {
				t.Errorf("truncate (-want +got):\n%s", diff)
			}
		})
	}
}
