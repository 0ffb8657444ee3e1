package charttest

import (
	"fmt"
	"maps"
	"net"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// podTemplate is the pod part of a workload.
type podTemplate struct {
	Owner    object
	Labels   map[string]string
	Annots   map[string]string
	Spec     corev1.PodSpec
	Selector *metav1.LabelSelector          // nil for Jobs/CronJobs/Pods
	Claims   []corev1.PersistentVolumeClaim // StatefulSet volumeClaimTemplates
}

func (p podTemplate) String() string { return p.Owner.String() }

// podTemplates returns every pod template the chart renders.
func (r *rendered) podTemplates() []podTemplate {
	var out []podTemplate
	for _, o := range r.Objects {
		switch w := o.Typed.(type) {
		case *appsv1.Deployment:
			out = append(out, podTemplate{o, w.Spec.Template.Labels, w.Spec.Template.Annotations, w.Spec.Template.Spec, w.Spec.Selector, nil})
		case *appsv1.StatefulSet:
			out = append(out, podTemplate{o, w.Spec.Template.Labels, w.Spec.Template.Annotations, w.Spec.Template.Spec, w.Spec.Selector, w.Spec.VolumeClaimTemplates})
		case *appsv1.DaemonSet:
			out = append(out, podTemplate{o, w.Spec.Template.Labels, w.Spec.Template.Annotations, w.Spec.Template.Spec, w.Spec.Selector, nil})
		case *appsv1.ReplicaSet:
			out = append(out, podTemplate{o, w.Spec.Template.Labels, w.Spec.Template.Annotations, w.Spec.Template.Spec, w.Spec.Selector, nil})
		case *batchv1.Job:
			out = append(out, podTemplate{o, w.Spec.Template.Labels, w.Spec.Template.Annotations, w.Spec.Template.Spec, nil, nil})
		case *batchv1.CronJob:
			t := w.Spec.JobTemplate.Spec.Template
			out = append(out, podTemplate{o, t.Labels, t.Annotations, t.Spec, nil, nil})
		case *corev1.Pod:
			out = append(out, podTemplate{o, w.Labels, w.Annotations, w.Spec, nil, nil})
		}
	}
	return out
}

// value returns the value at a dotted path of the coalesced values (nil when absent).
func (r *rendered) value(path string) any {
	var cur any = r.Values
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func (r *rendered) boolValue(path string) bool { b, _ := r.value(path).(bool); return b }

func (r *rendered) stringValue(path string) string { s, _ := r.value(path).(string); return s }

// checkInvariants returns every violated invariant of a rendered chart.
func checkInvariants(r *rendered) []string {
	var p []string
	p = append(p, checkPodSecurity(r)...)
	p = append(p, checkProbes(r)...)
	p = append(p, checkSelectors(r)...)
	p = append(p, checkServices(r)...)
	p = append(p, checkNetworkPolicies(r)...)
	p = append(p, checkReferences(r)...)
	p = append(p, checkChecksums(r)...)
	p = append(p, checkNames(r)...)
	p = append(p, checkIngressWiring(r)...)
	p = append(p, checkSidecar(r)...)
	p = append(p, checkRedisAddrs(r)...)
	return p
}

func ptrTrue(b *bool) bool  { return b != nil && *b }
func ptrFalse(b *bool) bool { return b != nil && !*b }

// checkPodSecurity: the "restricted" Pod Security Standard plus a read-only root file system and
// resource requests, for every container and init container.
func checkPodSecurity(r *rendered) []string { return checkPodSecurityOf(r.podTemplates()) }

func checkPodSecurityOf(pods []podTemplate) []string {
	var p []string
	for _, pt := range pods {
		s := pt.Spec
		if s.HostNetwork || s.HostPID || s.HostIPC {
			p = append(p, fmt.Sprintf("%s: uses a host namespace (hostNetwork/hostPID/hostIPC)", pt))
		}
		for _, v := range s.Volumes {
			if v.HostPath != nil {
				p = append(p, fmt.Sprintf("%s: volume %s is a hostPath", pt, v.Name))
			}
		}
		psc := s.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		cs := append(slices.Clone(s.InitContainers), s.Containers...)
		for _, c := range cs {
			where := fmt.Sprintf("%s container %s", pt, c.Name)
			sc := c.SecurityContext
			if sc == nil {
				sc = &corev1.SecurityContext{}
			}
			switch {
			case ptrFalse(sc.RunAsNonRoot):
				p = append(p, where+": securityContext.runAsNonRoot is false")
			case sc.RunAsNonRoot == nil && !ptrTrue(psc.RunAsNonRoot):
				p = append(p, where+": runAsNonRoot is not true (container or pod securityContext)")
			}
			uid := psc.RunAsUser
			if sc.RunAsUser != nil {
				uid = sc.RunAsUser
			}
			if uid != nil && *uid == 0 {
				p = append(p, where+": runAsUser is 0 (root)")
			}
			if !ptrTrue(sc.ReadOnlyRootFilesystem) {
				p = append(p, where+": securityContext.readOnlyRootFilesystem is not true")
			}
			if !ptrFalse(sc.AllowPrivilegeEscalation) {
				p = append(p, where+": securityContext.allowPrivilegeEscalation is not false")
			}
			if ptrTrue(sc.Privileged) {
				p = append(p, where+": securityContext.privileged is true")
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				p = append(p, where+": securityContext.capabilities.drop does not contain ALL")
			}
			if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
				p = append(p, fmt.Sprintf("%s: securityContext.capabilities.add is %v", where, sc.Capabilities.Add))
			}
			seccomp := psc.SeccompProfile
			if sc.SeccompProfile != nil {
				seccomp = sc.SeccompProfile
			}
			if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
				p = append(p, where+": seccompProfile is not RuntimeDefault (container or pod securityContext)")
			}
			req := c.Resources.Requests
			if q, ok := req[corev1.ResourceCPU]; !ok || q.IsZero() {
				p = append(p, where+": resources.requests.cpu is not set")
			}
			if q, ok := req[corev1.ResourceMemory]; !ok || q.IsZero() {
				p = append(p, where+": resources.requests.memory is not set")
			}
		}
	}
	return p
}

