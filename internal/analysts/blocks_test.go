package analysts_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mizanhq/mizan/internal/analysts"
)

func TestBlocks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		md   string
		want []analysts.Block
	}{
		{"an sql block under its heading", "# Top\n\n## 1. Question\n\n```sql\nSELECT 1;\n```\n",
			[]analysts.Block{{Line: 5, Heading: "1. Question", Text: "SELECT 1;\n"}}},
		{"other languages are skipped, sql ones kept in order",
			"```pgsql\nCREATE ROLE x;\n```\n```sql\nSELECT 1;\n```\n```sh\nkcat\n```\n```sql\nSELECT 2;\n```\n",
			[]analysts.Block{{Line: 4, Text: "SELECT 1;\n"}, {Line: 10, Text: "SELECT 2;\n"}}},
		{"a heading-like line inside a block is not a heading", "## A\n```sql\n# not a heading\n```\n```sql\nSELECT 1;\n```\n",
			[]analysts.Block{{Line: 2, Heading: "A", Text: "# not a heading\n"}, {Line: 5, Heading: "A", Text: "SELECT 1;\n"}}},
		{"a longer fence holds a shorter one", "````md\n```sql\nSELECT 0;\n```\n````\n```sql\nSELECT 1;\n```\n",
			[]analysts.Block{{Line: 6, Text: "SELECT 1;\n"}}},
		{"tilde fences and an info string with attributes", "~~~sql title=x\nSELECT 1;\n~~~\n",
			[]analysts.Block{{Line: 1, Text: "SELECT 1;\n", Info: "title=x"}}},
		{"an accountant's block says so after the language", "```sql accountant\nSELECT 1;\n```\n",
			[]analysts.Block{{Line: 1, Text: "SELECT 1;\n", Info: "accountant"}}},
		{"a block left open is returned as far as it goes", "```sql\nSELECT 1;\n",
			[]analysts.Block{{Line: 1, Text: "SELECT 1;\n"}}},
		{"no blocks", "just text\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, analysts.Blocks([]byte(tt.md), "sql")); diff != "" {
				t.Errorf("Blocks (-want +got):\n%s", diff)
			}
		})
	}
}
