package deploy

import (
	"bytes"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/sources/registry"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/yabandpay"
)

// composeFile is the part of the Compose specification deploy/compose.yaml uses. Unknown keys in a service
// are refused, so a misspelt key fails here instead of being ignored by docker compose.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
	// x-… extension fields, used as YAML anchors.
	Extensions map[string]any `yaml:",inline"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
		Target     string `yaml:"target"`
	} `yaml:"build"`
	User            string            `yaml:"user"`
	ReadOnly        bool              `yaml:"read_only"`
	Tmpfs           []string          `yaml:"tmpfs"`
	CapDrop         []string          `yaml:"cap_drop"`
	SecurityOpt     []string          `yaml:"security_opt"`
	Entrypoint      []string          `yaml:"entrypoint"`
	Command         []string          `yaml:"command"`
	Environment     map[string]string `yaml:"environment"`
	Volumes         []string          `yaml:"volumes"`
	Ports           []string          `yaml:"ports"`
	StopGracePeriod string            `yaml:"stop_grace_period"`
	Restart         string            `yaml:"restart"`
	DependsOn       map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for k := range c.Extensions {
		if !strings.HasPrefix(k, "x-") {
			t.Errorf("compose.yaml: unknown top-level key %q", k)
		}
	}
	return c
}

// invocation returns the binary and arguments a service runs: its command, or for a `/busybox/sh -c` script
// the command the script finally execs.
func (s composeService) invocation(t *testing.T) (string, []string) {
	t.Helper()
	argv := s.Command
	if slices.Equal(s.Entrypoint, []string{"/busybox/sh", "-c"}) {
		if len(s.Command) != 1 {
			t.Fatalf("a shell entrypoint with command %q", s.Command)
		}
		i := strings.LastIndex(s.Command[0], "exec ")
		if i < 0 {
			t.Fatalf("script %q does not exec the binary (it would not get SIGTERM)", s.Command[0])
		}
		cmd, _, _ := strings.Cut(s.Command[0][i+len("exec "):], ">")
		argv = strings.Fields(cmd)
	} else if len(s.Entrypoint) > 0 {
		t.Fatalf("entrypoint %q", s.Entrypoint)
	}
	if len(argv) == 0 {
		t.Fatal("no command")
	}
	return argv[0], argv[1:]
}

func TestCompose(t *testing.T) {
	t.Parallel()
	c := readCompose(t)
	bins := mizanBinaries(t)
	contract := contractEnv(t)
	for _, name := range []string{"kafka", "postgres", "simulator", "migrate", "topics", "poller", "reconciler"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("compose.yaml has no service %s", name)
		}
	}

	// Kafka is Apache Kafka in KRaft mode: one node that is broker and controller, no ZooKeeper.
	kafka := c.Services["kafka"]
	if !regexp.MustCompile(`^apache/kafka:\d+\.\d+\.\d+$`).MatchString(kafka.Image) {
		t.Errorf("kafka image %q, want apache/kafka at a pinned version", kafka.Image)
	}
	roles := strings.Split(kafka.Environment["KAFKA_PROCESS_ROLES"], ",")
	if !slices.Contains(roles, "broker") || !slices.Contains(roles, "controller") ||
		kafka.Environment["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "" || kafka.Environment["CLUSTER_ID"] == "" {
		t.Errorf("kafka is not a KRaft broker and controller: %v", kafka.Environment)
	}
	for svcName, svc := range c.Services {
		for k := range svc.Environment {
			if strings.Contains(strings.ToUpper(k), "ZOOKEEPER") {
				t.Errorf("service %s: %s: KRaft needs no ZooKeeper", svcName, k)
			}
		}
		if strings.Contains(svc.Image, "zookeeper") {
			t.Errorf("service %s runs ZooKeeper", svcName)
		}
	}
	advertised := map[string]bool{}
	for _, l := range strings.Split(kafka.Environment["KAFKA_ADVERTISED_LISTENERS"], ",") {
		if _, hostport, ok := strings.Cut(l, "://"); ok {
			advertised[hostport] = true
		}
	}
	pg := c.Services["postgres"]
	dbRoles := composeRoles(t, pg)

	// The simulator: its address and the token pair it writes for the poller.
	sim := c.Services["simulator"]
	simBin, simArgs := sim.invocation(t)
	if simBin != "simulator" {
		t.Fatalf("the simulator service runs %s", simBin)
	}
	simAddr, simSlugs := "", ""
	for i := 0; i+1 < len(simArgs); i++ {
		switch simArgs[i] {
		case "--addr":
			simAddr = simArgs[i+1]
		case "--business":
			simSlugs = simArgs[i+1]
		}
	}
	_, simPort, _ := strings.Cut(simAddr, ":")
	if !strings.HasPrefix(simAddr, "0.0.0.0:") || simPort == "" {
		t.Errorf("the simulator listens on %q: other containers cannot reach it", simAddr)
	}
	// cmd/simulator prints VANDAR_<SLUG>_ACCESS_TOKEN and _REFRESH_TOKEN for each business.
	simEnv := map[string]string{}
	for _, slug := range strings.Split(simSlugs, ",") {
		v := "VANDAR_" + strings.ToUpper(strings.ReplaceAll(slug, "-", "_"))
		simEnv[v+"_ACCESS_TOKEN"], simEnv[v+"_REFRESH_TOKEN"] = "set", "set"
	}
	_, tokenFile, _ := strings.Cut(sim.Command[0], "> ")

	for _, name := range []string{"migrate", "topics", "poller", "reconciler", "simulator"} {
		svc := c.Services[name]
		// The image's security, as in Kubernetes: user 65532, read-only root, no capabilities.
		if svc.Build == nil || svc.Build.Context != ".." || svc.Image != "mizan:dev" {
			t.Errorf("service %s is not built from the repository's Dockerfile", name)
		}
		if svc.User != "65532:65532" || !svc.ReadOnly || !slices.Equal(svc.CapDrop, []string{"ALL"}) ||
			!slices.Contains(svc.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("service %s: user %q, read_only %v, cap_drop %v, security_opt %v", name, svc.User, svc.ReadOnly, svc.CapDrop, svc.SecurityOpt)
		}
		if name == "simulator" {
			continue
		}
		binName, args := svc.invocation(t)
		bin, ok := bins[binName]
		if !ok {
			t.Errorf("service %s runs %s, not poller or reconciler", name, binName)
			continue
		}
		sub, flags, problem := bin.check(args)
		if problem != "" {
			t.Errorf("service %s: %s %q: %s", name, binName, args, problem)
			continue
		}
		// Every variable is in the contract, and each the subcommand requires is set.
		for k := range svc.Environment {
			if !contract[k] {
				t.Errorf("service %s: %s is not in the configuration contract", name, k)
			}
		}
		for _, k := range bin.subcommands[sub].requiredEnv {
			if svc.Environment[k] == "" {
				t.Errorf("service %s: %s %s requires %s", name, binName, sub, k)
			}
		}
		if v, ok := svc.Environment["SLACK_WEBHOOK_URL"]; ok && !strings.HasPrefix(v, "${") {
			t.Errorf("service %s: SLACK_WEBHOOK_URL must come from the caller's environment, not the file", name)
		}
		// The addresses point at the services of this file, and at roles its postgres creates: the migrations
		// as the database's owner, the commands as a member of mizan_app; never as the superuser.
		if v := svc.Environment["DATABASE_URL"]; v != "" {
			u, err := url.Parse(v)
			if err != nil {
				t.Fatalf("service %s: DATABASE_URL: %v", name, err)
			}
			pw, _ := u.User.Password()
			role, ok := dbRoles.login[u.User.Username()]
			switch {
			case u.Host != "postgres:5432" || strings.TrimPrefix(u.Path, "/") != pg.Environment["POSTGRES_DB"]:
				t.Errorf("service %s: DATABASE_URL %s is not the postgres service's database", name, v)
			case u.User.Username() == pg.Environment["POSTGRES_USER"]:
				t.Errorf("service %s connects as the superuser %s", name, u.User.Username())
			case !ok || role.password != pw:
				t.Errorf("service %s: DATABASE_URL's user %s is not a login role %s creates with that password", name, u.User.Username(), dbRoles.file)
			case sub == "migrate" && u.User.Username() != dbRoles.dbOwner[pg.Environment["POSTGRES_DB"]]:
				t.Errorf("service %s migrates as %s, not as the database's owner %s", name, u.User.Username(), dbRoles.dbOwner[pg.Environment["POSTGRES_DB"]])
			case sub != "migrate" && (!role.app || u.User.Username() == dbRoles.dbOwner[pg.Environment["POSTGRES_DB"]]):
				t.Errorf("service %s connects as %s, which is not a member of mizan_app or owns the database", name, u.User.Username())
			}
		}
		if v := svc.Environment["KAFKA_BROKERS"]; v != "" {
			for _, b := range strings.Split(v, ",") {
				if !advertised[b] {
					t.Errorf("service %s: broker %s is not a listener kafka advertises (%v)", name, b, advertised)
				}
			}
		}
		// Setup runs first: the database and the broker are up before the one-shots, and the one-shots have
		// succeeded before the long-running services start.
		want := map[string]string{"migrate": "postgres", "topics": "kafka"}
		for dep, cond := range svc.DependsOn {
			if want[name] == dep && cond.Condition != "service_healthy" {
				t.Errorf("service %s starts before %s is healthy", name, dep)
			}
		}
		if dep := want[name]; dep != "" {
			if _, ok := svc.DependsOn[dep]; !ok {
				t.Errorf("service %s does not wait for %s", name, dep)
			}
		}
		if name == "poller" || name == "reconciler" {
			for _, dep := range []string{"migrate", "topics"} {
				if svc.DependsOn[dep].Condition != "service_completed_successfully" {
					t.Errorf("service %s starts before %s has completed", name, dep)
				}
			}
		}
		if sub == "topics" && flags["replication"] != "1" {
			t.Errorf("topics --replication %q: the compose cluster has one broker", flags["replication"])
		}
	}

	// The reconciler accepts what the poller signs.
	pk := strings.Split(c.Services["poller"].Environment["MIZAN_SIGNING_KEYS"], ",")[0]
	if rk := c.Services["reconciler"].Environment["MIZAN_SIGNING_KEYS"]; pk == "" || !slices.Contains(strings.Split(rk, ","), pk) {
		t.Errorf("the poller signs with %q, which is not among the reconciler's keys %q", pk, rk)
	}

	// The poller reads the simulator's token file and a sources file pointing at the simulator.
	poller := c.Services["poller"]
	if !strings.Contains(poller.Command[0], ". "+tokenFile+" ") {
		t.Errorf("the poller does not read the simulator's token file %s: %q", tokenFile, poller.Command[0])
	}
	if poller.DependsOn["simulator"].Condition != "service_healthy" {
		t.Error("the poller starts before the simulator has written its tokens")
	}
	sources := ""
	for _, v := range poller.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == poller.Environment["MIZAN_SOURCES"] {
			sources = parts[0]
		}
		if len(parts) >= 2 && parts[1] == path.Dir(tokenFile) && !slices.Contains(sim.Volumes, parts[0]+":"+parts[1]) {
			t.Errorf("the poller mounts %s from %s, not from the simulator's volume %v", parts[1], parts[0], sim.Volumes)
		}
	}
	if sources == "" {
		t.Fatalf("MIZAN_SOURCES=%s is not a file mounted into the poller", poller.Environment["MIZAN_SOURCES"])
	}
	b, err := os.ReadFile(filepath.FromSlash(sources))
	if err != nil {
		t.Fatal(err)
	}
	// The real parser, given only the variables the simulator writes: the names must be the simulator's.
	s, err := config.ParseSources(b, func(k string) string { return simEnv[k] }, registry.Providers())
	if err != nil {
		t.Fatalf("%s: %v", sources, err)
	}
	for _, src := range s.Sources {
		var urls []string
		switch v := src.Settings.(type) {
		case vandar.Settings:
			urls = []string{v.APIURL, v.BatchURL}
		case yabandpay.Settings:
			urls = []string{v.APIURL}
		}
		for _, raw := range urls {
			u, err := url.Parse(raw)
			if err != nil || u.Host != "simulator:"+simPort {
				t.Errorf("source %s: %s is not the simulator (simulator:%s)", src.Name, raw, simPort)
			}
		}
	}
}

// sqlRoles is what the SQL scripts the postgres service runs at initialisation make of roles.
type sqlRoles struct {
	file    string
	login   map[string]sqlRole // LOGIN roles by name
	dbOwner map[string]string  // database → its owner
}

type sqlRole struct {
	password string
	app      bool // a member of mizan_app
}

// composeRoles reads the roles the postgres service creates: the SQL files mounted into its
// /docker-entrypoint-initdb.d. Every role there must be without SUPERUSER, CREATEDB, CREATEROLE.
func composeRoles(t *testing.T, pg composeService) sqlRoles {
	t.Helper()
	r := sqlRoles{login: map[string]sqlRole{}, dbOwner: map[string]string{}}
	create := regexp.MustCompile(`(?is)CREATE ROLE (\w+)([^;]*);`)
	owner := regexp.MustCompile(`(?i)ALTER DATABASE (\w+) OWNER TO (\w+)`)
	password := regexp.MustCompile(`(?i)PASSWORD '([^']*)'`)
	for _, v := range pg.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !strings.HasPrefix(parts[1], "/docker-entrypoint-initdb.d/") || !strings.HasSuffix(parts[1], ".sql") {
			continue
		}
		b, err := os.ReadFile(filepath.FromSlash(parts[0]))
		if err != nil {
			t.Fatal(err)
		}
		r.file = parts[0]
		for _, m := range create.FindAllStringSubmatch(string(b), -1) {
			opts := strings.ToUpper(m[2])
			for _, attr := range []string{"NOSUPERUSER", "NOCREATEDB", "NOCREATEROLE"} {
				if !strings.Contains(opts, attr) {
					t.Errorf("%s: role %s is created without %s", parts[0], m[1], attr)
				}
			}
			if !regexp.MustCompile(`\bLOGIN\b`).MatchString(strings.ReplaceAll(opts, "NOLOGIN", "")) {
				continue
			}
			role := sqlRole{app: regexp.MustCompile(`(?i)IN ROLE\s+mizan_app\b`).MatchString(m[2])}
			if pm := password.FindStringSubmatch(m[2]); pm != nil {
				role.password = pm[1]
			}
			r.login[m[1]] = role
		}
		for _, m := range owner.FindAllStringSubmatch(string(b), -1) {
			r.dbOwner[m[1]] = m[2]
		}
	}
	if len(r.login) < 2 {
		t.Fatalf("the postgres service creates %d login roles for mizan (mount a roles script into /docker-entrypoint-initdb.d)", len(r.login))
	}
	return r
}