// checkProbes: every container of a Deployment or StatefulSet has liveness and readiness probes
// whose ports exist; gatewarden's own components probe /healthz and /readyz.
func checkProbes(r *rendered) []string {
	var p []string
	for _, pt := range r.podTemplates() {
		if k := pt.Owner.GVK.Kind; k != "Deployment" && k != "StatefulSet" {
			continue
		}
		own := slices.Contains([]string{"authproxy", "catalog", "inventory"}, pt.Labels["app.kubernetes.io/component"])
		for _, c := range pt.Spec.Containers {
			where := fmt.Sprintf("%s container %s", pt, c.Name)
			for _, pr := range []struct {
				name  string
				probe *corev1.Probe
				path  string
			}{{"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
				if pr.probe == nil {
					p = append(p, fmt.Sprintf("%s: no %s", where, pr.name))
					continue
				}
				h := pr.probe.ProbeHandler
				switch {
				case h.HTTPGet != nil:
					if !containerHasPort(c, h.HTTPGet.Port) {
						p = append(p, fmt.Sprintf("%s: %s port %s is not a port of the container", where, pr.name, h.HTTPGet.Port.String()))
					}
					if own && h.HTTPGet.Path != pr.path {
						p = append(p, fmt.Sprintf("%s: %s path is %q, want %q", where, pr.name, h.HTTPGet.Path, pr.path))
					}
				case h.TCPSocket != nil:
					if !containerHasPort(c, h.TCPSocket.Port) {
						p = append(p, fmt.Sprintf("%s: %s port %s is not a port of the container", where, pr.name, h.TCPSocket.Port.String()))
					}
					if own {
						p = append(p, fmt.Sprintf("%s: %s is a TCP check, want HTTP %s", where, pr.name, pr.path))
					}
				case h.Exec != nil, h.GRPC != nil:
					if own {
						p = append(p, fmt.Sprintf("%s: %s is not an HTTP check of %s", where, pr.name, pr.path))
					}
				default:
					p = append(p, fmt.Sprintf("%s: %s has no handler", where, pr.name))
				}
			}
		}
	}
	return p
}

func containerHasPort(c corev1.Container, port intstr.IntOrString) bool {
	for _, cp := range c.Ports {
		if (port.Type == intstr.String && cp.Name == port.StrVal) || (port.Type == intstr.Int && cp.ContainerPort == port.IntVal) {
			return true
		}
	}
	return false
}

func selectorMatches(sel *metav1.LabelSelector, lbls map[string]string) (bool, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false, err
	}
	return s.Matches(labels.Set(lbls)), nil
}

// selectsPods reports whether the selector (empty = nothing, as for Services) matches the pod
// labels of any rendered workload.
func (r *rendered) podsMatching(match func(map[string]string) bool) []podTemplate {
	var out []podTemplate
	for _, pt := range r.podTemplates() {
		if match(pt.Labels) {
			out = append(out, pt)
		}
	}
	return out
}

