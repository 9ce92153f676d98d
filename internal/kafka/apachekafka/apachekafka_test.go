package apachekafka

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A directory keeps its ports and cluster id from one start to the next: clients reconnect to the same
// address after a restart, and the storage stays formatted for that cluster.
func TestStateIsChosenOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	first, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if first.Port == 0 || first.ControllerPort == 0 || first.Port == first.ControllerPort {
		t.Fatalf("ports %d and %d", first.Port, first.ControllerPort)
	}
	// Kafka's cluster ids are 16 bytes in URL-safe base64 without padding (kafka-storage random-uuid).
	if id, err := base64.RawURLEncoding.DecodeString(first.ClusterID); err != nil || len(id) != 16 {
		t.Fatalf("cluster id %q: %v, %d bytes", first.ClusterID, err, len(id))
	}
	again, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatalf("second load %+v, first %+v", again, first)
	}
}

func TestConfigIsOneLoopbackNodeOfBothRoles(t *testing.T) {
	dir := t.TempDir()
	st := state{Port: 40001, ControllerPort: 40002, ClusterID: "x"}
	if err := writeConfig(dir, st); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "server.properties"))
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			props[k] = v
		}
	}
	want := map[string]string{
		"process.roles":                    "broker,controller",
		"controller.quorum.voters":         "1@127.0.0.1:40002",
		"listeners":                        "PLAINTEXT://127.0.0.1:40001,CONTROLLER://127.0.0.1:40002",
		"advertised.listeners":             "PLAINTEXT://127.0.0.1:40001",
		"log.dirs":                         filepath.Join(dir, "data"),
		"message.max.bytes":                strconv.Itoa(MaxMessageBytes),
		"offsets.topic.replication.factor": "1",
		"auto.create.topics.enable":        "false",
	}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("%s = %q, want %q", k, props[k], v)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "log4j2.properties")); err != nil {
		t.Error(err)
	}
}

// A cluster id never starts with "-": kafka-storage format took one that did for an option and refused to
// format ("--cluster-id: expected one argument"), one start in 64. 10,000 draws would meet one about 156
// times if nothing prevented it.
func TestClusterIDsNeverStartWithADash(t *testing.T) {
	for range 10_000 {
		id := newClusterID()
		if strings.HasPrefix(id, "-") {
			t.Fatalf("cluster id %q", id)
		}
		if b, err := base64.RawURLEncoding.DecodeString(id); err != nil || len(b) != 16 {
			t.Fatalf("cluster id %q: %v, %d bytes", id, err, len(b))
		}
	}
}
