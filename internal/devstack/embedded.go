package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
)

// EmbeddedVersion is the PostgreSQL the embedded server runs: the major version production and CI run (15).
// Its binaries are the Maven Central package io.zonky.test.postgres:embedded-postgres-binaries-<os>-<arch>
// at this version, which fergusstrange/embedded-postgres downloads, checks against its SHA-256 and unpacks.
const EmbeddedVersion = embeddedpostgres.V15

// ChildCommand is the first argument with which an executable given as Options.Exe must call RunChild. As
// root, the embedded server is started by such a child, in a user namespace (see unprivileged): the library
// runs initdb and pg_ctl itself, as the calling process, and PostgreSQL refuses to run as root.
const ChildCommand = "__mizan-start-embedded-postgres"

// embedded is what starting the embedded server needs; the child gets it as JSON (the password stays in
// its file, out of the command line that ps shows).
type embedded struct {
	Data         string            // the data directory (kept between starts)
	Runtime      string            // scratch space the library empties at every start
	Binaries     string            // the unpacked binaries, shared by every embedded server of this user
	Downloads    string            // the library's cache of downloaded archives
	PasswordFile string            // the postgres role's password
	Log          string            // the server's start-up log
	Port         int               // where it listens, on 127.0.0.1
	Params       map[string]string // server settings (-c name=value)
}

// CacheDir is where mizan keeps what it downloads for local development, outside any clone so that every
// clone and `make clean` share it: $XDG_CACHE_HOME/mizan or ~/.cache/mizan (~/Library/Caches/mizan on macOS).
func CacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the embedded PostgreSQL's binaries: %w", err)
	}
	return filepath.Join(dir, "mizan"), nil
}

// embeddedBinaries is where the embedded server's binaries are unpacked in the cache.
func embeddedBinaries(cache string) string {
	return filepath.Join(cache, fmt.Sprintf("postgres-%s-%s-%s", EmbeddedVersion, runtime.GOOS, runtime.GOARCH))
}

// startEmbedded starts the embedded server in dir, downloading its binaries into the cache first if they are
// not there. It returns when the server answers; the server then runs on its own (pg_ctl detaches it).
func startEmbedded(ctx context.Context, dir string, port int, params map[string]string, exe string) error {
	cache, err := CacheDir()
	if err != nil {
		return err
	}
	pw := filepath.Join(dir, "password")
	if _, err := os.Stat(pw); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(pw, []byte(randomHex(16)), 0o600); err != nil {
			return err
		}
	}
	e := embedded{
		Data:         filepath.Join(dir, "data"),
		Runtime:      filepath.Join(dir, "runtime"),
		Binaries:     embeddedBinaries(cache),
		Downloads:    filepath.Join(cache, "downloads"),
		PasswordFile: pw,
		Log:          filepath.Join(dir, "server.log"),
		Port:         port,
		Params:       params,
	}
	// Every embedded server of this user unpacks into the same binaries directory: one at a time.
	unlock, err := lockDir(ctx, cache)
	if err != nil {
		return err
	}
	defer unlock()
	if os.Geteuid() != 0 {
		return e.start()
	}
	if exe == "" {
		return errors.New("as root, the embedded PostgreSQL is started by a child process in a user namespace, " +
			"and this program cannot be that child: start it with `make test` or `bin/demo postgres start`, " +
			"or set TEST_DATABASE_URL")
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, ChildCommand, string(b))
	unprivileged(cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("start the embedded PostgreSQL (as nobody, in a user namespace): %w: %s", rootHint(err),
			strings.TrimSpace(string(out)))
	}
	return nil
}

// RunChild starts the embedded server described by args (ChildCommand's argument) in this process. An
// executable given as Options.Exe calls it when its first argument is ChildCommand.
func RunChild(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s takes one argument", ChildCommand)
	}
	var e embedded
	if err := json.Unmarshal([]byte(args[0]), &e); err != nil {
		return fmt.Errorf("%s: %w", ChildCommand, err)
	}
	return e.start()
}

// start runs the library in this process: download and unpack the binaries unless they are there, initdb
// unless the data directory holds a cluster of this version, pg_ctl start, wait until it answers.
func (e embedded) start() error {
	password, err := os.ReadFile(e.PasswordFile)
	if err != nil {
		return err
	}
	// An unpacking cut short leaves bin/pg_ctl without the rest, and the library only looks for bin/pg_ctl:
	// a directory without the mark of a finished start is unpacked again.
	complete := filepath.Join(e.Binaries, ".complete")
	if _, err := os.Stat(complete); err != nil {
		if err := os.RemoveAll(e.Binaries); err != nil {
			return err
		}
	}
	for _, d := range []string{e.Downloads, filepath.Dir(e.Data)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	log, err := os.OpenFile(e.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	params := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"unix_socket_directories": "", // TCP only: a socket path under a deep cache directory can be too long
		// The server outlives the process that started it, whose temporary log file it would write to forever.
		"logging_collector": "on",
		"log_directory":     filepath.Join(filepath.Dir(e.Data), "log"),
	}
	for k, v := range e.Params {
		params[k] = v
	}
	cfg := embeddedpostgres.DefaultConfig().
		Version(EmbeddedVersion).
		Port(uint32(e.Port)).
		Username("postgres").
		Password(string(password)).
		Database("postgres").
		Locale("C").
		Encoding("UTF8").
		DataPath(e.Data).
		RuntimePath(e.Runtime).
		BinariesPath(e.Binaries).
		CachePath(e.Downloads).
		StartParameters(params).
		StartTimeout(2 * time.Minute). // a loaded 2-core machine, a first initdb
		Logger(log)
	if err := embeddedpostgres.NewDatabase(cfg).Start(); err != nil {
		return fmt.Errorf("embedded PostgreSQL %s (binaries from Maven Central, cached in %s): %w",
			EmbeddedVersion, e.Downloads, err)
	}
	return os.WriteFile(complete, nil, 0o600)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b)
}