// checkSelectors: workload selectors match their pod template labels; PodDisruptionBudgets select
// rendered pods; HorizontalPodAutoscalers target rendered workloads; StatefulSets name a rendered
// Service.
func checkSelectors(r *rendered) []string {
	var p []string
	for _, pt := range r.podTemplates() {
		if pt.Selector == nil {
			continue
		}
		if len(pt.Selector.MatchLabels) == 0 && len(pt.Selector.MatchExpressions) == 0 {
			p = append(p, fmt.Sprintf("%s: empty selector", pt))
			continue
		}
		ok, err := selectorMatches(pt.Selector, pt.Labels)
		if err != nil || !ok {
			p = append(p, fmt.Sprintf("%s: spec.selector %v does not match the pod template labels %v (%v)", pt, pt.Selector.MatchLabels, pt.Labels, err))
		}
		// A selector that also matches another workload's pods makes two controllers fight.
		for _, other := range r.podTemplates() {
			if other.Owner.String() == pt.Owner.String() {
				continue
			}
			if ok, _ := selectorMatches(pt.Selector, other.Labels); ok {
				p = append(p, fmt.Sprintf("%s: spec.selector also matches the pods of %s", pt, other))
			}
		}
	}
	for _, o := range r.Objects {
		switch w := o.Typed.(type) {
		case *policyv1.PodDisruptionBudget:
			if w.Spec.Selector == nil || len(r.podsMatching(func(l map[string]string) bool { ok, _ := selectorMatches(w.Spec.Selector, l); return ok })) == 0 {
				p = append(p, fmt.Sprintf("%s: spec.selector matches no rendered pods", o))
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			ref := w.Spec.ScaleTargetRef
			if _, ok := r.findIn(o.Namespace(), ref.Kind, ref.Name); !ok {
				p = append(p, fmt.Sprintf("%s: scaleTargetRef %s %s is not rendered", o, ref.Kind, ref.Name))
			}
		case *appsv1.StatefulSet:
			if w.Spec.ServiceName != "" {
				if _, ok := r.findIn(o.Namespace(), "Service", w.Spec.ServiceName); !ok {
					p = append(p, fmt.Sprintf("%s: spec.serviceName %s is not a rendered Service", o, w.Spec.ServiceName))
				}
			}
		}
	}
	return p
}

// checkServices: every Service selects rendered pods and its target ports exist on them; in
// sidecar mode authproxy's Service (in the sidecar namespace) selects the ingress controller's
// pods, which the chart does not render, by exactly authproxy.sidecar.podLabels.
func checkServices(r *rendered) []string {
	var p []string
	for _, o := range r.byKind("Service") {
		svc := o.Typed.(*corev1.Service)
		if r.sidecar() && o.U.GetLabels()["app.kubernetes.io/component"] == "authproxy" {
			p = append(p, checkSidecarService(r, o, svc)...)
			continue
		}
		if len(svc.Spec.Selector) == 0 {
			p = append(p, fmt.Sprintf("%s: no selector", o))
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		pods := r.podsMatching(func(l map[string]string) bool { return sel.Matches(labels.Set(l)) })
		if len(pods) == 0 {
			p = append(p, fmt.Sprintf("%s: selector %v matches no rendered pods", o, svc.Spec.Selector))
			continue
		}
		for _, sp := range svc.Spec.Ports {
			target := sp.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(sp.Port)
			}
			for _, pt := range pods {
				found := false
				for _, c := range pt.Spec.Containers {
					found = found || containerHasPort(c, target)
				}
				if !found {
					p = append(p, fmt.Sprintf("%s: port %s targets %s, which the pods of %s do not expose", o, sp.Name, target.String(), pt))
				}
			}
		}
	}
	return p
}

// checkSidecarService: the Service of the authproxy sidecar selects the pods with
// authproxy.sidecar.podLabels (no more, no less) and targets the port authproxy listens on by
// number (the container's port names belong to the ingress controller's chart).
func checkSidecarService(r *rendered, o object, svc *corev1.Service) []string {
	var p []string
	if o.Namespace() != r.sidecarNamespace() {
		p = append(p, fmt.Sprintf("%s: authproxy's Service in sidecar mode belongs in the sidecar namespace %q", o, r.sidecarNamespace()))
	}
	if want := r.sidecarPodLabels(); !maps.Equal(svc.Spec.Selector, want) {
		p = append(p, fmt.Sprintf("%s: selector %v, want authproxy.sidecar.podLabels %v (the ingress controller's pods that carry the sidecar)", o, svc.Spec.Selector, want))
	}
	listen := r.sidecarEnv()["AUTHPROXY_LISTEN"]
	for _, sp := range svc.Spec.Ports {
		target := sp.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(sp.Port)
		}
		if target.Type != intstr.Int || fmt.Sprintf(":%d", target.IntVal) != listen {
			p = append(p, fmt.Sprintf("%s: port %s targets %s, want the port of AUTHPROXY_LISTEN %q by number", o, sp.Name, target.String(), listen))
		}
	}
	return p
}

// fullname is the prefix of the chart's object names (gatewarden.fullname), taken from
// authproxy's Service.
func (r *rendered) fullname() string {
	return strings.TrimSuffix(r.objectNameOf("Service", "authproxy"), "-authproxy")
}

// sidecarEnvName is the name of the ConfigMap the sidecar takes its environment from.
func (r *rendered) sidecarEnvName() string { return r.fullname() + "-authproxy-env" }

// sidecarEnv returns the data of the sidecar's environment ConfigMap (nil when not rendered).
func (r *rendered) sidecarEnv() map[string]string {
	o, ok := r.findIn(r.sidecarNamespace(), "ConfigMap", r.sidecarEnvName())
	if !ok {
		return nil
	}
	return o.Typed.(*corev1.ConfigMap).Data
}

