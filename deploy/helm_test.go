package deploy

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	release "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/sources/registry"
)

// chartDir is mizan's Helm chart; exampleValues the values that make it the example overlay's deployment.
var (
	chartDir      = filepath.Join("helm", "mizan")
	exampleValues = filepath.Join("helm", "example-values.yaml")
)

// release is the release name the tests install as: with it, objects get the kustomize manifests' names.
const releaseName = "mizan"

// helmRender is the chart rendered as `helm install` renders it, split into what Helm applies and its hooks.
type helmRender struct {
	*rendered
	chart *chart.Chart
	hooks []*release.Hook
}

// loadChart loads the chart directory with Helm's loader, which also reads values.schema.json.
func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart %s: %v", chartDir, err)
	}
	return ch
}

// renderChartValues renders the chart for an install of releaseName into namespace mizan with values
// files applied in order, then set (as --set would), the way `helm install` does: values coalesced over
// the chart's defaults, validated against values.schema.json, templates rendered in strict mode (a reference
// to a missing value is an error). It returns Helm's error rather than failing, so tests can expect one.
func renderChartValues(t *testing.T, files []string, set map[string]any) (*helmRender, error) {
	t.Helper()
	ch := loadChart(t)
	vals := map[string]any{}
	for _, f := range files {
		v, err := common.ReadValuesFile(f)
		if err != nil {
			t.Fatalf("values file %s: %v", f, err)
		}
		vals = loader.MergeMaps(vals, v)
	}
	vals = loader.MergeMaps(vals, set)
	top, err := chartutil.ToRenderValuesWithSchemaValidation(ch, vals,
		common.ReleaseOptions{Name: releaseName, Namespace: "mizan", Revision: 1, IsInstall: true}, nil, false)
	if err != nil {
		return nil, err
	}
	out, err := engine.Engine{Strict: true}.Render(ch, top)
	if err != nil {
		return nil, err
	}
	manifests := map[string]string{}
	for name, body := range out {
		if strings.HasSuffix(name, ".yaml") && strings.TrimSpace(body) != "" {
			manifests[name] = body
		}
	}
	hooks, plain, err := releaseutil.SortManifests(manifests, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, fmt.Errorf("sort manifests: %w", err)
	}
	r := &helmRender{rendered: &rendered{dir: chartDir, helm: true}, chart: ch, hooks: hooks}
	var docs []string
	for _, m := range plain {
		docs = append(docs, m.Content)
	}
	for _, h := range hooks {
		docs = append(docs, h.Manifest)
	}
	for _, d := range docs {
		obj, err := decodeStrict([]byte(d))
		if err != nil {
			t.Errorf("%s: %v\n%s", chartDir, err, d)
			continue
		}
		r.objects = append(r.objects, obj)
	}
	if len(r.objects) == 0 {
		t.Fatalf("%s renders nothing", chartDir)
	}
	return r, nil
}

func renderChart(t *testing.T, files []string, set map[string]any) *helmRender {
	t.Helper()
	r, err := renderChartValues(t, files, set)
	if err != nil {
		t.Fatalf("render %s with %v %v: %v", chartDir, files, set, err)
	}
	return r
}

