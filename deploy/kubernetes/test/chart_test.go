package test

import (
	"fmt"
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The app's listeners (app/internal/config: HTTP_ADDR, ADMIN_ADDR) and the
// image's user (Dockerfile: distroless nonroot).
const (
	httpPort  = 8080
	adminPort = 9464
	nonroot   = 65532
)

// The variables the API reads its credentials from (app/internal/config),
// and whether the chart marks the Secret key optional.
var secretEnv = map[string]bool{
	"DATABASE_URL":      false,
	"METRICS_TOKEN":     false,
	"DEVICE_COOKIE_KEY": false,
	"REDIS_URL":         true,
	"SENTRY_DSN":        true,
}

// smtpSecretEnv is the credential of the pods that run jobs: optional (no
// SMTP_URL = the welcome email is skipped).
var smtpSecretEnv = map[string]bool{"SMTP_URL": true}

// pyroscopeSecretEnv is the password of a hosted Pyroscope, in every pod that
// profiles once profiling.basicAuthUser is set; optional in the Secret.
var pyroscopeSecretEnv = map[string]bool{"PYROSCOPE_BASIC_AUTH_PASSWORD": true}

// withSecrets merges sets of secret variables.
func withSecrets(sets ...map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, s := range sets {
		maps.Copy(out, s)
	}
	return out
}

// A literal env value under a name like these would be a secret in the
// manifest. SENTRY_FRONTEND_DSN is public by design (served to browsers).
var secretLikeName = regexp.MustCompile(`(?i)TOKEN|SECRET|PASSWORD|PASSWD|_KEY$|DSN|DATABASE_URL|REDIS_URL|CREDENTIAL`)

// want is what a render must show.
type want struct {
	secretName        string
	drain, timeout    int // seconds
	grace             int64
	hpa               bool
	minReplicas       int32
	replicas          int32 // without the HPA
	pdb               bool
	ingress           bool
	serviceMonitor    bool
	monitoringNS      string
	otlpEndpoint      string
	environment       string
	extraResourceAttr map[string]string
	// Profiling (profiling.*): the Pyroscope address, empty = off; a user
	// brings the password from the Secret.
	pyroscopeAddress, pyroscopeUser, pyroscopeTenant string
	// The worker Deployment (worker.enabled); without it the API runs the
	// jobs, jobWorkers at once.
	worker         bool
	workerReplicas int32
	jobWorkers     int
	workerTimeout  int // seconds
	workerGrace    int64
}

var defaults = want{
	secretName:   releaseName, // the full name: the release name contains the chart name
	drain:        5,
	timeout:      20,
	grace:        35,
	hpa:          true,
	minReplicas:  2,
	pdb:          true,
	monitoringNS: "monitoring",
	otlpEndpoint: "http://$(HOST_IP):4318",
	environment:  "production",

	worker:         true,
	workerReplicas: 2,
	jobWorkers:     10,
	workerTimeout:  20,
	workerGrace:    30,
}

func TestDefaultValues(t *testing.T) {
	// --api-versions: the ServiceMonitor stays off by default even where the
	// Prometheus Operator's API exists.
	m := decodeManifests(t, template(t, "--api-versions", "monitoring.coreos.com/v1"))
	wantKinds(t, m, "apps/v1/Deployment", "v1/Service", "v1/ServiceAccount",
		"autoscaling/v2/HorizontalPodAutoscaler", "policy/v1/PodDisruptionBudget", "networking.k8s.io/v1/NetworkPolicy",
		"apps/v1/Deployment", "v1/Service", "networking.k8s.io/v1/NetworkPolicy") // the worker's
	checkChart(t, m, defaults)
}

func TestProductionValues(t *testing.T) {
	m := decodeManifests(t, template(t, "-f", productionFile, "--api-versions", "monitoring.coreos.com/v1"))
	wantKinds(t, m, "apps/v1/Deployment", "v1/Service", "v1/ServiceAccount",
		"autoscaling/v2/HorizontalPodAutoscaler", "policy/v1/PodDisruptionBudget", "networking.k8s.io/v1/NetworkPolicy",
		"networking.k8s.io/v1/Ingress", "monitoring.coreos.com/v1/ServiceMonitor",
		"apps/v1/Deployment", "v1/Service", "networking.k8s.io/v1/NetworkPolicy", "monitoring.coreos.com/v1/ServiceMonitor")
	w := defaults
	w.secretName = "blog-api-credentials"
	w.drain, w.timeout, w.grace = 10, 20, 45
	w.minReplicas = 3
	w.ingress, w.serviceMonitor = true, true
	w.extraResourceAttr = map[string]string{"k8s.cluster.name": "prod-eu-west-1", "cloud.region": "eu-west-1"}
	w.workerTimeout, w.workerGrace = 30, 40
	w.pyroscopeAddress = "http://pyroscope.observability.svc.cluster.local:4040"
	checkChart(t, m, w)

	for _, d := range m.Deployments {
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "registry.example.com/acme/blog-api:v0.1.0" {
			t.Errorf("%s: image %q", d.Name, img)
		}
	}
	// The production example narrows the public port to the ingress controller.
	np := api(t, m.NetworkPolicies)
	for _, r := range np.Spec.Ingress {
		if rulePorts(r, "http", httpPort) && len(r.From) == 0 {
			t.Errorf("production: the public port is open to every source, want the ingress controller's namespace")
		}
	}
}

func TestServiceMonitor(t *testing.T) {
	m := decodeManifests(t, template(t, "--set", "serviceMonitor.enabled=true",
		"--set", "serviceMonitor.labels.release=kube-prometheus-stack",
		"--api-versions", "monitoring.coreos.com/v1"))
	w := defaults
	w.serviceMonitor = true
	checkChart(t, m, w)
	for _, sm := range m.ServiceMonitors {
		if got := sm.Labels["release"]; got != "kube-prometheus-stack" {
			t.Errorf("ServiceMonitor %s label release=%q, want kube-prometheus-stack", sm.Name, got)
		}
	}
}

// The values make k8s-install uses next to the observability stack
// (deploy/kubernetes/values/app.yaml): Prometheus in "observability".
func TestStackValues(t *testing.T) {
	const file = "../values/app.yaml"
	if _, err := os.Stat(file); err != nil {
		skip(t, "SKIPPING: "+file+" not found; the chart is NOT proven with the stack's values")
	}
	if out, err := lint(t, "-f", file); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	m := decodeManifests(t, template(t, "-f", file, "--api-versions", "monitoring.coreos.com/v1"))
	w := defaults
	w.serviceMonitor = true
	w.monitoringNS = "observability"
	// The pyroscope release's Service (values/pyroscope.yaml).
	w.pyroscopeAddress = "http://pyroscope.observability.svc.cluster.local:4040"
	checkChart(t, m, w)
}

// Profiling: off by default (no PYROSCOPE_* at all); with an address, the API
// and the worker both push, to a hosted Pyroscope with its tenant and user,
// the password by secretKeyRef only and only with a user.
func TestProfiling(t *testing.T) {
	m := decodeManifests(t, template(t, "--set", "profiling.serverAddress=https://profiles.example.com",
		"--set-string", "profiling.basicAuthUser=123456", "--set", "profiling.tenantId=blog"))
	w := defaults
	w.pyroscopeAddress, w.pyroscopeUser, w.pyroscopeTenant = "https://profiles.example.com", "123456", "blog"
	checkChart(t, m, w)

	// A user without a Secret key for the password: no half-configured auth.
	m = decodeManifests(t, template(t, "--set", "profiling.serverAddress=http://pyroscope:4040",
		"--set-string", "profiling.basicAuthUser=123456", "--set", "secrets.keys.pyroscopeBasicAuthPassword="))
	w = defaults
	w.pyroscopeAddress = "http://pyroscope:4040"
	checkChart(t, m, w)

	// A user but no address: profiling stays off.
	m = decodeManifests(t, template(t, "--set-string", "profiling.basicAuthUser=123456"))
	checkChart(t, m, defaults)
}

// One pod only (no HPA, replicaCount 1, or an HPA that may go down to 1): no
// PodDisruptionBudget, which would only block node drains.
func TestNoPDBForASinglePod(t *testing.T) {
	m := decodeManifests(t, template(t, "--set", "autoscaling.enabled=false", "--set", "replicaCount=1"))
	wantKinds(t, m, "apps/v1/Deployment", "v1/Service", "v1/ServiceAccount", "networking.k8s.io/v1/NetworkPolicy",
		"apps/v1/Deployment", "v1/Service", "networking.k8s.io/v1/NetworkPolicy")
	w := defaults
	w.hpa, w.pdb, w.replicas = false, false, 1
	checkChart(t, m, w)

	m = decodeManifests(t, template(t, "--set", "autoscaling.minReplicas=1"))
	w = defaults
	w.minReplicas, w.pdb = 1, false
	checkChart(t, m, w)

	m = decodeManifests(t, template(t, "--set", "autoscaling.enabled=false", "--set", "replicaCount=3"))
	w = defaults
	w.hpa, w.replicas = false, 3
	checkChart(t, m, w)
}

func TestOTLPEndpoint(t *testing.T) {
	m := decodeManifests(t, template(t, "--set", "otel.endpoint=http://otel-gateway.observability:4318"))
	w := defaults
	w.otlpEndpoint = "http://otel-gateway.observability:4318"
	checkChart(t, m, w)

	m = decodeManifests(t, template(t, "--set", "otel.endpoint="))
	w.otlpEndpoint = ""
	checkChart(t, m, w)
}

// Restricting egress keeps DNS working.
func TestEgressKeepsDNS(t *testing.T) {
	m := decodeManifests(t, template(t, "--set", "networkPolicy.egress.enabled=true"))
	checkChart(t, m, defaults)
	if len(m.NetworkPolicies) != 2 {
		t.Fatalf("want the API's and the worker's NetworkPolicy, got %d", len(m.NetworkPolicies))
	}
	for _, np := range m.NetworkPolicies {
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
			t.Fatalf("%s: policyTypes %v: want Egress", np.Name, np.Spec.PolicyTypes)
		}
		var udp, tcp bool
		for _, r := range np.Spec.Egress {
			for _, p := range r.Ports {
				if p.Port != nil && p.Port.IntValue() == 53 && p.Protocol != nil {
					udp = udp || *p.Protocol == corev1.ProtocolUDP
					tcp = tcp || *p.Protocol == corev1.ProtocolTCP
				}
			}
		}
		if !udp || !tcp {
			t.Errorf("%s: egress restricted without DNS (UDP %v, TCP %v on 53)", np.Name, udp, tcp)
		}
	}
}

