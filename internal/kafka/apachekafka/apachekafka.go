// Package apachekafka runs a real Apache Kafka broker on loopback, for the tests that must prove behaviour on
// the real thing (`make test-kafka`), the fault suite's `--broker real` and a developer's `make kafka`.
//
// The broker is Apache Kafka's own server, org.apache.kafka:kafka_2.13 at Version, fetched with its runtime
// dependencies from Maven Central by `mvn dependency:copy-dependencies` into a cache folder outside the
// repository (~/.cache/mizan/kafka-<Version>) and run on the machine's Java (17 or newer) in KRaft mode: one
// process that is both broker and controller, its storage formatted once per directory. Nothing is downloaded
// at run time but by Maven, once.
//
// kfake (kafka.StartEmbedded) stays the fast default of the tests and of `make run`; this broker is what
// kfake cannot be: a server that refuses the protocol versions Kafka has removed (KIP-896), takes seconds to
// start and to elect, and recovers its logs after a crash like a production broker does.
package apachekafka

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mizanhq/mizan/internal/kafka"
)

// Version is the Apache Kafka release every real-broker test, the fault suite and CI run: the one place it is
// named. MIZAN_KAFKA_VERSION overrides it for one run (to try another release by hand); docs/kafka.md lists
// the releases tested.
const Version = "4.4.0"

// EnvVersion names the environment variable that overrides Version.
const EnvVersion = "MIZAN_KAFKA_VERSION"

// log4jSLF4J binds Kafka's SLF4J 1.7 logging to the log4j2 that kafka_2.13 depends on: the server jar does not
// depend on a binding (Kafka's own distribution adds it), and without one the broker logs nothing.
const log4jSLF4J = "org.apache.logging.log4j:log4j-slf4j-impl:2.24.3"

// MaxMessageBytes is the broker's message.max.bytes, the largest record batch it accepts: Kafka's default,
// set explicitly so that it is known (kfake's default is the same).
const MaxMessageBytes = 1048588

// Partitions is the broker's num.partitions, for topics created without a count.
const Partitions = 3

// Release returns the release to run: MIZAN_KAFKA_VERSION or Version.
func Release() string { return cmp.Or(os.Getenv(EnvVersion), Version) }

// Options configure a broker. Only Dir is required.
type Options struct {
	// Dir holds the broker's state: its log directory (topics, committed offsets, the metadata log), its
	// configuration and the ports it listens on. A broker started again on the same Dir continues where the
	// last one stopped, on the same ports. Required.
	Dir string

	// CacheDir holds the downloaded jars. Default: the user's cache directory, mizan/kafka-<version>.
	CacheDir string

	// Log receives the broker's output (log4j to stdout). Default: Dir/broker.log, appended to.
	Log io.Writer

	// Heap is the JVM's -Xmx. Default "768m": enough for the tests, small beside everything else on the machine.
	Heap string

	// Detach starts the broker in a session of its own that outlives this process (`make kafka`); Stop it by
	// its pid file (StopDir). Default false: the broker dies with this process, whatever kills it.
	Detach bool

	// StartTimeout bounds the wait for readiness, a safety net for a loaded machine. Default 3 minutes.
	StartTimeout time.Duration
}

// Broker is a running broker process.
type Broker struct {
	dir  string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // after done
}

// state is what Dir remembers between starts: the ports (clients reconnect to the same address after a
// restart) and the cluster id the storage was formatted with.
type state struct {
	Port           int    `json:"port"`
	ControllerPort int    `json:"controller_port"`
	ClusterID      string `json:"cluster_id"`
}