// checkChart checks what holds for the chart whatever its values, beside checkCommon: the image is the
// release's, labels are Kubernetes' recommended ones with selectors that an upgrade cannot change, the
// setup runs as hooks, and a config change rolls the pods.
func checkChart(t *testing.T, r *helmRender) {
	t.Helper()
	checkCommon(t, r.rendered)
	checkHooks(t, r)

	tag := r.chart.Metadata.AppVersion
	for _, w := range r.workloads() {
		for _, c := range w.pod.Spec.Containers {
			if want := image + ":" + tag; c.Image != want {
				t.Errorf("%s runs %s, want the chart's appVersion %s", w, c.Image, want)
			}
		}
		if w.kind != "Job" && w.pod.Annotations["checksum/config"] == "" {
			t.Errorf("%s: no checksum/config annotation: a config change would not roll its pods", w)
		}
	}
	want := map[string]string{
		"app.kubernetes.io/name":       "mizan",
		"app.kubernetes.io/instance":   releaseName,
		"app.kubernetes.io/part-of":    "mizan",
		"app.kubernetes.io/managed-by": "Helm",
		"app.kubernetes.io/version":    tag,
		"helm.sh/chart":                "mizan-" + r.chart.Metadata.Version,
	}
	for _, o := range r.objects {
		m := o.(metav1.Object)
		for k, v := range want {
			if m.GetLabels()[k] != v {
				t.Errorf("%s %s: label %s=%q, want %q", o.GetObjectKind().GroupVersionKind().Kind, m.GetName(), k, m.GetLabels()[k], v)
			}
		}
	}
	// A Deployment's selector is immutable: it must not hold what changes with a release.
	var selectors []*metav1.LabelSelector
	for _, d := range all[*appsv1.Deployment](r.rendered) {
		selectors = append(selectors, d.Spec.Selector)
	}
	for _, p := range all[*policyv1.PodDisruptionBudget](r.rendered) {
		selectors = append(selectors, p.Spec.Selector)
	}
	for _, sel := range selectors {
		for k := range sel.MatchLabels {
			if !slices.Contains([]string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}, k) {
				t.Errorf("a selector holds the label %s, which changes between releases", k)
			}
		}
	}
	for _, w := range r.workloads() {
		if w.kind == "Deployment" {
			if g := w.pod.Spec.TerminationGracePeriodSeconds; g == nil || *g != 60 {
				t.Errorf("%s: terminationGracePeriodSeconds %v, want 60", w, g)
			}
		}
	}
	if len(all[*corev1.Secret](r.rendered)) > 0 {
		t.Error("the chart defines a Secret")
	}
}

// checkHooks checks the setup as Helm runs it: the migration, then the topics, as pre-install and pre-upgrade
// hooks deleted before the next attempt and once they succeeded, and everything they need either a hook of
// a lower weight (it exists when they start) or a Secret the operator created. No Job is a plain release
// object, whose immutable pod template would fail an upgrade.
func checkHooks(t *testing.T, r *helmRender) {
	t.Helper()
	type hooked struct {
		weight int
		kind   string
	}
	hooks := map[string]hooked{} // "Kind/name" → weight
	for _, h := range r.hooks {
		var events []string
		for _, e := range h.Events {
			events = append(events, e.String())
		}
		slices.Sort(events)
		if !slices.Equal(events, []string{"pre-install", "pre-upgrade"}) {
			t.Errorf("hook %s %s runs on %v, want pre-install and pre-upgrade", h.Kind, h.Name, events)
		}
		var policies []string
		for _, p := range h.DeletePolicies {
			policies = append(policies, p.String())
		}
		slices.Sort(policies)
		if !slices.Equal(policies, []string{"before-hook-creation", "hook-succeeded"}) {
			t.Errorf("hook %s %s: delete policies %v, want before-hook-creation and hook-succeeded", h.Kind, h.Name, policies)
		}
		hooks[h.Kind+"/"+h.Name] = hooked{h.Weight, h.Kind}
	}
	migrate, topics := setupJob(t, r.rendered, "migrate"), setupJob(t, r.rendered, "topics")
	for _, j := range all[*batchv1.Job](r.rendered) {
		if _, ok := hooks["Job/"+j.Name]; !ok {
			t.Errorf("Job %s is not a hook: its immutable template would fail the next upgrade", j.Name)
		}
	}
	if hooks["Job/"+migrate.Name].weight >= hooks["Job/"+topics.Name].weight {
		t.Errorf("the migration's hook weight %d is not below the topics' %d", hooks["Job/"+migrate.Name].weight, hooks["Job/"+topics.Name].weight)
	}
	for _, j := range []*batchv1.Job{migrate, topics} {
		w := hooks["Job/"+j.Name].weight
		spec := j.Spec.Template.Spec
		needs := []string{"ServiceAccount/" + spec.ServiceAccountName}
		for _, v := range spec.Volumes {
			if v.ConfigMap != nil {
				needs = append(needs, "ConfigMap/"+v.ConfigMap.Name)
			}
		}
		for _, c := range spec.Containers {
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					needs = append(needs, "ConfigMap/"+ef.ConfigMapRef.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					needs = append(needs, "ConfigMap/"+e.ValueFrom.ConfigMapKeyRef.Name)
				}
			}
		}
		for _, n := range needs {
			h, ok := hooks[n]
			if !ok || h.weight >= w {
				t.Errorf("hook Job %s needs %s, which is not a hook of a lower weight: on a first install it does not exist yet", j.Name, n)
			}
		}
	}
	// Helm's own reading of the annotations, beside the objects'.
	if a := migrate.Annotations["helm.sh/hook"]; a != "pre-install,pre-upgrade" {
		t.Errorf("the migrate Job's helm.sh/hook is %q", a)
	}
}

