package deploy

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/sources/registry"
)

// image is the repository every mizan container runs.
const image = "ghcr.io/mizanhq/mizan"

// documentedSecrets are the Secrets the manifests reference and docs/deploy.md tells operators to create.
// The manifests never define them.
var documentedSecrets = []string{
	"mizan-database", "mizan-database-owner", "mizan-secret-key", "mizan-signing-keys", "mizan-provider-credentials",
	"mizan-slack", "mizan-kafka", "mizan-kafka-ca",
}

// secretName matches environment variables whose value must come from a Secret, never a literal.
var secretName = regexp.MustCompile(`(?i)TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|API_KEY|^DATABASE_URL$|^SLACK_WEBHOOK_URL$`)

// codecs decode strictly: an unknown or duplicated field is an error, as `kubectl apply --validate=strict`
// makes it. Only the API groups mizan uses are registered, so any other kind is an error too.
var codecs = func() serializer.CodecFactory {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(s, serializer.EnableStrict)
}()

// rendered is one kustomization built with kustomize (krusty, as `kubectl apply -k` does) and decoded.
type rendered struct {
	dir     string
	objects []runtime.Object
	helm    bool // rendered from the Helm chart (deploy/helm_test.go) rather than with kustomize
}

func render(t *testing.T, dir string) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	r := &rendered{dir: dir}
	for _, res := range m.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			t.Fatalf("%s %s: %v", res.GetKind(), res.GetName(), err)
		}
		obj, err := decodeStrict(y)
		if err != nil {
			t.Errorf("%s: %s %s: %v", dir, res.GetKind(), res.GetName(), err)
			continue
		}
		r.objects = append(r.objects, obj)
	}
	if len(r.objects) == 0 {
		t.Fatalf("%s renders nothing", dir)
	}
	return r
}

func decodeStrict(y []byte) (runtime.Object, error) {
	obj, _, err := codecs.UniversalDeserializer().Decode(y, nil, nil)
	return obj, err
}

