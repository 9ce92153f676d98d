//go:build !unix

package devstack

import (
	"context"
	"errors"
)

// lockDir is not implemented outside Unix, where mizan's local PostgreSQL tools do not run.
func lockDir(context.Context, string) (func(), error) {
	return nil, errors.New("starting a local PostgreSQL is supported on Linux and macOS only")
}
