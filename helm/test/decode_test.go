package helmtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// decoder decodes manifests strictly (unknown or duplicate fields are errors) into the
// Kubernetes API types client-go knows and the Prometheus Operator's monitoring/v1 types.
var decoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := monitoringv1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}()

// rendered is one case's manifests, decoded.
type rendered struct {
	objects     []runtime.Object
	deployment  *appsv1.Deployment
	configMaps  map[string]*corev1.ConfigMap
	services    map[string]*corev1.Service
	pdb         *policyv1.PodDisruptionBudget
	hpa         *autoscalingv2.HorizontalPodAutoscaler
	netpol      *networkingv1.NetworkPolicy
	svcMonitor  *monitoringv1.ServiceMonitor
	podMonitor  *monitoringv1.PodMonitor
	rule        *monitoringv1.PrometheusRule
	serviceAcct *corev1.ServiceAccount
}

func decodeAll(t *testing.T, out []byte) *rendered {
	t.Helper()
	r := &rendered{configMaps: map[string]*corev1.ConfigMap{}, services: map[string]*corev1.Service{}}
	for _, d := range splitDocs(out) {
		obj, gvk, err := decoder.Decode(d.YAML, nil, nil)
		if err != nil {
			t.Errorf("%s: strict decode: %v\n%s", d.Source, err, d.YAML)
			continue
		}
		r.objects = append(r.objects, obj)
		switch o := obj.(type) {
		case *appsv1.Deployment:
			if r.deployment != nil {
				t.Errorf("two Deployments")
			}
			r.deployment = o
		case *corev1.ConfigMap:
			r.configMaps[o.Name] = o
		case *corev1.Service:
			r.services[o.Name] = o
		case *policyv1.PodDisruptionBudget:
			r.pdb = o
		case *autoscalingv2.HorizontalPodAutoscaler:
			r.hpa = o
		case *networkingv1.NetworkPolicy:
			r.netpol = o
		case *monitoringv1.ServiceMonitor:
			r.svcMonitor = o
		case *monitoringv1.PodMonitor:
			r.podMonitor = o
		case *monitoringv1.PrometheusRule:
			r.rule = o
		case *corev1.ServiceAccount:
			r.serviceAcct = o
		default:
			t.Errorf("%s: unexpected kind %s", d.Source, gvk)
		}
	}
	if r.deployment == nil {
		t.Fatal("no Deployment rendered")
	}
	return r
}

// TestManifestsDecodeStrictly decodes every manifest of every case into the official types and
// checks what the types alone do not: names and labels Kubernetes accepts, selectors that
// select, ports that exist, the hardening the chart promises.
func TestManifestsDecodeStrictly(t *testing.T) {
	for _, c := range cases {
		t.Run(c, func(t *testing.T) {
			r := decodeAll(t, mustRender(t, []string{caseValues(c)}))
			checkMeta(t, r)
			checkDeployment(t, r)
			checkSelectors(t, r)
		})
	}
}

func checkMeta(t *testing.T, r *rendered) {
	t.Helper()
	for _, o := range r.objects {
		m, err := metaOf(o)
		if err != nil {
			t.Error(err)
			continue
		}
		kind := fmt.Sprintf("%T", o)
		mo := struct{ Name, Namespace string }{m.GetName(), m.GetNamespace()}
		for _, e := range validation.IsDNS1123Subdomain(mo.Name) {
			t.Errorf("%s %q: name: %s", kind, mo.Name, e)
		}
		if _, ok := o.(*corev1.Service); ok {
			for _, e := range validation.IsDNS1035Label(mo.Name) {
				t.Errorf("Service %q: name: %s", mo.Name, e)
			}
		}
		if mo.Namespace != namespace {
			t.Errorf("%s %q: namespace %q, want %q", kind, mo.Name, mo.Namespace, namespace)
		}
		checkLabels(t, kind+" "+mo.Name, m.GetLabels())
		for k := range m.GetAnnotations() {
			for _, e := range validation.IsQualifiedName(k) {
				t.Errorf("%s %q: annotation %q: %s", kind, mo.Name, k, e)
			}
		}
		if m.GetLabels()["app.kubernetes.io/name"] != "headroom" || m.GetLabels()["app.kubernetes.io/instance"] != release {
			t.Errorf("%s %q: missing the chart's standard labels: %v", kind, mo.Name, m.GetLabels())
		}
	}
}

