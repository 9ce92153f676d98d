package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// readVersion returns the file VERSION: the release the repository is at, vX.Y.Z (docs/release.md). It is
// the one source the image tag, the chart and the example manifests follow.
func readVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(b))
	if !regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$`).MatchString(v) {
		t.Fatalf("VERSION %q is not vMAJOR.MINOR.PATCH[-PRERELEASE]", v)
	}
	return v
}

// TestReleaseVersionsAgree checks that what a release produces is what the examples run: the git tag and
// image tag VERSION, the chart's appVersion and version, the example overlay's image tag, the CHANGELOG
// entry, and every place the docs name a release.
func TestReleaseVersionsAgree(t *testing.T) {
	t.Parallel()
	version := readVersion(t)

	ch := loadChart(t)
	if ch.Metadata.AppVersion != version {
		t.Errorf("deploy/helm/mizan/Chart.yaml appVersion %q, VERSION %q", ch.Metadata.AppVersion, version)
	}
	if want := strings.TrimPrefix(version, "v"); ch.Metadata.Version != want {
		t.Errorf("deploy/helm/mizan/Chart.yaml version %q, want %q (VERSION without its v)", ch.Metadata.Version, want)
	}
	if tag := ch.Values["image"].(map[string]any)["tag"]; tag != "" {
		t.Errorf("the chart's values.yaml sets image.tag %q: leave it empty, so the image is the appVersion", tag)
	}

	b, err := os.ReadFile(filepath.Join("overlays", "example", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k types.Kustomization
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatalf("overlays/example/kustomization.yaml: %v", err)
	}
	pinned := false
	for _, img := range k.Images {
		if img.Name == image {
			pinned = true
			if img.NewTag != version || img.NewName != "" || img.Digest != "" {
				t.Errorf("the example overlay runs %s:%s (name %q, digest %q), want the release %s", image, img.NewTag, img.NewName, img.Digest, version)
			}
		}
	}
	if !pinned {
		t.Errorf("the example overlay does not pin %s", image)
	}

	changelog, err := os.ReadFile(filepath.Join(repoRoot, "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^## ` + regexp.QuoteMeta(version) + `\b`).Match(changelog) {
		t.Errorf("CHANGELOG.md has no entry `## %s`", version)
	}

	// Every release the docs, the examples and their comments name is this one.
	named := regexp.MustCompile(`(?:mizan:|mizan-migrate-|mizan-topics-|\bVERSION=|\bTAG=|--version )(v?\d+\.\d+\.\d+[0-9A-Za-z.-]*)`)
	var files []string
	for _, pattern := range []string{"../README.md", "../docs/*.md", "../Dockerfile", "overlays/*/*.yaml", "helm/*.yaml", "helm/mizan/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range named.FindAllStringSubmatch(string(b), -1) {
			if v := m[1]; v != version && v != strings.TrimPrefix(version, "v") {
				t.Errorf("%s names the release %s (%q); VERSION is %s", f, v, m[0], version)
			}
		}
	}
}