// terminationGracePeriodSeconds must outlast the drain plus the shutdown
// timeout: computed by default, checked when set.
func TestTerminationGracePeriod(t *testing.T) {
	helm(t) // one skip for the test, not one per subtest
	for _, tc := range []struct {
		name  string
		set   []string
		grace int64  // rendered, when it renders
		fail  string // the error, when it does not
	}{
		{"computed", nil, 35, ""},
		{"computed-longer-timeout", []string{"shutdown.timeoutSeconds=40", "shutdown.drainDelaySeconds=0"}, 50, ""},
		{"set-just-enough", []string{"terminationGracePeriodSeconds=26"}, 26, ""},
		{"set-equal", []string{"terminationGracePeriodSeconds=25"}, 0,
			"terminationGracePeriodSeconds (25) must be longer than shutdown.drainDelaySeconds (5) + shutdown.timeoutSeconds (20) = 25"},
		{"set-too-short", []string{"terminationGracePeriodSeconds=20"}, 0,
			"terminationGracePeriodSeconds (20) must be longer than shutdown.drainDelaySeconds (5) + shutdown.timeoutSeconds (20) = 25"},
		{"timeout-raised-past-it", []string{"terminationGracePeriodSeconds=30", "shutdown.timeoutSeconds=30"}, 0,
			"terminationGracePeriodSeconds (30) must be longer than shutdown.drainDelaySeconds (5) + shutdown.timeoutSeconds (30) = 35"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			out, err := runHelm(t, append([]string{"template", releaseName, chartDir, "--namespace", namespace}, args...)...)
			if tc.fail != "" {
				if err == nil {
					t.Fatalf("rendered, want the error %q", tc.fail)
				}
				if !strings.Contains(string(out), tc.fail) {
					t.Fatalf("error does not say %q:\n%s", tc.fail, out)
				}
				// helm lint cannot catch it: in lint mode `fail` only logs
				// (helm v4), and JSON Schema cannot compare two values. The
				// render of install, upgrade and template is what stops it.
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d := api(t, decodeManifests(t, out).Deployments)
			if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != tc.grace {
				t.Fatalf("terminationGracePeriodSeconds %v, want %d", g, tc.grace)
			}
		})
	}
}