func checkLabels(t *testing.T, what string, l map[string]string) {
	t.Helper()
	for k, v := range l {
		for _, e := range validation.IsQualifiedName(k) {
			t.Errorf("%s: label key %q: %s", what, k, e)
		}
		for _, e := range validation.IsValidLabelValue(v) {
			t.Errorf("%s: label %s=%q: %s", what, k, v, e)
		}
	}
}

func metaOf(o runtime.Object) (metav1.Object, error) {
	m, ok := o.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", o)
	}
	return m, nil
}

var secretish = regexp.MustCompile(`(?i)(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)`)

func checkDeployment(t *testing.T, r *rendered) {
	t.Helper()
	d := r.deployment
	pod := d.Spec.Template.Spec
	checkLabels(t, "pod template", d.Spec.Template.Labels)

	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccompProfile is not RuntimeDefault")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the service account token is mounted; Headroom does not use the API")
	}
	if r.serviceAcct != nil && pod.ServiceAccountName != r.serviceAcct.Name {
		t.Errorf("pod uses service account %q, chart creates %q", pod.ServiceAccountName, r.serviceAcct.Name)
	}

	var c *corev1.Container
	for i := range pod.Containers {
		if pod.Containers[i].Name == "headroom" {
			c = &pod.Containers[i]
		}
	}
	if c == nil {
		t.Fatal("no headroom container")
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("headroom container has no securityContext")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("container runAsNonRoot is not true")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("container root filesystem is writable")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("container allows privilege escalation")
	case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 0:
		t.Errorf("container capabilities are not drop [ALL]: %+v", sc.Capabilities)
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("container seccompProfile is not RuntimeDefault")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources: want a CPU request and a memory limit: %+v", c.Resources)
	}

	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if _, ok := ports["metrics"]; !ok {
		t.Error("no metrics port")
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
		if secretish.MatchString(e.Name) && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("env %s looks like a credential but does not come from a Secret", e.Name)
		}
	}
	for name, port := range map[string]string{"HEADROOM_METRICS_ADDR": "metrics", "HEADROOM_PROXY_ADDR": "proxy"} {
		if p, ok := ports[port]; ok && env[name].Value != fmt.Sprintf(":%d", p) {
			t.Errorf("%s=%q does not match the %s containerPort %d", name, env[name].Value, port, p)
		}
	}

	// Probes: /healthz and /readyz on the metrics port (TCP there when basic auth guards it).
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		switch {
		case p.probe == nil:
			t.Errorf("no %s probe", p.name)
		case p.probe.HTTPGet != nil:
			if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port != intstr.FromString("metrics") {
				t.Errorf("%s probe: %s on %s, want %s on metrics", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
			}
		case p.probe.TCPSocket != nil:
			if p.probe.TCPSocket.Port != intstr.FromString("metrics") {
				t.Errorf("%s probe: TCP on %s, want metrics", p.name, p.probe.TCPSocket.Port.String())
			}
		default:
			t.Errorf("%s probe is neither HTTP nor TCP", p.name)
		}
	}

	// Volumes: mounts refer to volumes; the providers file comes from the ConfigMap whose
	// content the checksum annotation covers; Secrets are mounted read-only.
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			t.Errorf("volumeMount %s: no such volume", m.Name)
			continue
		}
		if v.Secret != nil && !m.ReadOnly {
			t.Errorf("Secret volume %s is mounted writable", m.Name)
		}
	}
	if cfg, ok := env["HEADROOM_CONFIG"]; ok {
		v, ok := vols["config"]
		if !ok || v.ConfigMap == nil {
			t.Fatal("HEADROOM_CONFIG set but no config volume")
		}
		if cm, ok := r.configMaps[v.ConfigMap.Name]; ok {
			key := cfg.Value[strings.LastIndex(cfg.Value, "/")+1:]
			data, ok := cm.Data[key]
			if !ok {
				t.Fatalf("ConfigMap %s has no key %s", cm.Name, key)
			}
			sum := sha256.Sum256([]byte(strings.TrimSuffix(data, "\n")))
			if got := d.Spec.Template.Annotations["checksum/config"]; got != hex.EncodeToString(sum[:]) {
				t.Errorf("checksum/config %q does not match the providers file (sha256 %x)", got, sum)
			}
		}
	}

	// Replicas belong to the HPA when there is one.
	if r.hpa != nil {
		if d.Spec.Replicas != nil {
			t.Error("Deployment sets replicas although an HPA scales it")
		}
		if r.hpa.Spec.ScaleTargetRef.Kind != "Deployment" || r.hpa.Spec.ScaleTargetRef.Name != d.Name {
			t.Errorf("HPA targets %s/%s, not the Deployment", r.hpa.Spec.ScaleTargetRef.Kind, r.hpa.Spec.ScaleTargetRef.Name)
		}
	}
}

