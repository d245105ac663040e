package test

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// ServiceMonitor is the part of monitoring.coreos.com/v1 ServiceMonitor the
// chart renders (the Prometheus Operator's types are not in k8s.io/api);
// decoded with unknown fields disallowed, so a field the chart renders that
// is not listed here fails the test until it is added and asserted.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ServiceMonitorSpec `json:"spec"`
}

type ServiceMonitorSpec struct {
	JobLabel          string               `json:"jobLabel,omitempty"`
	Selector          metav1.LabelSelector `json:"selector"`
	NamespaceSelector struct {
		MatchNames []string `json:"matchNames,omitempty"`
	} `json:"namespaceSelector"`
	Endpoints []ServiceMonitorEndpoint `json:"endpoints"`
}

type ServiceMonitorEndpoint struct {
	Port          string `json:"port"`
	Path          string `json:"path"`
	Scheme        string `json:"scheme"`
	Interval      string `json:"interval"`
	ScrapeTimeout string `json:"scrapeTimeout"`
	Authorization *struct {
		Type        string                   `json:"type"`
		Credentials corev1.SecretKeySelector `json:"credentials"`
	} `json:"authorization"`
	Relabelings []RelabelConfig `json:"relabelings,omitempty"`
}

// RelabelConfig is the part of a Prometheus relabel rule the chart renders.
type RelabelConfig struct {
	Action       string   `json:"action,omitempty"`
	SourceLabels []string `json:"sourceLabels,omitempty"`
	TargetLabel  string   `json:"targetLabel,omitempty"`
	Replacement  *string  `json:"replacement,omitempty"`
}

// Manifests is one render, by kind. Every kind the chart may render has a
// field here; any other kind fails the decode.
type Manifests struct {
	Deployments     []*appsv1.Deployment
	Services        []*corev1.Service
	ServiceAccounts []*corev1.ServiceAccount
	HPAs            []*autoscalingv2.HorizontalPodAutoscaler
	PDBs            []*policyv1.PodDisruptionBudget
	NetworkPolicies []*networkingv1.NetworkPolicy
	Ingresses       []*networkingv1.Ingress
	ServiceMonitors []*ServiceMonitor
	Kinds           []string // "apiVersion/kind", in render order
}

// decodeManifests splits helm's output and decodes each document strictly
// into its type, chosen by apiVersion and kind.
func decodeManifests(t *testing.T, out []byte) *Manifests {
	t.Helper()
	m := &Manifests{}
	docs := splitDocuments(out)
	if len(docs) == 0 {
		t.Fatalf("helm template rendered nothing:\n%s", out)
	}
	for i, doc := range docs {
		var tm metav1.TypeMeta
		if err := decodeLoose(doc, &tm); err != nil {
			t.Fatalf("document %d: %v\n%s", i, err, doc)
		}
		gvk := tm.APIVersion + "/" + tm.Kind
		var obj any
		switch gvk {
		case "apps/v1/Deployment":
			o := &appsv1.Deployment{}
			m.Deployments, obj = append(m.Deployments, o), o
		case "v1/Service":
			o := &corev1.Service{}
			m.Services, obj = append(m.Services, o), o
		case "v1/ServiceAccount":
			o := &corev1.ServiceAccount{}
			m.ServiceAccounts, obj = append(m.ServiceAccounts, o), o
		case "autoscaling/v2/HorizontalPodAutoscaler":
			o := &autoscalingv2.HorizontalPodAutoscaler{}
			m.HPAs, obj = append(m.HPAs, o), o
		case "policy/v1/PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			m.PDBs, obj = append(m.PDBs, o), o
		case "networking.k8s.io/v1/NetworkPolicy":
			o := &networkingv1.NetworkPolicy{}
			m.NetworkPolicies, obj = append(m.NetworkPolicies, o), o
		case "networking.k8s.io/v1/Ingress":
			o := &networkingv1.Ingress{}
			m.Ingresses, obj = append(m.Ingresses, o), o
		case "monitoring.coreos.com/v1/ServiceMonitor":
			o := &ServiceMonitor{}
			m.ServiceMonitors, obj = append(m.ServiceMonitors, o), o
		default:
			// A Secret or ConfigMap lands here too: the chart renders neither.
			t.Fatalf("document %d: unexpected kind %q (add it to decodeManifests with its k8s.io/api type)\n%s", i, gvk, doc)
		}
		if err := decodeStrict(doc, obj); err != nil {
			t.Fatalf("document %d (%s): strict decode: %v\n%s", i, gvk, err, doc)
		}
		m.Kinds = append(m.Kinds, gvk)
		checkMeta(t, gvk, objectMeta(obj))
	}
	return m
}

// decodeLoose reads only the type of a document.
func decodeLoose(doc []byte, v *metav1.TypeMeta) error {
	return yaml.Unmarshal(doc, v)
}

func objectMeta(obj any) *metav1.ObjectMeta {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.ObjectMeta
	case *corev1.Service:
		return &o.ObjectMeta
	case *corev1.ServiceAccount:
		return &o.ObjectMeta
	case *autoscalingv2.HorizontalPodAutoscaler:
		return &o.ObjectMeta
	case *policyv1.PodDisruptionBudget:
		return &o.ObjectMeta
	case *networkingv1.NetworkPolicy:
		return &o.ObjectMeta
	case *networkingv1.Ingress:
		return &o.ObjectMeta
	case *ServiceMonitor:
		return &o.ObjectMeta
	}
	panic(fmt.Sprintf("objectMeta: %T", obj))
}

// checkMeta: valid names and labels, the namespace of the release, and the
// standard app.kubernetes.io labels.
func checkMeta(t *testing.T, gvk string, meta *metav1.ObjectMeta) {
	t.Helper()
	if errs := validation.IsDNS1123Subdomain(meta.Name); len(errs) > 0 {
		t.Errorf("%s name %q: %s", gvk, meta.Name, strings.Join(errs, "; "))
	}
	if meta.Namespace != namespace {
		t.Errorf("%s %s: namespace %q, want %q", gvk, meta.Name, meta.Namespace, namespace)
	}
	checkLabels(t, gvk+" "+meta.Name, meta.Labels)
	for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
		if meta.Labels[k] == "" {
			t.Errorf("%s %s: label %s missing", gvk, meta.Name, k)
		}
	}
}

func checkLabels(t *testing.T, what string, labels map[string]string) {
	t.Helper()
	for k, v := range labels {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			t.Errorf("%s: label key %q: %s", what, k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("%s: label %s value %q: %s", what, k, v, strings.Join(errs, "; "))
		}
	}
}