// values.schema.json rejects misspelt keys (at every level that matters) and
// the values that would undo the pod's hardening.
func TestSchemaRejectsBadValues(t *testing.T) {
	helm(t) // one skip for the test, not one per subtest
	for _, tc := range []struct {
		name, values, want string
	}{
		{"top-level typo", "replicaCont: 3\n", "'replicaCont' not allowed"},
		{"nested typo", "shutdown:\n  drainDelaySecond: 5\n", "'drainDelaySecond' not allowed"},
		{"secret key typo", "secrets:\n  keys:\n    databaseURL: DB\n", "'databaseURL' not allowed"},
		{"security typo", "securityContext:\n  readOnlyRootFileSystem: true\n", "'readOnlyRootFileSystem' not allowed"},
		{"network policy typo", "networkPolicy:\n  admin:\n    monitoringNamespaces: monitoring\n", "'monitoringNamespaces' not allowed"},
		{"writable root", "securityContext:\n  readOnlyRootFilesystem: false\n", "readOnlyRootFilesystem"},
		{"root user", "podSecurityContext:\n  runAsNonRoot: false\n", "runAsNonRoot"},
		{"duration as string", "shutdown:\n  timeoutSeconds: 20s\n", "timeoutSeconds"},
		{"log format", "config:\n  logFormat: xml\n", "logFormat"},
		{"profiling typo", "profiling:\n  serverAdress: http://pyroscope:4040\n", "'serverAdress' not allowed"},
		{"profiling address without scheme", "profiling:\n  serverAddress: pyroscope:4040\n", "serverAddress"},
		{"profiling password in the address", "profiling:\n  serverAddress: https://user:secret@profiles.example.com\n", "serverAddress"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := t.TempDir() + "/values.yaml"
			if err := os.WriteFile(file, []byte(tc.values), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := lint(t, "-f", file)
			if err == nil {
				t.Fatalf("helm lint passed with\n%s", tc.values)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("helm lint failed without naming %q:\n%s", tc.want, out)
			}
			if out, err := runHelm(t, "template", releaseName, chartDir, "-f", file); err == nil {
				t.Fatalf("helm template rendered with\n%s\n%s", tc.values, out)
			}
		})
	}
}

