// Package schemas holds the JSON Schemas of the events other systems publish to mizan, versioned like their
// topics (expected.v1.json for mizan.expected.v1). A producer can validate against the same file mizan
// enforces; the files are embedded so the binary and the repository never disagree.
package schemas

import _ "embed"

// ExpectedV1 is the JSON Schema of a mizan.expected.v1 event's data.
//
//go:embed expected.v1.json
var ExpectedV1 []byte
