package test

import (
	"net/mail"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// The worker (`app worker`): its service.name (the app's default for the
// subcommand) and the credentials it reads.
const workerServiceName = "blog-worker"

var workerSecretEnv = withSecrets(map[string]bool{
	"DATABASE_URL":  false,
	"METRICS_TOKEN": false,
	"SENTRY_DSN":    true,
}, smtpSecretEnv)

// component is the app.kubernetes.io/component of a rendered object.
func component(o metav1.Object) string { return o.GetLabels()["app.kubernetes.io/component"] }

func isAPI[T metav1.Object](o T) bool    { return component(o) == "api" }
func isWorker[T metav1.Object](o T) bool { return component(o) == "worker" }

// api returns the API's object among objs: exactly one.
func api[T metav1.Object](t *testing.T, objs []T) T {
	t.Helper()
	return one(t, objs, "api")
}

// worker returns the worker's object among objs: exactly one.
func worker[T metav1.Object](t *testing.T, objs []T) T {
	t.Helper()
	return one(t, objs, "worker")
}

func one[T metav1.Object](t *testing.T, objs []T, comp string) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if component(o) == comp {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want one %T of component %q, got %d", zero, comp, len(found))
	}
	return found[0]
}

// checkJobsEnv: JOB_WORKERS as the app parses it, and the sender wherever
// jobs run.
func checkJobsEnv(t *testing.T, who string, env map[string]corev1.EnvVar, jobWorkers int) {
	t.Helper()
	if n, err := strconv.Atoi(env["JOB_WORKERS"].Value); err != nil || n != jobWorkers {
		t.Errorf("%s JOB_WORKERS %q, want %d", who, env["JOB_WORKERS"].Value, jobWorkers)
	}
	from, ok := env["SMTP_FROM"]
	if jobWorkers == 0 {
		if ok {
			t.Errorf("%s sets SMTP_FROM but runs no job", who)
		}
		return
	}
	if _, err := mail.ParseAddress(from.Value); err != nil {
		t.Errorf("%s SMTP_FROM %q: %v", who, from.Value, err)
	}
}