// Start installs the jars if they are not cached yet, formats Dir's storage if it is new, starts the broker
// and returns once it answers a metadata request.
func Start(ctx context.Context, o Options) (*Broker, error) {
	if o.Dir == "" {
		return nil, errors.New("apachekafka: no directory")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	o.Heap = cmp.Or(o.Heap, "768m")
	o.StartTimeout = cmp.Or(o.StartTimeout, 3*time.Minute)
	libs, err := Install(ctx, o.CacheDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	st, err := loadState(dir)
	if err != nil {
		return nil, err
	}
	if err := writeConfig(dir, st); err != nil {
		return nil, err
	}
	if err := format(ctx, dir, libs, st.ClusterID); err != nil {
		return nil, err
	}

	logw := o.Log
	var logFile *os.File
	if logw == nil {
		if logFile, err = os.OpenFile(filepath.Join(dir, "broker.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			return nil, err
		}
		logw = logFile
	}
	cmd := java(libs, dir, "-Xms256m", "-Xmx"+o.Heap, "kafka.Kafka", filepath.Join(dir, "server.properties"))
	cmd.Stdout, cmd.Stderr = logw, logw
	if o.Detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the tests
	}
	if err := cmd.Start(); err != nil {
		if logFile != nil {
			logFile.Close()
		}
		return nil, fmt.Errorf("start the Kafka broker: %w", err)
	}
	b := &Broker{dir: dir, addr: "127.0.0.1:" + strconv.Itoa(st.Port), cmd: cmd, done: make(chan struct{})}
	go func() {
		b.err = cmd.Wait()
		if logFile != nil {
			logFile.Close()
		}
		close(b.done)
	}()
	if err := os.WriteFile(pidFile(dir), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		b.Kill()
		return nil, err
	}
	if err := b.waitReady(ctx, o.StartTimeout); err != nil {
		b.Kill()
		return nil, err
	}
	return b, nil
}

// Addr is the broker's bootstrap address, host:port (plain TCP, no authentication).
func (b *Broker) Addr() string { return b.addr }

// Pid is the broker's process id.
func (b *Broker) Pid() int { return b.cmd.Process.Pid }

// Done is closed when the broker process has exited.
func (b *Broker) Done() <-chan struct{} { return b.done }

// Kill crashes the broker (SIGKILL: no controlled shutdown, no flush; the next start recovers its logs) and
// waits for it to exit.
func (b *Broker) Kill() {
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.done
}

// Stop shuts the broker down cleanly (SIGTERM) and waits up to grace, then kills it. It returns how the
// process ended: nil for a clean exit.
func (b *Broker) Stop(grace time.Duration) error {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(grace):
		b.Kill()
		return fmt.Errorf("the Kafka broker did not stop within %s of SIGTERM; killed it", grace)
	}
	// The JVM exits with 143 (128+SIGTERM) after a clean shutdown hook.
	var exit *exec.ExitError
	if errors.As(b.err, &exit) && exit.ExitCode() == 143 {
		return nil
	}
	return b.err
}

// waitReady polls the broker with metadata requests until it answers, it exits, or the timeout passes.
// Readiness is the broker's own answer, never a sleep: a JVM takes from a few seconds to a minute to start
// here, depending on what else the machine runs.
func (b *Broker) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cfg := kafka.Config{Brokers: []string{b.addr}, ClientID: "mizan-readiness", DialTimeout: 2 * time.Second,
		WriteTimeout: 5 * time.Second}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		last = kafka.Ping(pctx, cfg)
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-b.done:
			return fmt.Errorf("the Kafka broker exited before it was ready (%v); its log:\n%s", b.err, b.tail(30))
		case <-ctx.Done():
			return fmt.Errorf("the Kafka broker on %s was not ready within %s (last: %v); its log:\n%s", b.addr,
				timeout, last, b.tail(30))
		case <-tick.C:
		}
	}
}

func (b *Broker) tail(n int) string { return Tail(b.dir, n) }