// checkNetworkPolicies: with networkPolicy.enabled every pod is selected by a policy that
// restricts both ingress and egress, and with defaultDeny a namespace-wide deny-all exists.
func checkNetworkPolicies(r *rendered) []string {
	var p []string
	var nps []*networkingv1.NetworkPolicy
	for _, o := range r.byKind("NetworkPolicy") {
		nps = append(nps, o.Typed.(*networkingv1.NetworkPolicy))
	}
	if !r.boolValue("networkPolicy.enabled") {
		if len(nps) > 0 {
			p = append(p, "networkPolicy.enabled is false but NetworkPolicies are rendered")
		}
		return p
	}
	for _, pt := range r.podTemplates() {
		var in, eg bool
		for _, np := range nps {
			if ok, _ := selectorMatches(&np.Spec.PodSelector, pt.Labels); !ok {
				continue
			}
			in = in || slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
			eg = eg || slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
		if !in {
			p = append(p, fmt.Sprintf("%s: no NetworkPolicy with policyType Ingress selects its pods %v", pt, pt.Labels))
		}
		if !eg {
			p = append(p, fmt.Sprintf("%s: no NetworkPolicy with policyType Egress selects its pods %v", pt, pt.Labels))
		}
	}
	if r.boolValue("networkPolicy.defaultDeny") {
		found := false
		for _, np := range nps {
			s := np.Spec
			if len(s.PodSelector.MatchLabels) == 0 && len(s.PodSelector.MatchExpressions) == 0 &&
				slices.Contains(s.PolicyTypes, networkingv1.PolicyTypeIngress) && slices.Contains(s.PolicyTypes, networkingv1.PolicyTypeEgress) &&
				len(s.Ingress) == 0 && len(s.Egress) == 0 {
				found = true
			}
		}
		if !found {
			p = append(p, "networkPolicy.defaultDeny is true but no NetworkPolicy denies all ingress and egress for every pod (podSelector {}, policyTypes Ingress+Egress, no rules)")
		}
	}
	return p
}

// objectKeys returns the data keys of a Secret or ConfigMap.
func objectKeys(o object) []string {
	var keys []string
	switch d := o.Typed.(type) {
	case *corev1.Secret:
		keys = slices.AppendSeq(slices.Collect(maps.Keys(d.Data)), maps.Keys(d.StringData))
	case *corev1.ConfigMap:
		keys = slices.AppendSeq(slices.Collect(maps.Keys(d.Data)), maps.Keys(d.BinaryData))
	}
	return keys
}

// existingSecrets are the Secret names the values say exist outside the chart.
func (r *rendered) existingSecrets() map[string]bool {
	out := map[string]bool{}
	for _, k := range []string{
		"fusionAuth.clientSecret.existingSecret",
		"authproxy.signing.existingSecret",
		"authproxy.cookieSecret.existingSecret",
		"authproxy.webhook.hmacKey.existingSecret",
		"redis.auth.existingSecret",
		"externalRedis.existingSecret",
		"externalRedis.sentinel.existingSecret",
		"postgresql.auth.existingSecret",
		"externalDatabase.catalog.existingSecret",
		"externalDatabase.inventory.existingSecret",
	} {
		if s := r.stringValue(k); s != "" {
			out[s] = true
		}
	}
	if ips, ok := r.value("imagePullSecrets").([]any); ok {
		for _, ip := range ips {
			if m, ok := ip.(map[string]any); ok {
				if n, ok := m["name"].(string); ok {
					out[n] = true
				}
			}
		}
	}
	return out
}

// checkReferences: every Secret, ConfigMap and ServiceAccount a pod uses is rendered (with the
// keys it reads) or is an existingSecret from the values; every volume mount has a volume.
func checkReferences(r *rendered) []string { return checkPodReferences(r, r.podTemplates()) }

// checkPodReferences is checkReferences for the given pods (which may be pods the chart does not
// render, such as the ingress controller's with the sidecar), each in its owner's namespace.
func checkPodReferences(r *rendered, pods []podTemplate) []string {
	var p []string
	existing := r.existingSecrets()
	ref := func(where, ns, kind, name string, keys []string, optional *bool) {
		if ptrTrue(optional) {
			return
		}
		o, ok := r.findIn(ns, kind, name)
		if !ok {
			if kind == "Secret" && existing[name] {
				return
			}
			p = append(p, fmt.Sprintf("%s: references %s %q, which is neither rendered nor a configured existingSecret", where, kind, name))
			return
		}
		have := objectKeys(o)
		for _, k := range keys {
			if !slices.Contains(have, k) {
				p = append(p, fmt.Sprintf("%s: reads key %q of %s %s, which has no such key", where, k, kind, name))
			}
		}
	}
	itemKeys := func(items []corev1.KeyToPath) []string {
		var ks []string
		for _, it := range items {
			ks = append(ks, it.Key)
		}
		return ks
	}
	for _, pt := range pods {
		s := pt.Spec
		ref := func(where, kind, name string, keys []string, optional *bool) {
			ref(where, pt.Owner.Namespace(), kind, name, keys, optional)
		}
		if sa := s.ServiceAccountName; sa != "" && sa != "default" {
			if _, ok := r.findIn(pt.Owner.Namespace(), "ServiceAccount", sa); !ok {
				p = append(p, fmt.Sprintf("%s: serviceAccountName %s is not rendered", pt, sa))
			}
		}
		for _, ips := range s.ImagePullSecrets {
			ref(pt.String(), "Secret", ips.Name, nil, nil)
		}
		volumes := map[string]bool{}
		for _, v := range s.Volumes {
			volumes[v.Name] = true
			where := fmt.Sprintf("%s volume %s", pt, v.Name)
			switch {
			case v.Secret != nil:
				ref(where, "Secret", v.Secret.SecretName, itemKeys(v.Secret.Items), v.Secret.Optional)
			case v.ConfigMap != nil:
				ref(where, "ConfigMap", v.ConfigMap.Name, itemKeys(v.ConfigMap.Items), v.ConfigMap.Optional)
			case v.Projected != nil:
				for _, src := range v.Projected.Sources {
					if src.Secret != nil {
						ref(where, "Secret", src.Secret.Name, itemKeys(src.Secret.Items), src.Secret.Optional)
					}
					if src.ConfigMap != nil {
						ref(where, "ConfigMap", src.ConfigMap.Name, itemKeys(src.ConfigMap.Items), src.ConfigMap.Optional)
					}
				}
			case v.PersistentVolumeClaim != nil:
				p = append(p, fmt.Sprintf("%s: mounts PersistentVolumeClaim %s, which the chart does not render", where, v.PersistentVolumeClaim.ClaimName))
			}
		}
		for _, c := range pt.Claims {
			volumes[c.Name] = true
		}
		for _, c := range append(slices.Clone(s.InitContainers), s.Containers...) {
			where := fmt.Sprintf("%s container %s", pt, c.Name)
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if k := e.ValueFrom.SecretKeyRef; k != nil {
					ref(where+" env "+e.Name, "Secret", k.Name, []string{k.Key}, k.Optional)
				}
				if k := e.ValueFrom.ConfigMapKeyRef; k != nil {
					ref(where+" env "+e.Name, "ConfigMap", k.Name, []string{k.Key}, k.Optional)
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.SecretRef != nil {
					ref(where+" envFrom", "Secret", ef.SecretRef.Name, nil, ef.SecretRef.Optional)
				}
				if ef.ConfigMapRef != nil {
					ref(where+" envFrom", "ConfigMap", ef.ConfigMapRef.Name, nil, ef.ConfigMapRef.Optional)
				}
			}
			for _, m := range c.VolumeMounts {
				if !volumes[m.Name] {
					p = append(p, fmt.Sprintf("%s: volumeMount %s has no volume or volumeClaimTemplate", where, m.Name))
				}
			}
		}
	}
	return p
}

var sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkChecksums: every Deployment and StatefulSet pod template carries a checksum/config
// annotation, so a config change rolls the pods.
func checkChecksums(r *rendered) []string {
	var p []string
	for _, pt := range r.podTemplates() {
		if k := pt.Owner.GVK.Kind; k != "Deployment" && k != "StatefulSet" {
			continue
		}
		if v := pt.Annots["checksum/config"]; !sha256Re.MatchString(v) {
			p = append(p, fmt.Sprintf("%s: pod template annotation checksum/config is %q, want a sha256", pt, v))
		}
	}
	return p
}

// checkNames: names are DNS names of at most 63 characters (Service names DNS-1035 labels), every
// object is in the release namespace (in sidecar mode authproxy's own objects are in the sidecar
// namespace), no kind, namespace and name is rendered twice, labels are valid.
func checkNames(r *rendered) []string {
	var p []string
	seen := map[string]bool{}
	for _, o := range r.Objects {
		n := o.U.GetName()
		if len(n) > 63 {
			p = append(p, fmt.Sprintf("%s: name is %d characters (max 63)", o, len(n)))
		}
		errs := validation.IsDNS1123Subdomain(n)
		if o.GVK.Kind == "Service" {
			errs = validation.IsDNS1035Label(n)
		}
		for _, e := range errs {
			p = append(p, fmt.Sprintf("%s: name: %s", o, e))
		}
		switch ns := o.Namespace(); {
		case ns == r.Scenario.namespace():
		case r.sidecar() && ns == r.sidecarNamespace():
			if !isSidecarObject(o) {
				p = append(p, fmt.Sprintf("%s: in the sidecar namespace %q, where only authproxy's ConfigMaps, Secrets (and the Redis password copy), Service and IngressRoute belong", o, ns))
			}
		default:
			p = append(p, fmt.Sprintf("%s: namespace is %q, want the release namespace %q", o, ns, r.Scenario.namespace()))
		}
		key := o.GVK.Kind + "/" + o.Namespace() + "/" + n
		if seen[key] {
			p = append(p, fmt.Sprintf("%s: rendered twice", o))
		}
		seen[key] = true
		for k, v := range o.U.GetLabels() {
			for _, e := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
				p = append(p, fmt.Sprintf("%s: label %s=%s: %s", o, k, v, e))
			}
		}
	}
	for _, pt := range r.podTemplates() {
		for k, v := range pt.Labels {
			for _, e := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
				p = append(p, fmt.Sprintf("%s: pod label %s=%s: %s", pt, k, v, e))
			}
		}
	}
	return p
}