// all returns every object of type T.
func all[T runtime.Object](r *rendered) []T {
	var out []T
	for _, o := range r.objects {
		if v, ok := o.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func find[T interface {
	runtime.Object
	GetName() string
}](t *testing.T, r *rendered, name string) T {
	t.Helper()
	for _, o := range all[T](r) {
		if o.GetName() == name {
			return o
		}
	}
	var zero T
	t.Fatalf("%s: no %T named %s", r.dir, zero, name)
	return zero
}

// workload is a pod template and what holds it.
type workload struct {
	kind, name string
	labels     map[string]string
	pod        corev1.PodTemplateSpec
}

func (w workload) String() string { return w.kind + "/" + w.name }

func (r *rendered) workloads() []workload {
	var out []workload
	for _, o := range r.objects {
		switch v := o.(type) {
		case *appsv1.Deployment:
			out = append(out, workload{"Deployment", v.Name, v.Labels, v.Spec.Template})
		case *batchv1.Job:
			out = append(out, workload{"Job", v.Name, v.Labels, v.Spec.Template})
		case *batchv1.CronJob:
			out = append(out, workload{"CronJob", v.Name, v.Labels, v.Spec.JobTemplate.Spec.Template})
		case *appsv1.StatefulSet, *appsv1.DaemonSet, *corev1.Pod, *appsv1.ReplicaSet:
			panic(fmt.Sprintf("workload kind %T is not checked", v))
		}
	}
	return out
}

func (r *rendered) configMap(name string) *corev1.ConfigMap {
	for _, cm := range all[*corev1.ConfigMap](r) {
		if cm.Name == name {
			return cm
		}
	}
	return nil
}

// sourcesOf returns the sources file a container reads: MIZAN_SOURCES must name a file in a mounted
// ConfigMap volume.
func (r *rendered) sourcesOf(t *testing.T, w workload, c corev1.Container) (config.Sources, *corev1.ConfigMap) {
	t.Helper()
	p := envValue(c, "MIZAN_SOURCES")
	if p == "" {
		t.Fatalf("%s: container %s has no MIZAN_SOURCES", w, c.Name)
	}
	for _, m := range c.VolumeMounts {
		rel, err := filepath.Rel(m.MountPath, p)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for _, v := range w.pod.Spec.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			cm := r.configMap(v.ConfigMap.Name)
			if cm == nil {
				t.Fatalf("%s: volume %s: no ConfigMap %s", w, v.Name, v.ConfigMap.Name)
			}
			data, ok := cm.Data[rel]
			if !ok {
				t.Fatalf("%s: MIZAN_SOURCES=%s but ConfigMap %s has no key %s", w, p, cm.Name, rel)
			}
			// The real parser, with every secret it names set: the file must be one the poller accepts.
			s, err := config.ParseSources([]byte(data), func(string) string { return "set" }, registry.Providers())
			if err != nil {
				t.Fatalf("%s: ConfigMap %s: %v", w, cm.Name, err)
			}
			return s, cm
		}
	}
	t.Fatalf("%s: MIZAN_SOURCES=%s is in no mounted ConfigMap", w, p)
	return config.Sources{}, nil
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// checkCommon checks what must hold for every rendered kustomization.
func checkCommon(t *testing.T, r *rendered) {
	bins := mizanBinaries(t)
	if len(all[*corev1.Secret](r)) > 0 {
		t.Errorf("%s defines a Secret: Secrets are created by the operator, never kept in the manifests", r.dir)
	}
	for _, cm := range all[*corev1.ConfigMap](r) {
		for k, v := range cm.Data {
			if secretName.MatchString(k) {
				t.Errorf("ConfigMap %s has a key %s: a secret belongs in a Secret", cm.Name, k)
			}
			if regexp.MustCompile(`://[^/\s]*:[^/\s]*@`).MatchString(v) {
				t.Errorf("ConfigMap %s key %s holds a URL with credentials", cm.Name, k)
			}
		}
	}
	for _, sa := range all[*corev1.ServiceAccount](r) {
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Errorf("ServiceAccount %s mounts its token", sa.Name)
		}
	}

	ws := r.workloads()
	if len(ws) == 0 {
		t.Fatalf("%s: no workload", r.dir)
	}
	for _, w := range ws {
		checkPod(t, r, w, bins)
	}

	// Setup: the migrate Job runs `reconciler migrate`, and the topics Job `reconciler topics`.
	for component, sub := range map[string]string{"migrate": "migrate", "topics": "topics"} {
		j := setupJob(t, r, component)
		name := j.Name
		c := j.Spec.Template.Spec.Containers[0]
		if path.Base(c.Command[0]) != "reconciler" || len(c.Args) == 0 || c.Args[0] != sub {
			t.Errorf("Job %s runs %q %q, want reconciler %s", name, c.Command, c.Args, sub)
		}
		if j.Spec.BackoffLimit == nil || j.Spec.TTLSecondsAfterFinished == nil || j.Spec.ActiveDeadlineSeconds == nil {
			t.Errorf("Job %s: backoffLimit, ttlSecondsAfterFinished and activeDeadlineSeconds must be set", name)
		}
		if r.helm {
			continue // Helm runs them as hooks before the rest: checkHooks.
		}
		if j.Labels["mizan/stage"] != "setup" {
			t.Errorf("Job %s lacks the label mizan/stage=setup that `kubectl apply -l` selects", name)
		}
		// What a setup Job needs must be applied with it.
		need := map[string]map[string]string{"ServiceAccount/" + j.Spec.Template.Spec.ServiceAccountName: nil}
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef != nil {
				need["ConfigMap/"+ef.ConfigMapRef.Name] = nil
			}
		}
		for _, o := range r.objects {
			m := o.(metav1.Object)
			key := o.GetObjectKind().GroupVersionKind().Kind + "/" + m.GetName()
			if _, ok := need[key]; ok {
				need[key] = m.GetLabels()
			}
		}
		for key, l := range need {
			if l["mizan/stage"] != "setup" {
				t.Errorf("Job %s needs %s, which lacks the label mizan/stage=setup", name, key)
			}
		}
	}
	checkDatabaseRoles(t, r)

	// The reconciler: probes, a grace period to finish a batch, at most one replica per partition, a PDB
	// and a metrics Service that select its pods.
	d := find[*appsv1.Deployment](t, r, "mizan-reconciler")
	checkServing(t, r, d)
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g < 30 {
		t.Errorf("reconciler terminationGracePeriodSeconds = %v, want at least 30 to finish a batch", g)
	}
	_, topicFlags, _ := bins["reconciler"].check(setupJob(t, r, "topics").Spec.Template.Spec.Containers[0].Args)
	partitions, err := strconv.Atoi(topicFlags["partitions"])
	if err != nil {
		t.Fatalf("topics Job: --partitions %q", topicFlags["partitions"])
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 1 || int(*d.Spec.Replicas) > partitions {
		t.Errorf("reconciler replicas = %d, want 1..%d (the partition count)", deref(d.Spec.Replicas), partitions)
	}
	pdbs := all[*policyv1.PodDisruptionBudget](r)
	if !slices.ContainsFunc(pdbs, func(p *policyv1.PodDisruptionBudget) bool { return selects(p.Spec.Selector, d.Spec.Template) }) {
		t.Error("no PodDisruptionBudget selects the reconciler's pods")
	}

	// The NetworkPolicy selects every pod and lets out only DNS, Kafka, PostgreSQL and HTTPS.
	nps := all[*networkingv1.NetworkPolicy](r)
	if len(nps) != 1 {
		t.Fatalf("%s: %d NetworkPolicies, want 1", r.dir, len(nps))
	}
	np := nps[0]
	for _, w := range ws {
		if !selects(&np.Spec.PodSelector, w.pod) {
			t.Errorf("NetworkPolicy %s does not select %s's pods", np.Name, w)
		}
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Error("the NetworkPolicy does not restrict egress")
	}
	var egress []string
	for _, rule := range np.Spec.Egress {
		for _, p := range rule.Ports {
			s := string(*p.Protocol) + "/" + p.Port.String()
			if p.EndPort != nil {
				s += "-" + strconv.Itoa(int(*p.EndPort))
			}
			egress = append(egress, s)
		}
		if len(rule.Ports) == 0 {
			t.Error("an egress rule without ports allows every port")
		}
	}
	slices.Sort(egress)
	if want := []string{"TCP/443", "TCP/53", "TCP/5432", "TCP/9092-9098", "UDP/53"}; !slices.Equal(egress, want) {
		t.Errorf("egress ports = %v, want %v", egress, want)
	}

	// Every Secret referenced is one the docs tell operators to create.
	docs, err := os.ReadFile(filepath.Join(repoRoot, "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range secretsReferenced(ws) {
		if !slices.Contains(documentedSecrets, name) {
			t.Errorf("Secret %s is referenced but not in documentedSecrets", name)
		}
		if !strings.Contains(string(docs), "`"+name+"`") {
			t.Errorf("docs/deploy.md does not tell operators to create the Secret `%s`", name)
		}
	}
}

// checkPod checks one workload's pod: security, the command against the binary's usage, its environment.
func checkPod(t *testing.T, r *rendered, w workload, bins map[string]*binary) {
	spec := w.pod.Spec
	if !slices.ContainsFunc(all[*corev1.ServiceAccount](r), func(sa *corev1.ServiceAccount) bool { return sa.Name == spec.ServiceAccountName }) {
		t.Errorf("%s: serviceAccountName %q is none of the ServiceAccounts applied with it", w, spec.ServiceAccountName)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s mounts a service account token", w)
	}
	if w.pod.Labels["app.kubernetes.io/name"] != "mizan" {
		t.Errorf("%s: pod template lacks app.kubernetes.io/name=mizan (the NetworkPolicy selects by it)", w)
	}
	if w.kind == "Job" || w.kind == "CronJob" {
		if spec.RestartPolicy != corev1.RestartPolicyNever && spec.RestartPolicy != corev1.RestartPolicyOnFailure {
			t.Errorf("%s: restartPolicy %q", w, spec.RestartPolicy)
		}
	}
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	if len(spec.Containers) == 0 {
		t.Fatalf("%s has no container", w)
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		where := fmt.Sprintf("%s container %s", w, c.Name)
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		// Pod Security Standard "restricted", and a read-only root filesystem.
		if !isTrue(cmpOr(sc.RunAsNonRoot, psc.RunAsNonRoot)) {
			t.Errorf("%s: runAsNonRoot is not true", where)
		}
		if u := cmpOr(sc.RunAsUser, psc.RunAsUser); u != nil && *u == 0 {
			t.Errorf("%s runs as root", where)
		}
		if !isTrue(sc.ReadOnlyRootFilesystem) {
			t.Errorf("%s: readOnlyRootFilesystem is not true", where)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: allowPrivilegeEscalation is not false", where)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s is privileged", where)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s: capabilities must drop ALL and add none", where)
		}
		seccomp := sc.SeccompProfile
		if seccomp == nil {
			seccomp = psc.SeccompProfile
		}
		if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: seccompProfile is not RuntimeDefault", where)
		}
		// The only writable place is /tmp, an emptyDir.
		tmp := false
		for _, m := range c.VolumeMounts {
			v, ok := volumes[m.Name]
			if !ok {
				t.Errorf("%s mounts a volume %s the pod does not have", where, m.Name)
			}
			if m.MountPath == "/tmp" && v.EmptyDir != nil {
				tmp = true
			}
			if v.ConfigMap != nil || v.Secret != nil {
				if !m.ReadOnly {
					t.Errorf("%s mounts %s read-write", where, m.Name)
				}
			}
		}
		if !tmp {
			t.Errorf("%s has no emptyDir at /tmp", where)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: CPU and memory requests and a memory limit must be set", where)
		}

		// The image, and a command that is a real subcommand of a real binary.
		if name, _, _ := strings.Cut(c.Image, ":"); name != image {
			t.Errorf("%s runs image %s, want %s", where, c.Image, image)
		}
		if len(c.Command) != 1 {
			t.Errorf("%s: command %q, want the binary alone", where, c.Command)
			continue
		}
		bin, ok := bins[path.Base(c.Command[0])]
		if !ok || c.Command[0] != "/usr/local/bin/"+bin.name {
			t.Errorf("%s: command %q is not /usr/local/bin/poller or /usr/local/bin/reconciler", where, c.Command)
			continue
		}
		sub, flags, problem := bin.check(c.Args)
		if problem != "" {
			t.Errorf("%s: %q %q: %s", where, c.Command, c.Args, problem)
			continue
		}
		if src, ok := flags["source"]; ok {
			sources, _ := r.sourcesOf(t, w, c)
			if _, found := sources.Find(src); !found {
				t.Errorf("%s: --source %s is not in its sources file", where, src)
			}
		}

		// Environment: whatever the subcommand requires is set, every variable is in the contract, and
		// secrets come from Secrets.
		contract := contractEnv(t)
		have := map[string]bool{}
		for _, e := range c.Env {
			have[e.Name] = true
			if !contract[e.Name] {
				t.Errorf("%s: env %s is not in the configuration contract", where, e.Name)
			}
			if secretName.MatchString(e.Name) && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
				t.Errorf("%s: env %s is a secret but not from a secretKeyRef", where, e.Name)
			}
		}
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef == nil {
				continue
			}
			cm := r.configMap(ef.ConfigMapRef.Name)
			if cm == nil {
				t.Errorf("%s: envFrom ConfigMap %s does not exist", where, ef.ConfigMapRef.Name)
				continue
			}
			for k := range cm.Data {
				have[k] = true
				if !contract[k] {
					t.Errorf("%s: ConfigMap %s sets %s, which is not in the configuration contract", where, cm.Name, k)
				}
			}
		}
		for _, name := range bin.subcommands[sub].requiredEnv {
			if !have[name] {
				t.Errorf("%s: %s %s requires %s, which it is not given", where, bin.name, sub, name)
			}
		}
		if bin.name == "poller" {
			if !slices.ContainsFunc(c.EnvFrom, func(ef corev1.EnvFromSource) bool {
				return ef.SecretRef != nil && ef.SecretRef.Name == "mizan-provider-credentials"
			}) {
				t.Errorf("%s: the provider credentials the sources file names are not in its environment", where)
			}
			r.sourcesOf(t, w, c)
		}
	}
}