// checkWorker: the worker Deployment runs `app worker` with the API's image
// and hardening, its own service.name and shutdown, only the credentials it
// uses; it is scraped like the API, under its own job; and no selector of
// the API picks a worker pod, nor the reverse.
func checkWorker(t *testing.T, m *Manifests, w want) {
	t.Helper()
	d, apiDeploy := worker(t, m.Deployments), api(t, m.Deployments)
	pod := d.Spec.Template
	podLabels := labels.Set(pod.Labels)
	checkLabels(t, "worker pod template", pod.Labels)
	if d.Name != apiDeploy.Name+"-worker" {
		t.Errorf("worker Deployment %q, want %s-worker", d.Name, apiDeploy.Name)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(podLabels) {
		t.Errorf("worker Deployment selector %v does not select its pods %v (%v)", d.Spec.Selector, pod.Labels, err)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != w.workerReplicas {
		t.Errorf("worker replicas %v, want %d", d.Spec.Replicas, w.workerReplicas)
	}
	checkDisjoint(t, m)

	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("worker: want one container, got %d", len(pod.Spec.Containers))
	}
	c, apiC := pod.Spec.Containers[0], apiDeploy.Spec.Template.Spec.Containers[0]
	if c.Image != apiC.Image || c.ImagePullPolicy != apiC.ImagePullPolicy {
		t.Errorf("worker image %s (%s), want the API's %s (%s)", c.Image, c.ImagePullPolicy, apiC.Image, apiC.ImagePullPolicy)
	}
	// The image's ENTRYPOINT is /app (Dockerfile).
	if len(c.Command) > 0 || !slices.Equal(c.Args, []string{"worker"}) {
		t.Errorf("worker command %v args %v, want args [worker] after the image's entrypoint", c.Command, c.Args)
	}
	env := checkEnv(t, c, w, workerSecretEnv, workerServiceName, d.Name)
	checkJobsEnv(t, "worker", env, w.jobWorkers)
	for _, k := range []string{"SHUTDOWN_DRAIN_DELAY", "REQUEST_TIMEOUT", "SENTRY_FRONTEND_DSN"} {
		if _, ok := env[k]; ok {
			t.Errorf("worker sets %s, which only the API reads", k)
		}
	}

	ports := map[string]corev1.ContainerPort{}
	for _, p := range c.Ports {
		ports[p.Name] = p
	}
	if ports["http"].ContainerPort != httpPort || ports["admin"].ContainerPort != adminPort {
		t.Errorf("worker container ports %v: want http %d, admin %d", c.Ports, httpPort, adminPort)
	}
	if portOf(t, env["HTTP_ADDR"].Value) != httpPort || portOf(t, env["ADMIN_ADDR"].Value) != adminPort {
		t.Errorf("worker HTTP_ADDR %q ADMIN_ADDR %q, want the http and admin ports", env["HTTP_ADDR"].Value, env["ADMIN_ADDR"].Value)
	}
	// `app worker` serves /livez and /readyz on HTTP_ADDR, as the API.
	checkProbe(t, "worker liveness", c.LivenessProbe, "/livez", ports)
	checkProbe(t, "worker readiness", c.ReadinessProbe, "/readyz", ports)
	checkProbe(t, "worker startup", c.StartupProbe, "/livez", ports)

	// Shutdown: running jobs get SHUTDOWN_TIMEOUT, the kubelet waits longer.
	timeout, err := time.ParseDuration(env["SHUTDOWN_TIMEOUT"].Value)
	if err != nil || timeout != time.Duration(w.workerTimeout)*time.Second {
		t.Errorf("worker SHUTDOWN_TIMEOUT %q, want %ds (%v)", env["SHUTDOWN_TIMEOUT"].Value, w.workerTimeout, err)
	}
	grace := pod.Spec.TerminationGracePeriodSeconds
	if grace == nil || time.Duration(*grace)*time.Second <= timeout {
		t.Errorf("worker terminationGracePeriodSeconds %v: want longer than SHUTDOWN_TIMEOUT %v", grace, timeout)
	} else if *grace != w.workerGrace {
		t.Errorf("worker terminationGracePeriodSeconds %d, want %d", *grace, w.workerGrace)
	}

	checkSecurity(t, pod.Spec, c)
	if pod.Spec.ServiceAccountName != apiDeploy.Spec.Template.Spec.ServiceAccountName ||
		pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Errorf("worker ServiceAccount %q automount %v, want the API's %q without a token", pod.Spec.ServiceAccountName,
			pod.Spec.AutomountServiceAccountToken, apiDeploy.Spec.Template.Spec.ServiceAccountName)
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if req, ok := c.Resources.Requests[name]; !ok || req.IsZero() {
			t.Errorf("worker resources.requests.%s not set", name)
		}
	}
	if lim, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || lim.IsZero() {
		t.Errorf("worker resources.limits.memory not set")
	}
	for _, tsc := range pod.Spec.TopologySpreadConstraints {
		s, err := metav1.LabelSelectorAsSelector(tsc.LabelSelector)
		if err != nil || s.Empty() || !s.Matches(podLabels) {
			t.Errorf("worker topologySpreadConstraint %s: selector %v does not select the worker pods", tsc.TopologyKey, tsc.LabelSelector)
		}
	}

	// Its Service: /metrics only, headless.
	svc := worker(t, m.Services)
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || len(svc.Spec.Selector) == 0 ||
		!labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("worker Service clusterIP %q selector %v: want headless, selecting the worker pods", svc.Spec.ClusterIP, svc.Spec.Selector)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "admin" || svc.Spec.Ports[0].TargetPort.String() != "admin" {
		t.Errorf("worker Service ports %v: want admin -> admin only (nothing calls a worker)", svc.Spec.Ports)
	}

	// Its NetworkPolicy: the monitoring namespace to /metrics, nothing else.
	np := worker(t, m.NetworkPolicies)
	if s, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); err != nil || s.Empty() || !s.Matches(podLabels) {
		t.Errorf("worker NetworkPolicy podSelector %v does not select the worker pods", np.Spec.PodSelector)
	}
	httpOpen, adminOpen := policyAdmits(t, np, w)
	if httpOpen || !adminOpen || len(np.Spec.Ingress) != 1 {
		t.Errorf("worker NetworkPolicy: http admitted %v, admin from %q %v, %d rules; want the admin rule alone",
			httpOpen, w.monitoringNS, adminOpen, len(np.Spec.Ingress))
	}

	// Its ServiceMonitor: the worker's Service, job = its service.name.
	if got := slices.ContainsFunc(m.ServiceMonitors, isWorker); got != w.serviceMonitor {
		t.Errorf("worker ServiceMonitor rendered: %v, want %v", got, w.serviceMonitor)
	}
	if !w.serviceMonitor {
		return
	}
	sm := worker(t, m.ServiceMonitors)
	apiSM := api(t, m.ServiceMonitors)
	apiSvc := api(t, m.Services)
	for _, c := range []struct {
		sm   *ServiceMonitor
		svc  *corev1.Service
		want bool
	}{{sm, svc, true}, {sm, apiSvc, false}, {apiSM, svc, false}} {
		s, err := metav1.LabelSelectorAsSelector(&c.sm.Spec.Selector)
		if err != nil || s.Empty() || s.Matches(labels.Set(c.svc.Labels)) != c.want {
			t.Errorf("ServiceMonitor %s selects Service %s: %v, want %v", c.sm.Name, c.svc.Name, !c.want, c.want)
		}
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("worker ServiceMonitor endpoints %d, want 1", len(sm.Spec.Endpoints))
	}
	e, apiE := sm.Spec.Endpoints[0], apiSM.Spec.Endpoints[0]
	if e.Port != "admin" || e.Path != "/metrics" || e.Scheme != apiE.Scheme || e.Interval != apiE.Interval ||
		e.ScrapeTimeout != apiE.ScrapeTimeout {
		t.Errorf("worker ServiceMonitor endpoint %+v, want the API's %+v", e, apiE)
	}
	token := env["METRICS_TOKEN"].ValueFrom.SecretKeyRef
	if a := e.Authorization; a == nil || a.Type != "Bearer" || a.Credentials.Name != token.Name || a.Credentials.Key != token.Key {
		t.Errorf("worker ServiceMonitor authorization %+v, want Bearer from the Secret %s key %s (METRICS_TOKEN)", e.Authorization, token.Name, token.Key)
	}
	// The operator sets job from the Service (or jobLabel) first, then
	// applies the endpoint's relabelings: the last rule writing job wins.
	job := ""
	for _, r := range e.Relabelings {
		if r.TargetLabel == "job" && (r.Action == "" || r.Action == "replace") && len(r.SourceLabels) == 0 && r.Replacement != nil {
			job = *r.Replacement
		}
	}
	if job != workerServiceName {
		t.Errorf("worker ServiceMonitor relabelings %+v give job=%q, want %s (its OTEL_SERVICE_NAME): dashboards select $service by job", e.Relabelings, job, workerServiceName)
	}
}