// podShape is what a container runs with, independent of how the manifests spell it: the environment as
// the process sees it (a ConfigMap's keys resolved, a Secret as "secret NAME/KEY"), the mounts by path.
type podShape struct {
	Command, Args      []string
	Env                map[string]string
	Mounts             map[string]string
	Ports              []corev1.ContainerPort
	Resources          corev1.ResourceRequirements
	SecurityContext    *corev1.SecurityContext
	PodSecurityContext *corev1.PodSecurityContext
	Startup, Liveness  *corev1.Probe
	Readiness          *corev1.Probe
	Grace              *int64
	RestartPolicy      corev1.RestartPolicy
	AutomountToken     *bool
	Sources            *config.Sources
	Workload           any // the kind's own settings: replicas, schedule, backoff…
}

type deploymentShape struct {
	Replicas             *int32
	Strategy             appsv1.DeploymentStrategy
	RevisionHistoryLimit *int32
}

type cronJobShape struct {
	Schedule                                       string
	TimeZone                                       *string
	Concurrency                                    batchv1.ConcurrencyPolicy
	StartingDeadline                               *int64
	SuccessfulHistory, FailedHistory, BackoffLimit *int32
	ActiveDeadline                                 *int64
}

type jobShape struct {
	BackoffLimit, TTLFinish *int32
	ActiveDeadline          *int64
}