// isSidecarObject reports the objects that may live in the sidecar namespace: authproxy's
// ConfigMaps, Secrets, Service and IngressRoute, and the copy of the Redis password Secret.
func isSidecarObject(o object) bool {
	switch c := o.U.GetLabels()["app.kubernetes.io/component"]; o.GVK.Kind {
	case "ConfigMap", "Service", "IngressRoute":
		return c == "authproxy"
	case "Secret":
		return c == "authproxy" || c == "redis"
	}
	return false
}

// authproxyEnv returns authproxy's environment (the Deployment's env values, or the sidecar's
// ConfigMap) and the namespace its pods run in.
func (r *rendered) authproxyEnv() (map[string]string, string) {
	if r.sidecar() {
		return r.sidecarEnv(), r.sidecarNamespace()
	}
	o, ok := r.find("Deployment", r.fullname()+"-authproxy")
	if !ok {
		return nil, ""
	}
	env := map[string]string{}
	for _, c := range o.Typed.(*appsv1.Deployment).Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
	}
	return env, o.Namespace()
}

// checkRedisAddrs: every address in AUTHPROXY_REDIS_ADDRS that names one of the chart's Services
// resolves, from the namespace authproxy runs in, to that Service (a bare name is looked up in
// the pod's own namespace, name.ns and name.ns.svc[.clusterDomain] in ns).
func checkRedisAddrs(r *rendered) []string {
	var p []string
	env, podNS := r.authproxyEnv()
	if env == nil || env["AUTHPROXY_REDIS_ADDRS"] == "" {
		return nil
	}
	ours := map[string]bool{}
	for _, o := range r.byKind("Service") {
		ours[o.Name()] = true
	}
	for _, addr := range strings.Split(env["AUTHPROXY_REDIS_ADDRS"], ",") {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			p = append(p, fmt.Sprintf("AUTHPROXY_REDIS_ADDRS: %q: %v", addr, err))
			continue
		}
		labels := strings.Split(host, ".")
		if !ours[labels[0]] {
			continue // a Redis outside the chart
		}
		ns := podNS
		switch rest := strings.Join(labels[1:], "."); {
		case len(labels) == 1:
		case len(labels) == 2, rest == labels[1]+".svc", rest == labels[1]+".svc."+r.stringValue("clusterDomain"):
			ns = labels[1]
		default:
			p = append(p, fmt.Sprintf("AUTHPROXY_REDIS_ADDRS: %s is not a Service DNS name of cluster domain %s", host, r.stringValue("clusterDomain")))
			continue
		}
		if _, ok := r.findIn(ns, "Service", labels[0]); !ok {
			p = append(p, fmt.Sprintf("AUTHPROXY_REDIS_ADDRS: %s resolves, from authproxy's namespace %q, to Service %s/%s, which is not rendered", host, podNS, ns, labels[0]))
		}
	}
	return p
}