// checkDisjoint: no selector of the API (Deployment, Service, PDB, spread,
// NetworkPolicy, ServiceMonitor) matches a worker pod, and the reverse. An
// overlap would route API traffic to workers, count worker CPU in the
// API's HPA, and let a drain take API and worker pods against one budget.
func checkDisjoint(t *testing.T, m *Manifests) {
	t.Helper()
	type selector struct {
		what string
		sel  *metav1.LabelSelector
	}
	podsOf := map[string]labels.Set{}
	selectors := map[string][]selector{}
	for _, d := range m.Deployments {
		comp := component(d)
		podsOf[comp] = labels.Set(d.Spec.Template.Labels)
		selectors[comp] = append(selectors[comp], selector{"Deployment " + d.Name, d.Spec.Selector})
		for _, tsc := range d.Spec.Template.Spec.TopologySpreadConstraints {
			selectors[comp] = append(selectors[comp], selector{"spread of " + d.Name, tsc.LabelSelector})
		}
	}
	for _, s := range m.Services {
		selectors[component(s)] = append(selectors[component(s)], selector{"Service " + s.Name, &metav1.LabelSelector{MatchLabels: s.Spec.Selector}})
	}
	for _, p := range m.PDBs {
		selectors[component(p)] = append(selectors[component(p)], selector{"PDB " + p.Name, p.Spec.Selector})
	}
	for _, np := range m.NetworkPolicies {
		selectors[component(np)] = append(selectors[component(np)], selector{"NetworkPolicy " + np.Name, &np.Spec.PodSelector})
	}
	for comp, list := range selectors {
		other := "worker"
		if comp == "worker" {
			other = "api"
		}
		for _, s := range list {
			sel, err := metav1.LabelSelectorAsSelector(s.sel)
			if err != nil {
				t.Errorf("%s: %v", s.what, err)
				continue
			}
			if sel.Matches(podsOf[other]) {
				t.Errorf("%s (%s) selects the %s pods %v too", s.what, sel, other, podsOf[other])
			}
		}
	}
}

// checkNoWorker: with worker.enabled false nothing of the worker renders.
func checkNoWorker(t *testing.T, m *Manifests) {
	t.Helper()
	for _, kind := range []int{
		len(slicesFunc(m.Deployments, isWorker)), len(slicesFunc(m.Services, isWorker)),
		len(slicesFunc(m.NetworkPolicies, isWorker)), len(slicesFunc(m.ServiceMonitors, isWorker)),
	} {
		if kind != 0 {
			t.Errorf("worker.enabled=false, yet worker objects render: %v", m.Kinds)
			return
		}
	}
}