func checkSelectors(t *testing.T, r *rendered) {
	t.Helper()
	d := r.deployment
	podLabels := labels.Set(d.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("Deployment selector %v does not select its pods (%v)", d.Spec.Selector, err)
	}
	ports := map[string]bool{}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name != "headroom" {
			continue
		}
		for _, p := range c.Ports {
			ports[p.Name] = true
		}
	}
	for _, s := range r.services {
		if !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			t.Errorf("Service %s does not select the pods", s.Name)
		}
		for _, p := range s.Spec.Ports {
			if !ports[p.TargetPort.String()] {
				t.Errorf("Service %s: targetPort %s is no port of the headroom container", s.Name, p.TargetPort.String())
			}
		}
	}
	if r.pdb != nil {
		s, err := metav1.LabelSelectorAsSelector(r.pdb.Spec.Selector)
		if err != nil || !s.Matches(podLabels) {
			t.Errorf("PodDisruptionBudget does not select the pods (%v)", err)
		}
	}
	if r.netpol != nil {
		s, err := metav1.LabelSelectorAsSelector(&r.netpol.Spec.PodSelector)
		if err != nil || !s.Matches(podLabels) {
			t.Errorf("NetworkPolicy does not select the pods (%v)", err)
		}
		for _, in := range r.netpol.Spec.Ingress {
			for _, p := range in.Ports {
				if p.Port != nil && p.Port.Type == intstr.String && !ports[p.Port.String()] {
					t.Errorf("NetworkPolicy ingress port %s is no port of the headroom container", p.Port.String())
				}
			}
		}
	}
	if m := r.svcMonitor; m != nil {
		s, err := metav1.LabelSelectorAsSelector(&m.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		var matched []string
		for _, svc := range r.services {
			if s.Matches(labels.Set(svc.Labels)) {
				matched = append(matched, svc.Name)
				if len(m.Spec.Endpoints) != 1 || !hasPort(svc, m.Spec.Endpoints[0].Port) {
					t.Errorf("ServiceMonitor endpoint port is not a port of Service %s", svc.Name)
				}
			}
		}
		if len(matched) != 1 || !strings.HasSuffix(matched[0], "-metrics") {
			t.Errorf("ServiceMonitor selects Services %v, want only the metrics Service", matched)
		}
		checkJobRelabel(t, m.Spec.Endpoints[0].RelabelConfigs)
	}
	if m := r.podMonitor; m != nil {
		s, err := metav1.LabelSelectorAsSelector(&m.Spec.Selector)
		if err != nil || !s.Matches(podLabels) {
			t.Errorf("PodMonitor does not select the pods (%v)", err)
		}
		if len(m.Spec.PodMetricsEndpoints) != 1 || m.Spec.PodMetricsEndpoints[0].Port == nil || !ports[*m.Spec.PodMetricsEndpoints[0].Port] {
			t.Error("PodMonitor endpoint is not the metrics port")
		} else {
			checkJobRelabel(t, m.Spec.PodMetricsEndpoints[0].RelabelConfigs)
		}
	}
	for name, cm := range r.configMaps {
		if !strings.Contains(name, "-dashboard-") {
			continue
		}
		if cm.Labels["grafana_dashboard"] != "1" {
			t.Errorf("dashboard ConfigMap %s lacks grafana_dashboard: \"1\"", name)
		}
		for k, v := range cm.Data {
			if !json.Valid([]byte(v)) {
				t.Errorf("dashboard ConfigMap %s: %s is not JSON", name, k)
			}
		}
	}
}

func hasPort(s *corev1.Service, name string) bool {
	for _, p := range s.Spec.Ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

// checkJobRelabel: the shipped alerts select up{job="headroom"}.
func checkJobRelabel(t *testing.T, rcs []monitoringv1.RelabelConfig) {
	t.Helper()
	for _, rc := range rcs {
		if rc.TargetLabel == "job" && rc.Replacement != nil && *rc.Replacement == "headroom" {
			return
		}
	}
	t.Errorf("the monitor does not set job=\"headroom\" (the alerts' scrape_selector): %+v", rcs)
}