// checkServing checks a long-running Deployment: probes on a declared port, and a Service selecting it.
func checkServing(t *testing.T, r *rendered, d *appsv1.Deployment) {
	c := d.Spec.Template.Spec.Containers[0]
	ports := map[string]bool{}
	for _, p := range c.Ports {
		ports[p.Name] = true
	}
	probe := func(what string, p *corev1.Probe, wantPath string) {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("Deployment %s: no HTTP %s probe", d.Name, what)
			return
		}
		if p.HTTPGet.Path != wantPath || !ports[p.HTTPGet.Port.String()] {
			t.Errorf("Deployment %s: %s probe GET %s on port %s, want %s on a declared port", d.Name, what,
				p.HTTPGet.Path, p.HTTPGet.Port.String(), wantPath)
		}
	}
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("readiness", c.ReadinessProbe, "/readyz")
	if !slices.ContainsFunc(all[*corev1.Service](r), func(s *corev1.Service) bool {
		return len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) &&
			slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return ports[p.TargetPort.String()] })
	}) {
		t.Errorf("no Service exposes Deployment %s's metrics port", d.Name)
	}
	if !selects(d.Spec.Selector, d.Spec.Template) {
		t.Errorf("Deployment %s's selector does not match its pods", d.Name)
	}
}