func slicesFunc[T any](s []T, keep func(T) bool) []T {
	var out []T
	for _, v := range s {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

// Without the worker the API pods run the jobs: JOB_WORKERS, SMTP_FROM and
// the SMTP_URL secret move to them.
func TestWorkerDisabled(t *testing.T) {
	m := decodeManifests(t, template(t, "--set", "worker.enabled=false", "--set", "serviceMonitor.enabled=true",
		"--api-versions", "monitoring.coreos.com/v1"))
	wantKinds(t, m, "apps/v1/Deployment", "v1/Service", "v1/ServiceAccount",
		"autoscaling/v2/HorizontalPodAutoscaler", "policy/v1/PodDisruptionBudget", "networking.k8s.io/v1/NetworkPolicy",
		"monitoring.coreos.com/v1/ServiceMonitor")
	w := defaults
	w.worker, w.serviceMonitor = false, true
	checkChart(t, m, w)

	m = decodeManifests(t, template(t, "--set", "worker.enabled=false", "--set", "worker.jobWorkers=3", "--set", "secrets.keys.smtpUrl="))
	w = defaults
	w.worker, w.jobWorkers = false, 3
	c := api(t, m.Deployments).Spec.Template.Spec.Containers[0]
	// Without the key, no SMTP_URL: the welcome email is skipped.
	checkEnv(t, c, w, secretEnv, "blog-api", api(t, m.Deployments).Name)
}

// The worker's own values reach its pods; its grace period outlasts its
// SHUTDOWN_TIMEOUT whatever the API's shutdown says.
func TestWorkerValues(t *testing.T) {
	m := decodeManifests(t, template(t, "--set", "worker.replicas=5", "--set", "worker.jobWorkers=50",
		"--set", "worker.shutdownTimeoutSeconds=60", "--set", "shutdown.timeoutSeconds=10",
		"--set", "config.smtpFrom=Ops <ops@example.com>"))
	w := defaults
	w.timeout, w.grace = 10, 25
	w.workerReplicas, w.jobWorkers, w.workerTimeout, w.workerGrace = 5, 50, 60, 70
	checkChart(t, m, w)
	env := map[string]string{}
	for _, e := range worker(t, m.Deployments).Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["SMTP_FROM"] != "Ops <ops@example.com>" {
		t.Errorf("worker SMTP_FROM %q, want config.smtpFrom", env["SMTP_FROM"])
	}
}

func TestWorkerTerminationGracePeriod(t *testing.T) {
	helm(t) // one skip for the test, not one per subtest
	for _, tc := range []struct {
		name  string
		set   []string
		grace int64
		fail  string
	}{
		{"computed", nil, 30, ""},
		{"set-just-enough", []string{"worker.terminationGracePeriodSeconds=21"}, 21, ""},
		{"set-equal", []string{"worker.terminationGracePeriodSeconds=20"}, 0,
			"worker.terminationGracePeriodSeconds (20) must be longer than worker.shutdownTimeoutSeconds (20)"},
		{"timeout-raised-past-it", []string{"worker.terminationGracePeriodSeconds=40", "worker.shutdownTimeoutSeconds=45"}, 0,
			"worker.terminationGracePeriodSeconds (40) must be longer than worker.shutdownTimeoutSeconds (45)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"template", releaseName, chartDir, "--namespace", namespace}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			out, err := runHelm(t, args...)
			if tc.fail != "" {
				if err == nil || !strings.Contains(string(out), tc.fail) {
					t.Fatalf("want the error %q, got %v:\n%s", tc.fail, err, out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d := worker(t, decodeManifests(t, out).Deployments)
			if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != tc.grace {
				t.Fatalf("worker terminationGracePeriodSeconds %v, want %d", g, tc.grace)
			}
		})
	}
}

// values.schema.json guards the worker's block as the rest.
func TestWorkerSchemaRejectsBadValues(t *testing.T) {
	helm(t)
	for _, tc := range []struct{ name, values, want string }{
		{"typo", "worker:\n  replica: 2\n", "'replica' not allowed"},
		{"no job workers", "worker:\n  jobWorkers: 0\n", "jobWorkers"},
		{"smtp key typo", "secrets:\n  keys:\n    smtpURL: SMTP_URL\n", "'smtpURL' not allowed"},
		{"literal secret", "worker:\n  smtpUrl: smtp://u:p@host:25\n", "'smtpUrl' not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := t.TempDir() + "/values.yaml"
			if err := os.WriteFile(file, []byte(tc.values), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := lint(t, "-f", file)
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("helm lint with\n%s\nwant an error naming %q, got %v:\n%s", tc.values, tc.want, err, out)
			}
		})
	}
}