// Tail returns the last n lines of the broker log in dir.
func Tail(dir string, n int) string {
	data, err := os.ReadFile(filepath.Join(dir, "broker.log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Running returns the bootstrap address and pid of the broker a detached Start left running in dir, or an
// error saying why there is none.
func Running(ctx context.Context, dir string) (addr string, pid int, err error) {
	pid, err = readPid(dir)
	if errors.Is(err, os.ErrNotExist) {
		return "", 0, fmt.Errorf("no broker was started in %s", dir)
	}
	if err != nil {
		return "", 0, err
	}
	if !isKafka(pid) {
		return "", 0, fmt.Errorf("the broker of %s (pid %d) is not running", dir, pid)
	}
	st, err := loadState(dir)
	if err != nil {
		return "", 0, err
	}
	addr = "127.0.0.1:" + strconv.Itoa(st.Port)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := kafka.Ping(pctx, kafka.Config{Brokers: []string{addr}, DialTimeout: 2 * time.Second}); err != nil {
		return addr, pid, fmt.Errorf("the broker of %s (pid %d) does not answer on %s: %w", dir, pid, addr, err)
	}
	return addr, pid, nil
}

// StopDir stops the broker a detached Start left running in dir: SIGTERM, then SIGKILL after grace. A broker
// that is not running is no error.
func StopDir(dir string, grace time.Duration) error {
	pid, err := readPid(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer os.Remove(pidFile(dir))
	if !isKafka(pid) {
		return nil // gone already, or the pid was reused by another program
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for isKafka(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return fmt.Errorf("the broker (pid %d) did not stop within %s of SIGTERM; killed it", pid, grace)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// isKafka reports whether pid is a live broker process (not a zombie, not a pid reused by another program).
func isKafka(pid int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "kafka.Kafka") {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name: Z is a zombie, which has exited.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func pidFile(dir string) string { return filepath.Join(dir, "broker.pid") }

func readPid(dir string) (int, error) {
	data, err := os.ReadFile(pidFile(dir))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// loadState reads Dir's ports and cluster id, choosing and saving them the first time.
func loadState(dir string) (state, error) {
	path := filepath.Join(dir, "state.json")
	var st state
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &st); err != nil {
			return st, fmt.Errorf("read %s: %w", path, err)
		}
		return st, nil
	case !errors.Is(err, os.ErrNotExist):
		return st, err
	}
	if st.Port, err = freePort(); err != nil {
		return st, err
	}
	for st.ControllerPort == 0 || st.ControllerPort == st.Port {
		if st.ControllerPort, err = freePort(); err != nil {
			return st, err
		}
	}
	st.ClusterID = newClusterID()
	data, _ = json.MarshalIndent(st, "", "  ")
	return st, os.WriteFile(path, data, 0o644)
}

// newClusterID returns a Kafka cluster id: a random UUID in URL-safe base64 without padding, as
// `kafka-storage random-uuid` prints — and, like Kafka's own Uuid.randomUuid, never one that starts with "-",
// which a command line takes for an option (one in 64 did: "--cluster-id: expected one argument").
func newClusterID() string {
	for {
		id := make([]byte, 16)
		_, _ = rand.Read(id)
		if s := base64.RawURLEncoding.EncodeToString(id); s[0] != '-' {
			return s
		}
	}
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// writeConfig writes server.properties and the log4j2 configuration.
//
// One node, both roles, a static voter set of itself. Everything that defaults to three replicas is one
// replica; the group coordinator starts a group's first rebalance at once instead of after 3s, and the
// offsets topic has 3 partitions instead of 50, which makes the first group join of a fresh broker seconds
// faster. Auto-creation is off, as the project's production advice says: a test that forgets to create its
// topics fails here as it would there.
func writeConfig(dir string, st state) error {
	props := fmt.Sprintf(`# Written by mizan's internal/kafka/apachekafka on every start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[2]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=%[3]s
num.partitions=%[4]d
default.replication.factor=1
min.insync.replicas=1
message.max.bytes=%[5]d
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
`, st.Port, st.ControllerPort, filepath.Join(dir, "data"), Partitions, MaxMessageBytes)
	if err := os.WriteFile(filepath.Join(dir, "server.properties"), []byte(props), 0o644); err != nil {
		return err
	}
	// INFO to stdout, as Kafka's own config/log4j2.yaml does, without the chatty request logs.
	log4j := `status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
`
	return os.WriteFile(filepath.Join(dir, "log4j2.properties"), []byte(log4j), 0o644)
}

// format formats the storage once: a directory that holds meta.properties has been formatted already.
func format(ctx context.Context, dir, libs, clusterID string) error {
	if _, err := os.Stat(filepath.Join(dir, "data", "meta.properties")); err == nil {
		return nil
	}
	cmd := java(libs, dir, "-Xmx256m", "kafka.tools.StorageTool", "format", "--cluster-id="+clusterID, "-c",
		filepath.Join(dir, "server.properties"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("format the Kafka storage in %s: %v\n%s", dir, err, lastLines(string(out), 20))
	}
	return nil
}

// java builds a command running class on the cached jars.
func java(libs, dir string, args ...string) *exec.Cmd {
	bin := "java"
	if home := os.Getenv("JAVA_HOME"); home != "" {
		bin = filepath.Join(home, "bin", "java")
	}
	jvm := []string{"-cp", filepath.Join(libs, "*"),
		"-Dlog4j2.configurationFile=" + filepath.Join(dir, "log4j2.properties"),
		"-Djava.awt.headless=true", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"}
	cmd := exec.Command(bin, append(jvm, args...)...)
	cmd.Dir = dir
	return cmd
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Install fetches kafka_2.13 at the configured version and its runtime dependencies into cacheDir (default
// ~/.cache/mizan/kafka-<version>) with Maven, unless they are there already, and returns the folder of jars.
// Several processes may call it at once: a lock file lets one of them download while the others wait.
func Install(ctx context.Context, cacheDir string) (string, error) {
	v := Release()
	if cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory for the Kafka jars: %w", err)
		}
		cacheDir = filepath.Join(base, "mizan", "kafka-"+v)
	}
	libs := filepath.Join(cacheDir, "libs")
	complete := filepath.Join(cacheDir, "complete")
	if _, err := os.Stat(complete); err == nil {
		return libs, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(cacheDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(complete); err == nil {
		return libs, nil // another process installed it while this one waited
	}

	gav := strings.Split(log4jSLF4J, ":")
	g, a, bv := gav[0], gav[1], gav[2]
	pom := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by mizan's internal/kafka/apachekafka: the Apache Kafka broker and its runtime dependencies. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.mizan.local</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>%[1]s</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>%[1]s</version></dependency>
    <dependency><groupId>%[2]s</groupId><artifactId>%[3]s</artifactId><version>%[4]s</version></dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version>
      </plugin>
    </plugins>
  </build>
</project>
`, v, g, a, bv)
	pomPath := filepath.Join(cacheDir, "pom.xml")
	if err := os.WriteFile(pomPath, []byte(pom), 0o644); err != nil {
		return "", err
	}
	tmp := libs + ".tmp"
	_ = os.RemoveAll(tmp)
	_ = os.RemoveAll(libs)
	cmd := exec.CommandContext(ctx, "mvn", "-B", "-q", "-f", pomPath, "dependency:copy-dependencies",
		"-DincludeScope=runtime", "-DoutputDirectory="+tmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", errors.New("mvn is not installed: apt-get install maven openjdk-17-jre-headless")
		}
		return "", fmt.Errorf("fetch Apache Kafka %s with Maven: %v\n%s", v, err, lastLines(string(out), 30))
	}
	if err := os.Rename(tmp, libs); err != nil {
		return "", err
	}
	if err := os.WriteFile(complete, []byte(v+"\n"), 0o644); err != nil {
		return "", err
	}
	return libs, nil
}