// shapes returns every workload's podShape by component and source: "Job migrate", "CronJob poller
// vandar-acme", "Deployment reconciler".
func (r *rendered) shapes(t *testing.T) map[string]podShape {
	t.Helper()
	out := map[string]podShape{}
	for _, o := range r.objects {
		var key string
		var pod corev1.PodTemplateSpec
		var w any
		switch v := o.(type) {
		case *appsv1.Deployment:
			key, pod = "Deployment "+v.Labels["app.kubernetes.io/component"], v.Spec.Template
			w = deploymentShape{v.Spec.Replicas, v.Spec.Strategy, v.Spec.RevisionHistoryLimit}
		case *batchv1.Job:
			key, pod = "Job "+v.Labels["app.kubernetes.io/component"], v.Spec.Template
			w = jobShape{v.Spec.BackoffLimit, v.Spec.TTLSecondsAfterFinished, v.Spec.ActiveDeadlineSeconds}
		case *batchv1.CronJob:
			key, pod = "CronJob "+v.Labels["app.kubernetes.io/component"]+" "+v.Labels["mizan/source"], v.Spec.JobTemplate.Spec.Template
			j := v.Spec.JobTemplate.Spec
			w = cronJobShape{v.Spec.Schedule, v.Spec.TimeZone, v.Spec.ConcurrencyPolicy, v.Spec.StartingDeadlineSeconds,
				v.Spec.SuccessfulJobsHistoryLimit, v.Spec.FailedJobsHistoryLimit, j.BackoffLimit, j.ActiveDeadlineSeconds}
		default:
			continue
		}
		if _, dup := out[key]; dup {
			t.Fatalf("%s: two workloads %s", r.dir, key)
		}
		if len(pod.Spec.Containers) != 1 {
			t.Fatalf("%s: %s has %d containers", r.dir, key, len(pod.Spec.Containers))
		}
		c := pod.Spec.Containers[0]
		s := podShape{
			Command: c.Command, Args: c.Args, Env: map[string]string{}, Mounts: map[string]string{}, Ports: c.Ports,
			Resources: c.Resources, SecurityContext: c.SecurityContext, PodSecurityContext: pod.Spec.SecurityContext,
			Startup: c.StartupProbe, Liveness: c.LivenessProbe, Readiness: c.ReadinessProbe,
			Grace: pod.Spec.TerminationGracePeriodSeconds, RestartPolicy: pod.Spec.RestartPolicy,
			AutomountToken: pod.Spec.AutomountServiceAccountToken, Workload: w,
		}
		for _, ef := range c.EnvFrom {
			switch {
			case ef.ConfigMapRef != nil:
				cm := r.configMap(ef.ConfigMapRef.Name)
				if cm == nil {
					t.Fatalf("%s: %s reads a ConfigMap %s that is not there", r.dir, key, ef.ConfigMapRef.Name)
				}
				maps.Copy(s.Env, cm.Data)
			case ef.SecretRef != nil:
				s.Env["(every key of Secret "+ef.SecretRef.Name+")"] = "secret"
			}
		}
		for _, e := range c.Env {
			switch {
			case e.ValueFrom == nil:
				s.Env[e.Name] = e.Value
			case e.ValueFrom.SecretKeyRef != nil:
				ref := e.ValueFrom.SecretKeyRef
				s.Env[e.Name] = fmt.Sprintf("secret %s/%s optional=%v", ref.Name, ref.Key, isTrue(ref.Optional))
			default:
				t.Fatalf("%s: %s env %s: unexpected source", r.dir, key, e.Name)
			}
		}
		vols := map[string]corev1.Volume{}
		for _, v := range pod.Spec.Volumes {
			vols[v.Name] = v
		}
		for _, m := range c.VolumeMounts {
			v := vols[m.Name]
			switch {
			case v.EmptyDir != nil:
				s.Mounts[m.MountPath] = "emptyDir " + v.EmptyDir.SizeLimit.String()
			case v.Secret != nil:
				s.Mounts[m.MountPath] = fmt.Sprintf("secret %s optional=%v ro=%v", v.Secret.SecretName, isTrue(v.Secret.Optional), m.ReadOnly)
			case v.ConfigMap != nil:
				s.Mounts[m.MountPath] = fmt.Sprintf("configMap ro=%v", m.ReadOnly)
			}
		}
		if s.Env["MIZAN_SOURCES"] != "" {
			src, _ := r.sourcesOf(t, workload{key, key, nil, pod}, c)
			s.Sources = &src
		}
		out[key] = s
	}
	return out
}

// checkSameDeployment checks that the chart deploys what kustomize deploys: the same workloads, each
// running the same command with the same environment, mounts, probes, resources, security and schedule,
// the same Services, PodDisruptionBudget and NetworkPolicy rules.
func checkSameDeployment(t *testing.T, kustomize, helm *rendered) {
	t.Helper()
	want, got := kustomize.shapes(t), helm.shapes(t)
	if diff := cmp.Diff(slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got))); diff != "" {
		t.Errorf("workloads differ (-%s +%s):\n%s", kustomize.dir, helm.dir, diff)
	}
	for key, w := range want {
		if g, ok := got[key]; ok {
			if diff := cmp.Diff(w, g); diff != "" {
				t.Errorf("%s differs (-%s +%s):\n%s", key, kustomize.dir, helm.dir, diff)
			}
		}
	}
	services := func(r *rendered) map[string][]corev1.ServicePort {
		out := map[string][]corev1.ServicePort{}
		for _, s := range all[*corev1.Service](r) {
			out[s.Labels["app.kubernetes.io/component"]] = s.Spec.Ports
		}
		return out
	}
	if diff := cmp.Diff(services(kustomize), services(helm)); diff != "" {
		t.Errorf("Services differ:\n%s", diff)
	}
	pdbs := func(r *rendered) []string {
		var out []string
		for _, p := range all[*policyv1.PodDisruptionBudget](r) {
			out = append(out, p.Labels["app.kubernetes.io/component"]+" maxUnavailable="+p.Spec.MaxUnavailable.String())
		}
		return out
	}
	if diff := cmp.Diff(pdbs(kustomize), pdbs(helm)); diff != "" {
		t.Errorf("PodDisruptionBudgets differ:\n%s", diff)
	}
	rules := func(r *rendered) networkingv1.NetworkPolicySpec {
		np := all[*networkingv1.NetworkPolicy](r)[0].Spec
		np.PodSelector = metav1.LabelSelector{}
		return np
	}
	if diff := cmp.Diff(rules(kustomize), rules(helm)); diff != "" {
		t.Errorf("NetworkPolicy rules differ:\n%s", diff)
	}
	if diff := cmp.Diff(secretsReferenced(kustomize.workloads()), secretsReferenced(helm.workloads())); diff != "" {
		t.Errorf("Secrets referenced differ:\n%s", diff)
	}
}