// checkSidecar: in sidecar mode the chart renders no authproxy workload (nor its ServiceAccount,
// autoscaler, disruption budget or NetworkPolicy: the ingress controller's chart owns the pods);
// the sidecar namespace holds the environment ConfigMap, whose signing key files are keys of the
// signing Secret mounted whole, and an identical copy of every Redis password Secret of the
// release namespace. Outside sidecar mode there is no environment ConfigMap.
func checkSidecar(r *rendered) []string {
	var p []string
	if !r.sidecar() {
		if _, ok := r.findIn(r.Scenario.namespace(), "ConfigMap", r.sidecarEnvName()); ok {
			p = append(p, fmt.Sprintf("authproxy.mode is %q but the sidecar's environment ConfigMap %s is rendered", r.stringValue("authproxy.mode"), r.sidecarEnvName()))
		}
		return p
	}
	for _, o := range r.Objects {
		switch o.GVK.Kind {
		case "Deployment", "StatefulSet", "DaemonSet", "ServiceAccount", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy":
			if o.U.GetLabels()["app.kubernetes.io/component"] == "authproxy" {
				p = append(p, fmt.Sprintf("%s: rendered in sidecar mode (authproxy runs in the ingress controller's pods)", o))
			}
		}
	}
	env := r.sidecarEnv()
	if env == nil {
		p = append(p, fmt.Sprintf("sidecar mode renders no ConfigMap %s/%s (the sidecar's envFrom)", r.sidecarNamespace(), r.sidecarEnvName()))
	}
	if files := env["AUTHPROXY_SIGNING_KEY_FILES"]; files != "" && r.stringValue("authproxy.signing.existingSecret") == "" {
		var keys map[string][]byte
		if o, ok := r.findIn(r.sidecarNamespace(), "Secret", r.fullname()+"-signing"); ok {
			keys = o.Typed.(*corev1.Secret).Data
		}
		for _, f := range strings.Split(files, ",") {
			if _, ok := keys[path.Base(f)]; !ok {
				p = append(p, fmt.Sprintf("ConfigMap %s: AUTHPROXY_SIGNING_KEY_FILES names %s, which is no key of the signing Secret in %s", r.sidecarEnvName(), f, r.sidecarNamespace()))
			}
		}
	}
	for _, o := range r.byKind("Secret") {
		if o.U.GetLabels()["app.kubernetes.io/component"] != "redis" {
			continue
		}
		other := r.Scenario.namespace()
		if o.Namespace() == other {
			other = r.sidecarNamespace()
		}
		c, ok := r.findIn(other, "Secret", o.Name())
		switch {
		case !ok && o.Namespace() == r.Scenario.namespace():
			p = append(p, fmt.Sprintf("%s: no copy in the sidecar namespace %q, where authproxy reads the Redis password", o, other))
		case !ok:
			p = append(p, fmt.Sprintf("%s: a copy of no Redis password Secret of the release namespace", o))
		case !reflect.DeepEqual(c.Typed.(*corev1.Secret).Data, o.Typed.(*corev1.Secret).Data):
			p = append(p, fmt.Sprintf("%s: differs from its copy %s (authproxy and Redis would disagree on the password)", o, c))
		}
	}
	return p
}

// serviceHasPort reports whether a rendered Service has the port (by name or number).
func (r *rendered) serviceHasPort(ns, name string, port intstr.IntOrString) bool {
	o, ok := r.findIn(ns, "Service", name)
	if !ok {
		return false
	}
	for _, sp := range o.Typed.(*corev1.Service).Spec.Ports {
		if (port.Type == intstr.String && sp.Name == port.StrVal) || (port.Type == intstr.Int && sp.Port == port.IntVal) {
			return true
		}
	}
	return false
}

// componentOfService returns the app.kubernetes.io/component the named rendered Service selects.
func (r *rendered) componentOfService(ns, name string) string {
	o, ok := r.findIn(ns, "Service", name)
	if !ok {
		return ""
	}
	return o.Typed.(*corev1.Service).Spec.Selector["app.kubernetes.io/component"]
}