func wantKinds(t *testing.T, m *Manifests, kinds ...string) {
	t.Helper()
	got := slices.Sorted(slices.Values(m.Kinds))
	want := slices.Sorted(slices.Values(kinds))
	if !slices.Equal(got, want) {
		t.Fatalf("rendered kinds\n  %v\nwant\n  %v", got, want)
	}
}

// checkChart asserts what the app needs from the render and what the chart
// promises about security, on the typed objects.
func checkChart(t *testing.T, m *Manifests, w want) {
	t.Helper()
	nWant := 1
	if w.worker {
		nWant = 2
	}
	if len(m.Deployments) != nWant || len(m.Services) != nWant {
		t.Fatalf("want %d Deployments and Services (the API's, and the worker's: %v), got %d and %d", nWant, w.worker, len(m.Deployments), len(m.Services))
	}
	d := api(t, m.Deployments)
	pod := d.Spec.Template
	podLabels := labels.Set(pod.Labels)
	checkLabels(t, "pod template", pod.Labels)

	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(podLabels) {
		t.Errorf("Deployment selector %v does not select its pods %v (%v)", d.Spec.Selector, pod.Labels, err)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if strings.HasSuffix(c.Image, ":latest") || !strings.ContainsAny(c.Image, ":@") {
		t.Errorf("image %q: want a pinned tag or digest", c.Image)
	}
	if len(c.Command) > 0 || len(c.Args) > 0 {
		t.Errorf("API container command %v args %v: want the image's entrypoint alone (app serve)", c.Command, c.Args)
	}
	// The API runs the jobs only without the worker, and then needs SMTP_URL.
	secrets, jobWorkers := secretEnv, 0
	if !w.worker {
		secrets, jobWorkers = withSecrets(secretEnv, smtpSecretEnv), w.jobWorkers
	}
	env := checkEnv(t, c, w, secrets, "blog-api", d.Name)
	checkJobsEnv(t, "API", env, jobWorkers)

	// Ports: the names the probes, the Service and the ServiceMonitor use,
	// at the addresses the app listens on.
	ports := map[string]corev1.ContainerPort{}
	for _, p := range c.Ports {
		ports[p.Name] = p
	}
	if ports["http"].ContainerPort != httpPort || ports["admin"].ContainerPort != adminPort {
		t.Errorf("container ports %v: want http %d, admin %d", c.Ports, httpPort, adminPort)
	}
	if got := portOf(t, env["HTTP_ADDR"].Value); got != ports["http"].ContainerPort {
		t.Errorf("HTTP_ADDR %q does not listen on the http port %d", env["HTTP_ADDR"].Value, ports["http"].ContainerPort)
	}
	if got := portOf(t, env["ADMIN_ADDR"].Value); got != ports["admin"].ContainerPort {
		t.Errorf("ADMIN_ADDR %q does not listen on the admin port %d", env["ADMIN_ADDR"].Value, ports["admin"].ContainerPort)
	}

	// Probes: /livez and /readyz are served by the public listener only
	// (app/internal/httpapi); the admin one would answer 401 with a token.
	checkProbe(t, "liveness", c.LivenessProbe, "/livez", ports)
	checkProbe(t, "readiness", c.ReadinessProbe, "/readyz", ports)
	checkProbe(t, "startup", c.StartupProbe, "/livez", ports)

	// Shutdown: the drain and the timeout as the app parses them, and a
	// grace period that outlasts both.
	drain, err := time.ParseDuration(env["SHUTDOWN_DRAIN_DELAY"].Value)
	if err != nil || drain != time.Duration(w.drain)*time.Second {
		t.Errorf("SHUTDOWN_DRAIN_DELAY %q, want %ds (%v)", env["SHUTDOWN_DRAIN_DELAY"].Value, w.drain, err)
	}
	timeout, err := time.ParseDuration(env["SHUTDOWN_TIMEOUT"].Value)
	if err != nil || timeout != time.Duration(w.timeout)*time.Second {
		t.Errorf("SHUTDOWN_TIMEOUT %q, want %ds (%v)", env["SHUTDOWN_TIMEOUT"].Value, w.timeout, err)
	}
	grace := pod.Spec.TerminationGracePeriodSeconds
	if grace == nil || time.Duration(*grace)*time.Second <= drain+timeout {
		t.Errorf("terminationGracePeriodSeconds %v: want longer than drain %v + timeout %v", grace, drain, timeout)
	} else if *grace != w.grace {
		t.Errorf("terminationGracePeriodSeconds %d, want %d", *grace, w.grace)
	}

	checkSecurity(t, pod.Spec, c)

	// Resources: requests (the scheduler and the HPA's utilisation) and a
	// memory limit.
	r := c.Resources
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, ok := r.Requests[name]
		if !ok || req.IsZero() {
			t.Errorf("resources.requests.%s not set", name)
		}
		if lim, ok := r.Limits[name]; ok && lim.Cmp(req) < 0 {
			t.Errorf("resources.limits.%s %s below the request %s", name, lim.String(), req.String())
		}
	}
	if lim, ok := r.Limits[corev1.ResourceMemory]; !ok || lim.IsZero() {
		t.Errorf("resources.limits.memory not set")
	}

	// Spread: pods of this release across nodes/zones, or anti-affinity.
	spread := false
	for _, tsc := range pod.Spec.TopologySpreadConstraints {
		s, err := metav1.LabelSelectorAsSelector(tsc.LabelSelector)
		if err != nil || s.Empty() || !s.Matches(podLabels) {
			t.Errorf("topologySpreadConstraint %s: selector %v does not select the pods", tsc.TopologyKey, tsc.LabelSelector)
		}
		spread = spread || tsc.TopologyKey == "kubernetes.io/hostname"
	}
	if a := pod.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		spread = true
	}
	if !spread {
		t.Errorf("no topology spread over kubernetes.io/hostname nor pod anti-affinity: all pods may land on one node")
	}

	// The ServiceAccount: the pods run as it and mount no token.
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Errorf("pod automountServiceAccountToken %v, want false", pod.Spec.AutomountServiceAccountToken)
	}
	if len(m.ServiceAccounts) != 1 || m.ServiceAccounts[0].Name != pod.Spec.ServiceAccountName {
		t.Errorf("ServiceAccount %q is not rendered", pod.Spec.ServiceAccountName)
	} else if a := m.ServiceAccounts[0].AutomountServiceAccountToken; a == nil || *a {
		t.Errorf("ServiceAccount automountServiceAccountToken %v, want false", a)
	}

	svc := checkService(t, api(t, m.Services), podLabels)
	checkScaling(t, m, d, w)
	checkNetworkPolicy(t, api(t, m.NetworkPolicies), podLabels, w)

	if got := len(m.Ingresses) == 1; got != w.ingress {
		t.Errorf("Ingress rendered: %v, want %v", got, w.ingress)
	}
	for _, ing := range m.Ingresses {
		for _, rule := range ing.Spec.Rules {
			for _, p := range rule.HTTP.Paths {
				if b := p.Backend.Service; b == nil || b.Name != svc.Name || b.Port.Name != "http" {
					t.Errorf("Ingress path %s: backend %+v, want Service %s port http", p.Path, p.Backend, svc.Name)
				}
			}
		}
	}

	if got := slices.ContainsFunc(m.ServiceMonitors, isAPI); got != w.serviceMonitor {
		t.Errorf("API ServiceMonitor rendered: %v, want %v", got, w.serviceMonitor)
	}
	for _, sm := range m.ServiceMonitors {
		if isAPI(sm) {
			checkServiceMonitor(t, sm, svc, env["METRICS_TOKEN"])
		}
	}

	if w.worker {
		checkWorker(t, m, w)
	} else {
		checkNoWorker(t, m)
	}
}