// setupJob returns the one Job of a setup component (migrate, topics), found by its label: its name carries
// the image tag in an overlay (mizan-migrate-v0.1.0).
func setupJob(t *testing.T, r *rendered, component string) *batchv1.Job {
	t.Helper()
	var found []*batchv1.Job
	for _, j := range all[*batchv1.Job](r) {
		if j.Labels["app.kubernetes.io/component"] == component {
			found = append(found, j)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d Jobs of component %s, want 1", r.dir, len(found), component)
	}
	return found[0]
}

// checkDatabaseRoles checks the role split (docs/security.md, "Roles"): the migrate Job alone connects as the
// schema owner, every other container as the runtime role, and a URL only ever comes from those Secrets —
// never a literal, so no superuser's URL can be written into a manifest.
func checkDatabaseRoles(t *testing.T, r *rendered) {
	t.Helper()
	urlIn := regexp.MustCompile(`(?i)postgres(ql)?://`)
	for _, w := range r.workloads() {
		for _, c := range w.pod.Spec.Containers {
			migrate := w.pod.Labels["app.kubernetes.io/component"] == "migrate"
			for _, e := range c.Env {
				if urlIn.MatchString(e.Value) {
					t.Errorf("%s container %s: env %s holds a database URL", w, c.Name, e.Name)
				}
				ref := e.ValueFrom
				if ref == nil || ref.SecretKeyRef == nil {
					continue
				}
				if ref.SecretKeyRef.Name == "mizan-database-owner" && (!migrate || e.Name != "DATABASE_URL") {
					t.Errorf("%s container %s: %s comes from the owner's Secret, which only the migrate Job reads", w, c.Name, e.Name)
				}
				if e.Name != "DATABASE_URL" {
					continue
				}
				want := "mizan-database"
				if migrate {
					want = "mizan-database-owner"
				}
				if ref.SecretKeyRef.Name != want || ref.SecretKeyRef.Key != "url" || isTrue(ref.SecretKeyRef.Optional) {
					t.Errorf("%s container %s: DATABASE_URL from Secret %s key %s, want %s key url, required", w, c.Name,
						ref.SecretKeyRef.Name, ref.SecretKeyRef.Key, want)
				}
			}
		}
	}
	for _, cm := range all[*corev1.ConfigMap](r) {
		for k, v := range cm.Data {
			if urlIn.MatchString(v) {
				t.Errorf("ConfigMap %s key %s holds a database URL", cm.Name, k)
			}
		}
	}
}

func secretsReferenced(ws []workload) []string {
	seen := map[string]bool{}
	for _, w := range ws {
		for _, v := range w.pod.Spec.Volumes {
			if v.Secret != nil {
				seen[v.Secret.SecretName] = true
			}
		}
		for _, c := range w.pod.Spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					seen[e.ValueFrom.SecretKeyRef.Name] = true
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.SecretRef != nil {
					seen[ef.SecretRef.Name] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

func selects(sel *metav1.LabelSelector, pod corev1.PodTemplateSpec) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && !s.Empty() && s.Matches(labels.Set(pod.Labels))
}

func cmpOr[T any](ps ...*T) *T {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

func isTrue(b *bool) bool { return b != nil && *b }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// checkCronJobs checks the poller CronJobs: never two runs at once, bounded in time, and one per source.
func checkCronJobs(t *testing.T, r *rendered) {
	cjs := all[*batchv1.CronJob](r)
	polled := map[string]string{}
	var sources config.Sources
	for _, cj := range cjs {
		if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			t.Errorf("CronJob %s: concurrencyPolicy %q, want Forbid", cj.Name, cj.Spec.ConcurrencyPolicy)
		}
		if cj.Spec.StartingDeadlineSeconds == nil || cj.Spec.SuccessfulJobsHistoryLimit == nil ||
			cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds == nil || cj.Spec.JobTemplate.Spec.BackoffLimit == nil {
			t.Errorf("CronJob %s: startingDeadlineSeconds, successfulJobsHistoryLimit, activeDeadlineSeconds and backoffLimit must be set", cj.Name)
		}
		if _, err := config.ParseCron(cj.Spec.Schedule); err != nil {
			t.Errorf("CronJob %s: schedule %q: %v", cj.Name, cj.Spec.Schedule, err)
		}
		if len(cj.Name) > 52 {
			t.Errorf("CronJob %s: name longer than Kubernetes' 52 characters", cj.Name)
		}
		c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
		_, flags, problem := mizanBinaries(t)["poller"].check(c.Args)
		if problem != "" || path.Base(c.Command[0]) != "poller" || c.Args[0] != "once" {
			t.Errorf("CronJob %s runs %q %q, want poller once", cj.Name, c.Command, c.Args)
			continue
		}
		sources, _ = r.sourcesOf(t, workload{"CronJob", cj.Name, cj.Labels, cj.Spec.JobTemplate.Spec.Template}, c)
		src := flags["source"]
		if src == "" {
			t.Errorf("CronJob %s polls every source: give each source its own CronJob", cj.Name)
		}
		// A CronJob polls a source's every feed, or one feed (--feed): the Helm chart's perFeed.
		key := src + "/" + flags["feed"]
		if other, dup := polled[key]; dup {
			t.Errorf("CronJobs %s and %s both poll %s", other, cj.Name, key)
		}
		polled[key] = cj.Name
	}
	for _, s := range sources.Sources {
		whole := polled[s.Name+"/"]
		for feed := range s.Feeds {
			if name, ok := polled[s.Name+"/"+feed]; ok {
				if whole != "" {
					t.Errorf("source %s: CronJob %s polls every feed and %s the feed %s", s.Name, whole, name, feed)
				}
			} else if whole == "" {
				t.Errorf("source %s: no poller CronJob polls its feed %s", s.Name, feed)
			}
		}
		delete(polled, s.Name+"/")
		for feed := range s.Feeds {
			delete(polled, s.Name+"/"+feed)
		}
	}
	for key, name := range polled {
		t.Errorf("CronJob %s polls %s, which the sources file does not have", name, key)
	}
}

func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	t.Parallel()
	// The checker must be able to fail: a misspelt field is what strict decoding exists to catch.
	_, err := decodeStrict([]byte("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: x}\nspec:\n  schedule: '* * * * *'\n  concurencyPolicy: Forbid\n  jobTemplate: {spec: {template: {spec: {containers: [{name: x, image: x}]}}}}\n"))
	if err == nil || !strings.Contains(err.Error(), "concurencyPolicy") {
		t.Fatalf("a misspelt field decoded without error: %v", err)
	}
	if _, err := decodeStrict([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {a: b}\n")); err != nil {
		t.Fatalf("a valid object failed: %v", err)
	}
}

func TestBase(t *testing.T) {
	t.Parallel()
	r := render(t, "base")
	checkCommon(t, r)
	for _, o := range r.objects {
		if ns := o.(metav1.Object).GetNamespace(); ns != "" {
			t.Errorf("base sets namespace %q on %s: the overlay chooses it", ns, o.(metav1.Object).GetName())
		}
	}
	if n := len(all[*batchv1.CronJob](r)); n != 0 {
		t.Errorf("base has %d CronJobs: pollers belong to the overlay that lists the sources", n)
	}
	for _, name := range []string{"mizan-config", "mizan-sources"} {
		found := slices.ContainsFunc(all[*corev1.ConfigMap](r), func(cm *corev1.ConfigMap) bool { return strings.HasPrefix(cm.Name, name+"-") })
		if !found {
			t.Errorf("base has no ConfigMap %s-<hash>", name)
		}
	}
}

// checkPollers checks that the overlay polls: with one CronJob per source, or with the poller Deployment.
func checkPollers(t *testing.T, r *rendered) {
	cjs := all[*batchv1.CronJob](r)
	var d *appsv1.Deployment
	for _, dep := range all[*appsv1.Deployment](r) {
		if dep.Name == "mizan-poller" {
			d = dep
		}
	}
	switch {
	case len(cjs) > 0 && d != nil:
		t.Errorf("%s runs poller CronJobs and the poller Deployment: choose one", r.dir)
	case len(cjs) > 0:
		checkCronJobs(t, r)
	case d != nil:
		checkServing(t, r, d)
		c := d.Spec.Template.Spec.Containers[0]
		if path.Base(c.Command[0]) != "poller" || !slices.Equal(c.Args, []string{"run"}) {
			t.Errorf("poller Deployment runs %q %q, want poller run", c.Command, c.Args)
		}
	default:
		t.Errorf("%s runs no poller", r.dir)
	}
}

// TestOverlays checks every overlay in deploy/overlays — the example, and any deployment kept beside it —
// as it would be applied.
func TestOverlays(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob(filepath.Join("overlays", "*", "kustomization.yaml"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no overlay: %v", err)
	}
	for _, k := range dirs {
		dir := filepath.Dir(k)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			r := render(t, dir)
			checkCommon(t, r)
			checkPollers(t, r)
			var ns string
			for _, n := range all[*corev1.Namespace](r) {
				ns = n.Name
				if n.Labels["pod-security.kubernetes.io/enforce"] != "restricted" || n.Labels["mizan/stage"] != "setup" {
					t.Errorf("namespace %s: labels %v, want pod-security enforce=restricted and mizan/stage=setup", n.Name, n.Labels)
				}
			}
			for _, o := range r.objects {
				m := o.(metav1.Object)
				if _, isNS := o.(*corev1.Namespace); !isNS && (m.GetNamespace() == "" || (ns != "" && m.GetNamespace() != ns)) {
					t.Errorf("%s is in namespace %q: set the overlay's namespace", m.GetName(), m.GetNamespace())
				}
			}
			for _, w := range r.workloads() {
				for _, c := range w.pod.Spec.Containers {
					if _, tag, _ := strings.Cut(c.Image, ":"); tag == "" || tag == "latest" {
						t.Errorf("%s runs %s: pin a version", w, c.Image)
					}
				}
			}
			// The setup Jobs carry the tag in their names (the overlay's replacements), so an upgrade applies
			// new Jobs rather than failing on the finished ones' immutable templates.
			_, tag, _ := strings.Cut(find[*appsv1.Deployment](t, r, "mizan-reconciler").Spec.Template.Spec.Containers[0].Image, ":")
			for _, component := range []string{"migrate", "topics"} {
				j := setupJob(t, r, component)
				if want := "mizan-" + component + "-" + tag; j.Name != want {
					t.Errorf("Job %s: want the name %s, the image tag's (copy the example's replacements)", j.Name, want)
				}
				if _, jobTag, _ := strings.Cut(j.Spec.Template.Spec.Containers[0].Image, ":"); jobTag != tag {
					t.Errorf("Job %s runs the tag %s, the reconciler %s", j.Name, jobTag, tag)
				}
			}
			// Nothing in the migrate Job's template changes between two applies of one release: no ConfigMap
			// (whose name carries a hash of its content).
			for _, ef := range setupJob(t, r, "migrate").Spec.Template.Spec.Containers[0].EnvFrom {
				if ef.ConfigMapRef != nil {
					t.Errorf("the migrate Job reads ConfigMap %s: a config change would change its immutable template", ef.ConfigMapRef.Name)
				}
			}
		})
	}
}

func TestExampleOverlay(t *testing.T) {
	t.Parallel()
	r := render(t, filepath.Join("overlays", "example"))
	if n := len(all[*batchv1.CronJob](r)); n != 2 {
		t.Errorf("%d poller CronJobs, want one per source (2)", n)
	}
	find[*corev1.Namespace](t, r, "mizan")
	for _, o := range r.objects {
		if ns := o.(metav1.Object).GetNamespace(); ns != "mizan" && o.GetObjectKind().GroupVersionKind().Kind != "Namespace" {
			t.Errorf("%s is in namespace %q, want mizan", o.(metav1.Object).GetName(), ns)
		}
	}
	if d := find[*appsv1.Deployment](t, r, "mizan-reconciler"); *d.Spec.Replicas != 3 {
		t.Errorf("reconciler replicas = %d, want the overlay's 3", *d.Spec.Replicas)
	}
	// The overlay's Kafka settings reach the pods, merged over the base's.
	var cfg *corev1.ConfigMap
	for _, cm := range all[*corev1.ConfigMap](r) {
		if strings.HasPrefix(cm.Name, "mizan-config-") {
			cfg = cm
		}
	}
	if cfg == nil || cfg.Data["KAFKA_TLS"] != "true" || cfg.Data["MIZAN_HTTP_ADDR"] != ":8080" ||
		cfg.Data["KAFKA_TLS_CA_FILE"] != "/etc/mizan/kafka-ca/ca.crt" {
		t.Errorf("mizan-config = %v", cfg)
	}
}

// TestPollerDeploymentAlternative renders the base with the poller-deployment component and the example's
// sources, as an overlay choosing it would.
func TestPollerDeploymentAlternative(t *testing.T) {
	t.Parallel()
	r := renderPollerDeploymentAlternative(t)
	checkCommon(t, r)
	checkPollers(t, r)
	d := find[*appsv1.Deployment](t, r, "mizan-poller")
	c := d.Spec.Template.Spec.Containers[0]
	if s, _ := r.sourcesOf(t, workload{"Deployment", d.Name, d.Labels, d.Spec.Template}, c); len(s.Sources) != 2 {
		t.Errorf("the poller Deployment reads %d sources, want the example's 2", len(s.Sources))
	}
}

// renderPollerDeploymentAlternative renders deploy/base with the poller-deployment component and the
// example overlay's sources file.
func renderPollerDeploymentAlternative(t *testing.T) *rendered {
	t.Helper()
	dir := t.TempDir()
	// kustomize refuses absolute paths: refer to the repository relative to the temporary directory.
	rel := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := filepath.Rel(dir, a)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	sources, err := os.ReadFile(filepath.Join("overlays", "example", "sources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	k := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: mizan
resources:
  - %s
components:
  - %s
images:
  - name: %s
    newTag: v0.1.0
configMapGenerator:
  - name: mizan-sources
    behavior: replace
    files:
      - sources.yaml
`, rel("base"), rel(filepath.Join("components", "poller-deployment")), image)
	for name, data := range map[string][]byte{"kustomization.yaml": []byte(k), "sources.yaml": sources} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return render(t, dir)
}