// TestChartDefaults installs the chart with its own values, as `helm install mizan deploy/helm/mizan` does:
// everything but pollers, as deploy/base.
func TestChartDefaults(t *testing.T) {
	t.Parallel()
	r := renderChart(t, nil, nil)
	checkChart(t, r)
	if n := len(all[*batchv1.CronJob](r.rendered)); n != 0 {
		t.Errorf("%d CronJobs without a source", n)
	}
	for _, d := range all[*appsv1.Deployment](r.rendered) {
		if d.Labels["app.kubernetes.io/component"] == "poller" {
			t.Error("a poller Deployment without a source: it would stop at once, again and again")
		}
	}
	var sources string
	for _, cm := range all[*corev1.ConfigMap](r.rendered) {
		if cm.Name == "mizan-sources" {
			sources = cm.Data["sources.yaml"]
		}
	}
	if strings.TrimSpace(sources) != "sources: []" {
		t.Errorf("mizan-sources = %q, want the empty list", sources)
	}
	checkSameDeployment(t, render(t, "base"), r.rendered)
}

// TestChartExample installs the chart with deploy/helm/example-values.yaml and checks it deploys what the
// kustomize overlay deploy/overlays/example deploys.
func TestChartExample(t *testing.T) {
	t.Parallel()
	r := renderChart(t, []string{exampleValues}, nil)
	checkChart(t, r)
	checkPollers(t, r.rendered)
	if n := len(all[*batchv1.CronJob](r.rendered)); n != 2 {
		t.Errorf("%d poller CronJobs, want one per source (2)", n)
	}
	for _, name := range []string{"mizan-reconciler", "mizan-config", "mizan-sources", "mizan-migrate", "mizan-topics",
		"mizan-poller-vandar-acme", "mizan-poller-yabandpay-acme", "mizan"} {
		if !slices.ContainsFunc(r.objects, func(o runtime.Object) bool { return o.(metav1.Object).GetName() == name }) {
			t.Errorf("no object named %s: the release mizan must name its objects as the overlay does", name)
		}
	}
	checkSameDeployment(t, render(t, filepath.Join("overlays", "example")), r.rendered)
}

// TestChartPollerDeployment checks pollers.mode deployment against the kustomize poller-deployment component.
func TestChartPollerDeployment(t *testing.T) {
	t.Parallel()
	// The component's test renders the base (its config) with the example's sources: so do these values.
	example, err := common.ReadValuesFile(exampleValues)
	if err != nil {
		t.Fatal(err)
	}
	r := renderChart(t, nil, map[string]any{"sources": example["sources"], "pollers": map[string]any{"mode": "deployment"}})
	checkChart(t, r)
	checkPollers(t, r.rendered)
	checkSameDeployment(t, renderPollerDeploymentAlternative(t), r.rendered)
}