// checkEnv: every credential by secretKeyRef, no secret in a literal, the
// OTEL_* variables, and $(VAR) references that the kubelet can expand.
func checkEnv(t *testing.T, c corev1.Container, w want, secrets map[string]bool, serviceName, deployment string) map[string]corev1.EnvVar {
	t.Helper()
	if len(c.EnvFrom) > 0 {
		t.Errorf("envFrom %v: every variable must be listed (and credentials come by secretKeyRef)", c.EnvFrom)
	}
	if w.pyroscopeUser != "" {
		secrets = withSecrets(secrets, pyroscopeSecretEnv)
	}
	env := map[string]corev1.EnvVar{}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s set twice", e.Name)
		}
		for _, m := range ref.FindAllStringSubmatch(e.Value, -1) {
			if _, ok := env[m[1]]; !ok {
				t.Errorf("env %s refers to $(%s), which is not defined before it: the kubelet leaves it unexpanded", e.Name, m[1])
			}
		}
		env[e.Name] = e
		if optional, isSecret := secrets[e.Name]; isSecret {
			k := (*corev1.SecretKeySelector)(nil)
			if e.ValueFrom != nil {
				k = e.ValueFrom.SecretKeyRef
			}
			switch {
			case e.Value != "" || k == nil:
				t.Errorf("env %s: not a secretKeyRef (value %q, valueFrom %+v)", e.Name, e.Value, e.ValueFrom)
			case k.Name != w.secretName || k.Key == "":
				t.Errorf("env %s: secretKeyRef %s/%s, want the Secret %q", e.Name, k.Name, k.Key, w.secretName)
			case (k.Optional != nil && *k.Optional) != optional:
				t.Errorf("env %s: secretKeyRef optional %v, want %v", e.Name, k.Optional != nil && *k.Optional, optional)
			}
			continue
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			// Each pod gets the credentials it uses, no more.
			t.Errorf("env %s: a secret this container does not use (it reads %v)", e.Name, slices.Sorted(maps.Keys(secrets)))
			continue
		}
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
			continue
		}
		if e.Value != "" && secretLikeName.MatchString(e.Name) && e.Name != "SENTRY_FRONTEND_DSN" {
			t.Errorf("env %s has a literal value: a secret must come by secretKeyRef", e.Name)
		}
		if strings.Contains(e.Value, "://") && strings.Contains(e.Value, "@") {
			t.Errorf("env %s=%q looks like a URL with credentials", e.Name, e.Value)
		}
	}
	for name := range secrets {
		if _, ok := env[name]; !ok {
			t.Errorf("env %s missing", name)
		}
	}

	literal := map[string]string{
		"LOG_FORMAT":         "json",
		"OTEL_SERVICE_NAME":  serviceName,
		"SENTRY_ENVIRONMENT": w.environment,
	}
	if w.otlpEndpoint != "" {
		literal["OTEL_EXPORTER_OTLP_ENDPOINT"] = w.otlpEndpoint
	} else if e, ok := env["OTEL_EXPORTER_OTLP_ENDPOINT"]; ok {
		t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT=%q, want unset", e.Value)
	}
	// The app reads PYROSCOPE_* (telemetry.WithProfiling): only what is set
	// is rendered, so that an unset address leaves profiling off.
	for name, v := range map[string]string{
		"PYROSCOPE_SERVER_ADDRESS":  w.pyroscopeAddress,
		"PYROSCOPE_TENANT_ID":       w.pyroscopeTenant,
		"PYROSCOPE_BASIC_AUTH_USER": w.pyroscopeUser,
	} {
		if v != "" {
			literal[name] = v
		} else if e, ok := env[name]; ok {
			t.Errorf("%s=%q, want unset", name, e.Value)
		}
	}
	if _, ok := env["PYROSCOPE_BASIC_AUTH_PASSWORD"]; ok && w.pyroscopeUser == "" {
		t.Error("PYROSCOPE_BASIC_AUTH_PASSWORD without PYROSCOPE_BASIC_AUTH_USER")
	}
	for k, v := range literal {
		if got := env[k]; got.Value != v || got.ValueFrom != nil {
			t.Errorf("env %s=%q, want %q", k, got.Value, v)
		}
	}
	// The downward API behind $(HOST_IP) and the k8s.* resource attributes.
	fields := map[string]string{
		"HOST_IP":            "status.hostIP",
		"K8S_POD_NAME":       "metadata.name",
		"K8S_POD_UID":        "metadata.uid",
		"K8S_NAMESPACE_NAME": "metadata.namespace",
		"K8S_NODE_NAME":      "spec.nodeName",
	}
	for name, path := range fields {
		e := env[name]
		if e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != path {
			t.Errorf("env %s: want fieldRef %s, got %+v", name, path, e.ValueFrom)
		}
	}
	attrs := map[string]string{}
	for _, kv := range strings.Split(env["OTEL_RESOURCE_ATTRIBUTES"].Value, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			t.Errorf("OTEL_RESOURCE_ATTRIBUTES: malformed %q", kv)
		}
		attrs[k] = v
	}
	wantAttrs := map[string]string{
		"k8s.pod.name":                "$(K8S_POD_NAME)",
		"k8s.pod.uid":                 "$(K8S_POD_UID)",
		"k8s.namespace.name":          "$(K8S_NAMESPACE_NAME)",
		"k8s.node.name":               "$(K8S_NODE_NAME)",
		"k8s.deployment.name":         deployment,
		"deployment.environment.name": w.environment,
	}
	for k, v := range w.extraResourceAttr {
		wantAttrs[k] = v
	}
	for k, v := range wantAttrs {
		if attrs[k] != v {
			t.Errorf("OTEL_RESOURCE_ATTRIBUTES %s=%q, want %q (all: %s)", k, attrs[k], v, env["OTEL_RESOURCE_ATTRIBUTES"].Value)
		}
	}
	return env
}