// checkIngressWiring: exactly the routing objects of ingress.mode are rendered, every backend is a
// rendered Service port, and every route to catalog or inventory passes through authproxy.
func checkIngressWiring(r *rendered) []string {
	var p []string
	mode := r.stringValue("ingress.mode")
	want := map[string][]string{
		"traefik":      {"IngressRoute", "Middleware"},
		"gatewayAPI":   {"HTTPRoute", "SecurityPolicy"},
		"ingressNginx": {"Ingress"},
		"none":         nil,
	}[mode]
	for _, k := range []string{"IngressRoute", "Middleware", "HTTPRoute", "SecurityPolicy", "Ingress"} {
		n := len(r.byKind(k))
		if slices.Contains(want, k) && n == 0 {
			p = append(p, fmt.Sprintf("ingress.mode=%s renders no %s", mode, k))
		}
		if !slices.Contains(want, k) && n > 0 {
			p = append(p, fmt.Sprintf("ingress.mode=%s renders %d %s objects of another mode", mode, n, k))
		}
	}
	protected := func(component string) bool { return component == "catalog" || component == "inventory" }
	// backend checks a Service port a route sends to, in the route's namespace (or the one the
	// reference names), and returns the component the Service selects.
	backend := func(where, ns, svc string, port intstr.IntOrString) string {
		if !r.serviceHasPort(ns, svc, port) {
			p = append(p, fmt.Sprintf("%s: backend Service %s/%s port %s is not rendered", where, ns, svc, port.String()))
		}
		return r.componentOfService(ns, svc)
	}
	refNS := func(o object, ns any) string {
		if s, _ := ns.(string); s != "" {
			return s
		}
		return o.Namespace()
	}
	switch mode {
	case "ingressNginx":
		for _, o := range r.byKind("Ingress") {
			ing := o.Typed.(*networkingv1.Ingress)
			auth := ing.Annotations["nginx.ingress.kubernetes.io/auth-url"] != ""
			if auth && ing.Annotations["nginx.ingress.kubernetes.io/auth-keepalive"] == "" {
				p = append(p, fmt.Sprintf("%s: auth-url without auth-keepalive (a new connection to authproxy per auth subrequest)", o))
			}
			for _, rule := range ing.Spec.Rules {
				if rule.HTTP == nil {
					continue
				}
				for _, path := range rule.HTTP.Paths {
					s := path.Backend.Service
					if s == nil {
						p = append(p, fmt.Sprintf("%s: path %s has no Service backend", o, path.Path))
						continue
					}
					port := intstr.FromString(s.Port.Name)
					if s.Port.Name == "" {
						port = intstr.FromInt32(s.Port.Number)
					}
					c := backend(fmt.Sprintf("%s path %s", o, path.Path), o.Namespace(), s.Name, port)
					if protected(c) && !auth {
						p = append(p, fmt.Sprintf("%s: path %s reaches %s without the auth-url annotation (bypasses authproxy)", o, path.Path, c))
					}
					// ingress-nginx sets each auth-response header with proxy_set_header from
					// authproxy's answer (empty drops it), so a listed header can never be the
					// client's own; an unlisted identity header would pass through as sent.
					if protected(c) && auth {
						listed := map[string]bool{}
						for _, h := range strings.Split(ing.Annotations["nginx.ingress.kubernetes.io/auth-response-headers"], ",") {
							listed[strings.ToLower(strings.TrimSpace(h))] = true
						}
						for _, h := range append([]string{"authorization"}, identityHeaders()...) {
							if !listed[h] {
								p = append(p, fmt.Sprintf("%s: path %s to %s does not take %s from authproxy's answer (client-sent copies would pass)", o, path.Path, c, h))
							}
						}
					}
				}
			}
		}
	case "gatewayAPI":
		extAuth := map[string]bool{}
		for _, o := range r.byKind("SecurityPolicy") {
			spec, _, _ := unstructured.NestedMap(o.U.Object, "spec")
			if _, ok := spec["extAuth"]; !ok {
				p = append(p, fmt.Sprintf("%s: no spec.extAuth", o))
				continue
			}
			if fo, ok, _ := unstructured.NestedBool(spec, "extAuth", "failOpen"); ok && fo {
				p = append(p, fmt.Sprintf("%s: spec.extAuth.failOpen is true (authproxy down would mean open access)", o))
			}
			refs, _, _ := unstructured.NestedSlice(spec, "extAuth", "http", "backendRefs")
			if len(refs) == 0 {
				p = append(p, fmt.Sprintf("%s: spec.extAuth.http.backendRefs is empty", o))
			}
			for _, ref := range refs {
				m, _ := ref.(map[string]any)
				name, _ := m["name"].(string)
				port, _ := m["port"].(int64)
				if c := backend(o.String(), refNS(o, m["namespace"]), name, intstr.FromInt32(int32(port))); c != "authproxy" {
					p = append(p, fmt.Sprintf("%s: extAuth backend %s is not authproxy", o, name))
				}
			}
			targets, _, _ := unstructured.NestedSlice(spec, "targetRefs")
			for _, tr := range targets {
				m, _ := tr.(map[string]any)
				name, _ := m["name"].(string)
				if m["kind"] != "HTTPRoute" {
					p = append(p, fmt.Sprintf("%s: targetRef kind %v, want HTTPRoute", o, m["kind"]))
					continue
				}
				if _, ok := r.findIn(o.Namespace(), "HTTPRoute", name); !ok {
					p = append(p, fmt.Sprintf("%s: targetRef HTTPRoute %s is not rendered", o, name))
				}
				extAuth[name] = true
			}
		}
		for _, o := range r.byKind("HTTPRoute") {
			hr := o.Typed.(*gatewayv1.HTTPRoute)
			for _, rule := range hr.Spec.Rules {
				strips := map[string]bool{}
				for _, f := range rule.Filters {
					if f.Type == gatewayv1.HTTPRouteFilterRequestHeaderModifier && f.RequestHeaderModifier != nil {
						for _, h := range f.RequestHeaderModifier.Remove {
							strips[strings.ToLower(h)] = true
						}
					}
				}
				for _, br := range rule.BackendRefs {
					brNS := o.Namespace()
					if br.Namespace != nil {
						brNS = string(*br.Namespace)
					}
					if c := r.componentOfService(brNS, string(br.Name)); protected(c) && !r.boolValue("authproxy.passUserHeaders") {
						for _, h := range identityHeaders() {
							if !strips[h] {
								p = append(p, fmt.Sprintf("%s: the rule to %s does not remove client-sent %s (passUserHeaders is false)", o, c, h))
							}
						}
					}
					if br.Kind != nil && *br.Kind != "Service" {
						p = append(p, fmt.Sprintf("%s: backendRef kind %s, want Service", o, *br.Kind))
						continue
					}
					var port intstr.IntOrString
					if br.Port != nil {
						port = intstr.FromInt32(int32(*br.Port))
					}
					if c := backend(o.String(), brNS, string(br.Name), port); protected(c) && !extAuth[hr.Name] {
						p = append(p, fmt.Sprintf("%s: routes to %s but no SecurityPolicy with extAuth targets it (bypasses authproxy)", o, c))
					}
				}
			}
		}
	case "traefik":
		// Middlewares by namespace/name.
		forwardAuth := map[string]bool{}
		strip := map[string]bool{}
		wantAddr := r.forwardAuthAddress()
		for _, o := range r.byKind("Middleware") {
			key := o.Namespace() + "/" + o.Name()
			hdrs, _, _ := unstructured.NestedStringMap(o.U.Object, "spec", "headers", "customRequestHeaders")
			all := len(hdrs) > 0
			for _, h := range identityHeaders() {
				v, ok := lookupFold(hdrs, h)
				all = all && ok && v == ""
			}
			strip[key] = all
			if addr, ok, _ := unstructured.NestedString(o.U.Object, "spec", "forwardAuth", "address"); ok {
				if addr != wantAddr {
					p = append(p, fmt.Sprintf("%s: forwardAuth address %s, want %s (authproxy.mode %s)", o, addr, wantAddr, r.stringValue("authproxy.mode")))
				}
				if tf, _, _ := unstructured.NestedBool(o.U.Object, "spec", "forwardAuth", "trustForwardHeader"); tf {
					p = append(p, fmt.Sprintf("%s: forwardAuth.trustForwardHeader is true (client-sent X-Forwarded-* would reach authproxy)", o))
				}
				forwardAuth[key] = true
			}
		}
		for _, o := range r.byKind("IngressRoute") {
			routes, _, _ := unstructured.NestedSlice(o.U.Object, "spec", "routes")
			for i, rt := range routes {
				m, _ := rt.(map[string]any)
				authed, stripped, stripAfterAuth := false, false, false
				mws, _, _ := unstructured.NestedSlice(m, "middlewares")
				for _, mw := range mws {
					mm, _ := mw.(map[string]any)
					name, _ := mm["name"].(string)
					ns := refNS(o, mm["namespace"])
					if _, ok := r.findIn(ns, "Middleware", name); !ok {
						p = append(p, fmt.Sprintf("%s: route %d middleware %s/%s is not rendered", o, i, ns, name))
					}
					key := ns + "/" + name
					stripAfterAuth = stripAfterAuth || (strip[key] && authed)
					stripped = stripped || strip[key]
					authed = authed || forwardAuth[key]
				}
				svcs, _, _ := unstructured.NestedSlice(m, "services")
				for _, s := range svcs {
					sm, _ := s.(map[string]any)
					name, _ := sm["name"].(string)
					var port intstr.IntOrString
					switch v := sm["port"].(type) {
					case string:
						port = intstr.FromString(v)
					case int64:
						port = intstr.FromInt32(int32(v))
					}
					c := backend(fmt.Sprintf("%s route %d", o, i), refNS(o, sm["namespace"]), name, port)
					if protected(c) && !authed {
						p = append(p, fmt.Sprintf("%s: route %d (%v) reaches %s without the forwardAuth middleware (bypasses authproxy)", o, i, m["match"], c))
					}
					if protected(c) && (!stripped || stripAfterAuth) {
						p = append(p, fmt.Sprintf("%s: route %d (%v) to %s does not strip client-sent %v before forwardAuth", o, i, m["match"], c, identityHeaders()))
					}
				}
			}
		}
	}
	return p
}