// TestChartPerFeedCronJobs checks perFeed: one CronJob per feed of a source, each on its own schedule.
func TestChartPerFeedCronJobs(t *testing.T) {
	t.Parallel()
	r := renderChart(t, []string{exampleValues}, map[string]any{"pollers": map[string]any{"cronJobs": map[string]any{
		"sources": map[string]any{"vandar-acme": map[string]any{"perFeed": true, "schedule": "*/2 * * * *",
			"feeds": map[string]any{"statement": "* * * * *", "batches": "*/10 * * * *"}}},
	}}})
	checkChart(t, r)
	checkPollers(t, r.rendered)
	got := map[string]string{}
	for _, cj := range all[*batchv1.CronJob](r.rendered) {
		got[cj.Name+" "+strings.Join(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args, " ")] = cj.Spec.Schedule
	}
	want := map[string]string{
		"mizan-poller-vandar-acme-statement once --source vandar-acme --feed statement":     "* * * * *",
		"mizan-poller-vandar-acme-batches once --source vandar-acme --feed batches":         "*/10 * * * *",
		"mizan-poller-vandar-acme-settlements once --source vandar-acme --feed settlements": "*/2 * * * *",
		"mizan-poller-vandar-acme-balance once --source vandar-acme --feed balance":         "*/2 * * * *",
		"mizan-poller-yabandpay-acme once --source yabandpay-acme":                          "*/5 * * * *",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CronJobs (-want +got):\n%s", diff)
	}
}

// TestChartImageOverride checks image.tag and image.digest, and that the sources' config passes through
// unchanged into the file the poller parses.
func TestChartImageOverride(t *testing.T) {
	t.Parallel()
	digest := "sha256:" + strings.Repeat("ab", 32)
	r := renderChart(t, []string{exampleValues}, map[string]any{"image": map[string]any{"tag": "v9.9.9", "digest": digest}})
	for _, w := range r.workloads() {
		if c := w.pod.Spec.Containers[0]; c.Image != image+":v9.9.9@"+digest {
			t.Errorf("%s runs %s", w, c.Image)
		}
		if v := w.pod.Labels["app.kubernetes.io/version"]; v != "v9.9.9" {
			t.Errorf("%s: label app.kubernetes.io/version=%s", w, v)
		}
	}
}

// TestChartRefusesBadValues checks that values.schema.json, and the chart's own checks where a schema
// cannot say it, refuse what would deploy something broken, with a message naming it.
func TestChartRefusesBadValues(t *testing.T) {
	t.Parallel()
	vandar := func(name string) map[string]any {
		return map[string]any{"name": name, "provider": "vandar", "business": "acme", "access_token_env": "A",
			"refresh_token_env": "B", "feeds": map[string]any{"statement": "@every 1m"}}
	}
	for _, tc := range []struct {
		name string
		set  map[string]any
		want string
	}{
		{"a misspelt key", map[string]any{"reconciler": map[string]any{"replica": 3}}, "replica"},
		{"the tag latest", map[string]any{"image": map[string]any{"tag": "latest"}}, "image/tag"},
		{"a wrong type", map[string]any{"reconciler": map[string]any{"replicas": "three"}}, "replicas"},
		{"no replica", map[string]any{"reconciler": map[string]any{"replicas": 0}}, "replicas"},
		{"an unknown poller mode", map[string]any{"pollers": map[string]any{"mode": "cron"}}, "mode"},
		{"a secret in the config", map[string]any{"config": map[string]any{"extra": map[string]any{"KAFKA_SASL_PASSWORD": "x"}}}, "KAFKA_SASL_PASSWORD"},
		{"a database URL in the config", map[string]any{"config": map[string]any{"extra": map[string]any{"DATABASE_URL": "postgres://postgres:x@db/mizan"}}}, "DATABASE_URL"},
		{"no memory limit", map[string]any{"reconciler": map[string]any{"resources": map[string]any{"limits": nil}}}, "limits"},
		{"an unknown provider", map[string]any{"sources": []any{map[string]any{"name": "x", "provider": "paypal", "feeds": map[string]any{"balance": "@hourly"}}}}, "provider"},
		{"a vandar source without its token pair", map[string]any{"sources": []any{map[string]any{"name": "x", "provider": "vandar", "business": "acme", "feeds": map[string]any{"statement": "@hourly"}}}}, "access_token_env"},
		{"a feed yabandpay does not have", map[string]any{"sources": []any{map[string]any{"name": "y", "provider": "yabandpay", "user": "1", "secret_key_env": "S", "currencies": []any{"EUR"}, "feeds": map[string]any{"statement": "@hourly"}}}}, "statement"},
		{"a bad schedule", map[string]any{"pollers": map[string]any{"cronJobs": map[string]any{"schedule": "every minute"}}}, "schedule"},
		{"more reconcilers than partitions", map[string]any{"reconciler": map[string]any{"replicas": 7}}, "more than topics.partitions"},
		{"a schedule for a source that is not there", map[string]any{"sources": []any{vandar("vandar-acme")},
			"pollers": map[string]any{"mode": "cronJobs", "cronJobs": map[string]any{"sources": map[string]any{"vandar-acm": map[string]any{"schedule": "@hourly"}}}}}, "no source of that name"},
		{"feeds without perFeed", map[string]any{"sources": []any{vandar("vandar-acme")},
			"pollers": map[string]any{"mode": "cronJobs", "cronJobs": map[string]any{"sources": map[string]any{"vandar-acme": map[string]any{"feeds": map[string]any{"statement": "@hourly"}}}}}}, "perFeed"},
		{"a source name no CronJob can carry", map[string]any{"sources": []any{vandar("vandar_acme")}, "pollers": map[string]any{"mode": "cronJobs"}}, "cannot be named"},
		{"a CronJob name too long", map[string]any{"sources": []any{vandar("vandar-" + strings.Repeat("a", 40))}, "pollers": map[string]any{"mode": "cronJobs"}}, "52 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := renderChartValues(t, nil, tc.set)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("values %v: error %v, want one naming %q", tc.set, err, tc.want)
			}
		})
	}
}