func portOf(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("address %q: %v", addr, err)
		return 0
	}
	n, _ := strconv.Atoi(p)
	return int32(n)
}

func checkProbe(t *testing.T, name string, p *corev1.Probe, path string, ports map[string]corev1.ContainerPort) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s probe: want an httpGet probe of %s", name, path)
		return
	}
	if p.HTTPGet.Path != path {
		t.Errorf("%s probe path %q, want %q", name, p.HTTPGet.Path, path)
	}
	port := p.HTTPGet.Port
	if port.Type == intstr.String {
		port = intstr.FromInt32(ports[port.StrVal].ContainerPort)
	}
	if port.IntValue() != httpPort {
		t.Errorf("%s probe port %s, want the http port %d (the admin port does not serve %s)", name, p.HTTPGet.Port.String(), httpPort, path)
	}
	if p.PeriodSeconds < 1 || p.TimeoutSeconds < 1 || p.FailureThreshold < 1 {
		t.Errorf("%s probe timing not set: %+v", name, p)
	}
}

func checkSecurity(t *testing.T, spec corev1.PodSpec, c corev1.Container) {
	t.Helper()
	ps, cs := spec.SecurityContext, c.SecurityContext
	if ps == nil || cs == nil {
		t.Fatalf("securityContext missing (pod %v, container %v)", ps, cs)
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	isFalse := func(b *bool) bool { return b != nil && !*b }
	is := func(p *int64, v int64) bool { return p != nil && *p == v }
	for what, ok := range map[string]bool{
		"pod runAsNonRoot":                   isTrue(ps.RunAsNonRoot),
		"pod runAsUser 65532":                is(ps.RunAsUser, nonroot),
		"pod runAsGroup 65532":               is(ps.RunAsGroup, nonroot),
		"pod seccompProfile RuntimeDefault":  ps.SeccompProfile != nil && ps.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault,
		"runAsNonRoot":                       isTrue(cs.RunAsNonRoot),
		"runAsUser 65532":                    is(cs.RunAsUser, nonroot),
		"runAsGroup 65532":                   is(cs.RunAsGroup, nonroot),
		"readOnlyRootFilesystem":             isTrue(cs.ReadOnlyRootFilesystem),
		"allowPrivilegeEscalation false":     isFalse(cs.AllowPrivilegeEscalation),
		"not privileged":                     cs.Privileged == nil || !*cs.Privileged,
		"capabilities drop ALL":              cs.Capabilities != nil && slices.Contains(cs.Capabilities.Drop, "ALL"),
		"no capability added":                cs.Capabilities == nil || len(cs.Capabilities.Add) == 0,
		"container seccomp RuntimeDefault":   cs.SeccompProfile == nil || cs.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault,
		"no host network, PID or IPC":        !spec.HostNetwork && !spec.HostPID && !spec.HostIPC,
		"no service links (env clutter)":     isFalse(spec.EnableServiceLinks),
		"image pull policy set":              c.ImagePullPolicy != "",
		"no hostPath volumes":                !slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.HostPath != nil }),
		"no container ports bound hostPorts": !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.HostPort != 0 }),
	} {
		if !ok {
			t.Errorf("security: want %s", what)
		}
	}
	// The read-only root needs a writable /tmp.
	var tmpVolume string
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == "/tmp" && !vm.ReadOnly {
			tmpVolume = vm.Name
		}
	}
	if !slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == tmpVolume && v.EmptyDir != nil }) {
		t.Errorf("no writable emptyDir at /tmp (mounts %v)", c.VolumeMounts)
	}
}