// sidecarForwardAuthAddress is where Traefik asks the authproxy container of its own pod.
const sidecarForwardAuthAddress = "http://127.0.0.1:4180/authz"

// forwardAuthAddress is the address the forwardAuth Middleware must call: the sidecar over
// loopback, or authproxy's Service by its cluster DNS name (the Middleware may be used by routes
// of any namespace) and port.
func (r *rendered) forwardAuthAddress() string {
	if r.sidecar() {
		return sidecarForwardAuthAddress
	}
	name := r.objectNameOf("Service", "authproxy")
	o, ok := r.find("Service", name)
	if !ok || len(o.Typed.(*corev1.Service).Spec.Ports) == 0 {
		return "\x00no authproxy Service in the release namespace"
	}
	port := o.Typed.(*corev1.Service).Spec.Ports[0].Port
	return fmt.Sprintf("http://%s.%s.svc.%s:%d/authz", name, o.Namespace(), r.stringValue("clusterDomain"), port)
}

// identityHeaders are the headers authproxy may add for the services (passUserHeaders); a client
// must never be able to send them itself.
func identityHeaders() []string { return []string{"x-auth-request-user", "x-auth-request-email"} }

func lookupFold(m map[string]string, key string) (string, bool) {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

// objectNameOf returns the name of the rendered object of the kind whose component label is c.
func (r *rendered) objectNameOf(kind, component string) string {
	for _, o := range r.byKind(kind) {
		if o.U.GetLabels()["app.kubernetes.io/component"] == component {
			return o.Name()
		}
	}
	return "\x00no " + kind + " for " + component
}