// TestChartExampleValuesMatchTheOverlay checks that both examples describe one deployment: the same sources
// file, the same Kafka settings.
func TestChartExampleValuesMatchTheOverlay(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("overlays", "example", "sources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	set := func(string) string { return "set" }
	want, err := config.ParseSources(b, set, registry.Providers())
	if err != nil {
		t.Fatal(err)
	}
	r := renderChart(t, []string{exampleValues}, nil)
	var got config.Sources
	for _, cm := range all[*corev1.ConfigMap](r.rendered) {
		if cm.Name == "mizan-sources" {
			if got, err = config.ParseSources([]byte(cm.Data["sources.yaml"]), set, registry.Providers()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the chart's example sources differ from the overlay's (-overlay +chart):\n%s", diff)
	}
}

// TestChartDocumentsEveryValue checks that docs/deploy.md's Helm section names every top-level value.
func TestChartDocumentsEveryValue(t *testing.T) {
	t.Parallel()
	docs, err := os.ReadFile(filepath.Join(repoRoot, "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, helm, ok := strings.Cut(string(docs), "## Helm")
	if !ok {
		t.Fatal("docs/deploy.md has no Helm section")
	}
	for key := range loadChart(t).Values {
		if !regexp.MustCompile("`" + regexp.QuoteMeta(key) + "[`.]").MatchString(helm) {
			t.Errorf("docs/deploy.md's Helm section does not explain the value `%s`", key)
		}
	}
}

// TestChartLint runs Helm's linter, as `helm lint --strict` does: the Chart.yaml, the values against the
// schema, every template rendered strictly, object names, deprecated APIs. A warning fails too.
func TestChartLint(t *testing.T) {
	t.Parallel()
	example, err := common.ReadValuesFile(exampleValues)
	if err != nil {
		t.Fatal(err)
	}
	for name, vals := range map[string]map[string]any{"defaults": nil, "example": example} {
		l := lint.RunAll(chartDir, vals, "mizan")
		for _, m := range l.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("helm lint (%s values): %s", name, m)
			}
		}
	}
	// The linter can fail: a value the schema refuses is an error.
	if l := lint.RunAll(chartDir, map[string]any{"pollers": map[string]any{"mode": "cron"}}, "mizan"); l.HighestSeverity < support.ErrorSev {
		t.Errorf("helm lint accepted pollers.mode cron: %v", l.Messages)
	}
}