func checkService(t *testing.T, svc *corev1.Service, podLabels labels.Set) *corev1.Service {
	t.Helper()
	if svc.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("Service type %q, want ClusterIP", svc.Spec.Type)
	}
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, podLabels)
	}
	got := map[string]string{}
	for _, p := range svc.Spec.Ports {
		got[p.Name] = p.TargetPort.String()
	}
	if got["http"] != "http" || got["admin"] != "admin" || len(got) != 2 {
		t.Errorf("Service ports %v: want http -> http and admin -> admin", svc.Spec.Ports)
	}
	return svc
}

func checkScaling(t *testing.T, m *Manifests, d *appsv1.Deployment, w want) {
	t.Helper()
	if w.hpa {
		if len(m.HPAs) != 1 {
			t.Fatalf("want an HPA, got %d", len(m.HPAs))
		}
		h := m.HPAs[0]
		if d.Spec.Replicas != nil {
			t.Errorf("Deployment replicas %d set although the HPA owns the count (every upgrade would reset it)", *d.Spec.Replicas)
		}
		ref := h.Spec.ScaleTargetRef
		if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != d.Name {
			t.Errorf("HPA scaleTargetRef %+v, want the Deployment %s", ref, d.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != w.minReplicas || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
			t.Errorf("HPA min %v max %d, want min %d <= max", h.Spec.MinReplicas, h.Spec.MaxReplicas, w.minReplicas)
		}
		cpu := slices.ContainsFunc(h.Spec.Metrics, func(ms autoscalingv2.MetricSpec) bool {
			return ms.Resource != nil && ms.Resource.Name == corev1.ResourceCPU && ms.Resource.Target.AverageUtilization != nil
		})
		if !cpu {
			t.Errorf("HPA metrics %+v: want a CPU utilisation target", h.Spec.Metrics)
		}
	} else {
		if len(m.HPAs) != 0 {
			t.Errorf("HPA rendered with autoscaling off")
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != w.replicas {
			t.Errorf("Deployment replicas %v, want %d", d.Spec.Replicas, w.replicas)
		}
	}

	if !w.pdb {
		if len(m.PDBs) != 0 {
			t.Errorf("PodDisruptionBudget rendered for a single pod: it would block node drains")
		}
		return
	}
	if len(m.PDBs) != 1 {
		t.Fatalf("want a PodDisruptionBudget, got %d", len(m.PDBs))
	}
	p := m.PDBs[0]
	s, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
	if err != nil || s.Empty() || !s.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("PDB selector %v does not select the pods", p.Spec.Selector)
	}
	if p.Spec.MaxUnavailable == nil || p.Spec.MaxUnavailable.IntValue() != 1 || p.Spec.MinAvailable != nil {
		t.Errorf("PDB maxUnavailable %v minAvailable %v, want maxUnavailable 1", p.Spec.MaxUnavailable, p.Spec.MinAvailable)
	}
}

// rulePorts reports whether an ingress rule admits traffic to the named or
// numbered port (a rule without ports admits every port).
func rulePorts(r networkingv1.NetworkPolicyIngressRule, name string, number int) bool {
	if len(r.Ports) == 0 {
		return true
	}
	for _, p := range r.Ports {
		if p.Port == nil || (p.Port.Type == intstr.String && p.Port.StrVal == name) ||
			(p.Port.Type == intstr.Int && (p.Port.IntValue() == number || (p.EndPort != nil && p.Port.IntValue() <= number && number <= int(*p.EndPort)))) {
			return true
		}
	}
	return false
}

// checkNetworkPolicy: the public port is reachable, the admin port only from
// the monitoring namespace, by every rule that covers it.
func checkNetworkPolicy(t *testing.T, np *networkingv1.NetworkPolicy, podLabels labels.Set, w want) {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil || s.Empty() || !s.Matches(podLabels) {
		t.Errorf("NetworkPolicy podSelector %v does not select the pods", np.Spec.PodSelector)
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		t.Errorf("NetworkPolicy policyTypes %v: want Ingress", np.Spec.PolicyTypes)
	}
	httpOpen, adminOpen := policyAdmits(t, np, w)
	if !httpOpen {
		t.Errorf("NetworkPolicy admits nothing to the http port")
	}
	if !adminOpen {
		t.Errorf("NetworkPolicy does not admit the monitoring namespace %q to the admin port: nothing can scrape /metrics", w.monitoringNS)
	}
}

// policyAdmits reports whether a NetworkPolicy admits traffic to the http
// port and the monitoring namespace to the admin port, and fails the test
// when it admits anyone else to the admin port.
func policyAdmits(t *testing.T, np *networkingv1.NetworkPolicy, w want) (httpOpen, adminOpen bool) {
	t.Helper()
	for i, r := range np.Spec.Ingress {
		if rulePorts(r, "http", httpPort) {
			httpOpen = true
		}
		if !rulePorts(r, "admin", adminPort) {
			continue
		}
		if len(r.From) == 0 {
			t.Errorf("%s: ingress rule %d admits the admin port from everywhere", np.Name, i)
			continue
		}
		for _, peer := range r.From {
			ns := peer.NamespaceSelector
			if peer.IPBlock != nil || ns == nil || len(ns.MatchExpressions) > 0 ||
				len(ns.MatchLabels) != 1 || ns.MatchLabels["kubernetes.io/metadata.name"] != w.monitoringNS {
				t.Errorf("%s: ingress rule %d admits the admin port from %s, want only the namespace %q", np.Name, i, describePeer(peer), w.monitoringNS)
				continue
			}
			adminOpen = true
		}
	}
	return httpOpen, adminOpen
}

func describePeer(p networkingv1.NetworkPolicyPeer) string {
	return fmt.Sprintf("{namespaceSelector: %v, podSelector: %v, ipBlock: %v}", p.NamespaceSelector, p.PodSelector, p.IPBlock)
}

func checkServiceMonitor(t *testing.T, sm *ServiceMonitor, svc *corev1.Service, token corev1.EnvVar) {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil || s.Empty() || !s.Matches(labels.Set(svc.Labels)) {
		t.Errorf("ServiceMonitor selector %v does not select the Service (labels %v)", sm.Spec.Selector, svc.Labels)
	}
	if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{namespace}) {
		t.Errorf("ServiceMonitor namespaces %v, want [%s]", sm.Spec.NamespaceSelector.MatchNames, namespace)
	}
	// The dashboards and alert rules select job="blog-api".
	if job := svc.Labels[sm.Spec.JobLabel]; job != "blog-api" {
		t.Errorf("ServiceMonitor jobLabel %q gives job=%q, want blog-api", sm.Spec.JobLabel, job)
	}
	for _, e := range sm.Spec.Endpoints {
		if len(e.Relabelings) > 0 {
			t.Errorf("API ServiceMonitor relabelings %+v: the job comes from jobLabel alone", e.Relabelings)
		}
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor endpoints %d, want 1", len(sm.Spec.Endpoints))
	}
	e := sm.Spec.Endpoints[0]
	if e.Port != "admin" || e.Path != "/metrics" || e.Scheme != "http" {
		t.Errorf("ServiceMonitor endpoint %s %s://…%s, want port admin http /metrics", e.Port, e.Scheme, e.Path)
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == e.Port }) {
		t.Errorf("ServiceMonitor port %q is not a port of the Service", e.Port)
	}
	iv, err1 := time.ParseDuration(e.Interval)
	to, err2 := time.ParseDuration(e.ScrapeTimeout)
	if err1 != nil || err2 != nil || to > iv {
		t.Errorf("ServiceMonitor interval %q scrapeTimeout %q", e.Interval, e.ScrapeTimeout)
	}
	want := token.ValueFrom.SecretKeyRef
	if a := e.Authorization; a == nil || a.Type != "Bearer" || a.Credentials.Name != want.Name || a.Credentials.Key != want.Key {
		t.Errorf("ServiceMonitor authorization %+v, want Bearer from the Secret %s key %s (METRICS_TOKEN)", e.Authorization, want.Name, want.Key)
	}
}
