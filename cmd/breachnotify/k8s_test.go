package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// k8sBase is the kustomize base; alertRules the rules it turns into a
// PrometheusRule.
const (
	k8sBase    = "../../deploy/k8s/base"
	alertRules = "../../deploy/prometheus/alerts.yml"
)

var updateK8s = flag.Bool("update-k8s", false, "rewrite deploy/k8s/base/prometheusrule.yaml from deploy/prometheus/alerts.yml")

// TestPrometheusRuleFromAlerts: the PrometheusRule carries exactly the
// groups of deploy/prometheus/alerts.yml (promtool tests those), so the two
// cannot drift. go test ./cmd/breachnotify -run TestPrometheusRuleFromAlerts -update-k8s
// regenerates it.
func TestPrometheusRuleFromAlerts(t *testing.T) {
	t.Parallel()
	want, err := prometheusRule()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(k8sBase, "prometheusrule.yaml")
	if *updateK8s {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not generated from %s: run go test ./cmd/breachnotify -run TestPrometheusRuleFromAlerts -update-k8s", path, alertRules)
	}
}

// prometheusRule renders alerts.yml's groups as a PrometheusRule.
func prometheusRule() ([]byte, error) {
	raw, err := os.ReadFile(alertRules)
	if err != nil {
		return nil, err
	}
	var rules yaml.Node
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		return nil, err
	}
	spec := rules.Content[0]
	spec.HeadComment = ""
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		scalar("apiVersion"), scalar("monitoring.coreos.com/v1"),
		scalar("kind"), scalar("PrometheusRule"),
		scalar("metadata"), {Kind: yaml.MappingNode, Content: []*yaml.Node{scalar("name"), scalar("breachnotify")}},
		scalar("spec"), spec,
	}}
	var b bytes.Buffer
	b.WriteString("# Generated from deploy/prometheus/alerts.yml by TestPrometheusRuleFromAlerts\n# (cmd/breachnotify, -update-k8s): edit the rules there, not here.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

// k8sObject is one document of the base, as read and as typed.
type k8sObject struct {
	file, kind, name string
	raw              []byte
}

// TestKustomizeBase checks the base without a cluster. Structurally:
// every file is listed in kustomization.yaml and every listed file exists;
// each Deployment, Job, Service and PodDisruptionBudget decodes strictly
// into its k8s.io/api type (an unknown or misspelled field, or a wrong
// type, fails); the Deployments' selectors match their pod labels, every
// probe and the Service's targetPort name a declared container port,
// readiness is /readyz and liveness /healthz; the Service, the PDBs and
// the PodMonitor select pods that exist; every container runs a command
// this binary has. With kubectl on the machine (it embeds kustomize), the
// base also builds with `kubectl kustomize`.
func TestKustomizeBase(t *testing.T) {
	t.Parallel()
	var kz struct {
		Resources []string `yaml:"resources"`
	}
	readYAML(t, filepath.Join(k8sBase, "kustomization.yaml"), &kz)
	files, _ := filepath.Glob(filepath.Join(k8sBase, "*.yaml"))
	var onDisk []string
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" {
			onDisk = append(onDisk, base)
		}
	}
	if listed := slices.Sorted(slices.Values(kz.Resources)); !slices.Equal(listed, onDisk) {
		t.Errorf("kustomization.yaml lists %v; the folder has %v", listed, onDisk)
	}

	var objs []k8sObject
	for _, f := range kz.Resources {
		objs = append(objs, readObjects(t, filepath.Join(k8sBase, f))...)
	}
	kinds := map[string]int{}
	podLabels := map[string]map[string]string{} // workload name → pod labels
	ports := map[string][]string{}              // workload name → container port names
	root := newRoot(context.Background(), &env{stdout: io.Discard, stderr: io.Discard, globals: &globals{}})
	checkPod := func(o k8sObject, spec corev1.PodSpec) {
		for _, c := range spec.Containers {
			if cmd, rest, err := root.Find(c.Args); err != nil || cmd == root || len(rest) > 0 && !cmd.DisableFlagParsing {
				t.Errorf("%s: container %s runs %q, which is no command of this binary", o.file, c.Name, c.Args)
			}
			for _, p := range c.Ports {
				ports[o.name] = append(ports[o.name], p.Name)
			}
			for what, probe := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
				if o.kind != "Deployment" {
					continue
				}
				wantPath := map[string]string{"readiness": "/readyz", "liveness": "/healthz", "startup": "/healthz"}[what]
				if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != wantPath || !slices.Contains(ports[o.name], probe.HTTPGet.Port.String()) {
					t.Errorf("%s: container %s: %s probe %+v, want GET %s on a declared port", o.file, c.Name, what, probe, wantPath)
				}
			}
			if sc := c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: container %s may escalate privileges", o.file, c.Name)
			}
		}
		if spec.SecurityContext == nil || spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot {
			t.Errorf("%s: pods may run as root", o.file)
		}
	}
	for _, o := range objs {
		kinds[o.kind]++
		switch o.kind {
		case "Deployment":
			var d appsv1.Deployment
			strict(t, o, &d)
			if !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
				t.Errorf("%s: selector %v does not match the pod labels %v", o.file, d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
			}
			podLabels[o.name] = d.Spec.Template.Labels
			checkPod(o, d.Spec.Template.Spec)
		case "Job":
			var j batchv1.Job
			strict(t, o, &j)
			if rp := j.Spec.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever {
				t.Errorf("%s: restartPolicy %q", o.file, rp)
			}
			checkPod(o, j.Spec.Template.Spec)
		case "Service", "PodDisruptionBudget", "PodMonitor", "PrometheusRule":
		default:
			t.Errorf("%s: unexpected kind %s", o.file, o.kind)
		}
	}
	for _, o := range objs {
		switch o.kind {
		case "Service":
			var s corev1.Service
			strict(t, o, &s)
			target := matching(podLabels, s.Spec.Selector)
			if len(target) != 1 {
				t.Errorf("%s: selector %v matches %v, want one workload", o.file, s.Spec.Selector, target)
			}
			for _, p := range s.Spec.Ports {
				if len(target) == 1 && !slices.Contains(ports[target[0]], p.TargetPort.String()) {
					t.Errorf("%s: targetPort %s is no port of %s", o.file, p.TargetPort.String(), target[0])
				}
			}
		case "PodDisruptionBudget":
			var p policyv1.PodDisruptionBudget
			strict(t, o, &p)
			if got := matching(podLabels, p.Spec.Selector.MatchLabels); len(got) != 1 {
				t.Errorf("%s: selector matches %v, want one workload", o.file, got)
			}
		case "PodMonitor":
			checkPodMonitor(t, o, podLabels, ports)
		case "PrometheusRule":
			var rules struct {
				Spec struct {
					Groups []map[string]any `yaml:"groups"`
				} `yaml:"spec"`
			}
			var fromFile struct {
				Groups []map[string]any `yaml:"groups"`
			}
			if err := yaml.Unmarshal(o.raw, &rules); err != nil {
				t.Fatal(err)
			}
			readYAML(t, alertRules, &fromFile)
			if len(fromFile.Groups) == 0 || !reflect.DeepEqual(rules.Spec.Groups, fromFile.Groups) {
				t.Errorf("%s: the groups differ from %s", o.file, alertRules)
			}
		}
	}
	for kind, n := range map[string]int{"Job": 1, "Deployment": 2, "Service": 1, "PodDisruptionBudget": 2, "PodMonitor": 1, "PrometheusRule": 1} {
		if kinds[kind] != n {
			t.Errorf("the base has %d %s, want %d", kinds[kind], kind, n)
		}
	}

	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kubectl (for its kustomize) is missing")
		}
		t.Skip("kubectl not installed: the base was not built with kustomize")
	}
	out, err := exec.Command(kubectl, "kustomize", k8sBase).Output()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		t.Fatalf("kubectl kustomize: %v\n%s", err, exitErr.Stderr)
	} else if err != nil {
		t.Fatal(err)
	}
	// The generated ConfigMap is added, with a content hash in its name
	// that the Deployments' and the Job's references follow.
	built := strings.Count(string(out), "\n---\n") + 1
	if built != len(objs)+1 || !strings.Contains(string(out), "name: breachnotify-") || strings.Contains(string(out), "name: breachnotify\n      optional") {
		t.Errorf("kubectl kustomize built %d objects, want %d:\n%s", built, len(objs)+1, out)
	}
}

func checkPodMonitor(t *testing.T, o k8sObject, podLabels map[string]map[string]string, ports map[string][]string) {
	t.Helper()
	// The PodMonitor fields this base uses, as the Prometheus Operator
	// names them (monitoring.coreos.com/v1); any other field fails.
	var pm struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name   string            `yaml:"name"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec struct {
			Selector struct {
				MatchExpressions []struct {
					Key      string   `yaml:"key"`
					Operator string   `yaml:"operator"`
					Values   []string `yaml:"values"`
				} `yaml:"matchExpressions"`
			} `yaml:"selector"`
			Endpoints []struct {
				Port        string `yaml:"port"`
				Path        string `yaml:"path"`
				Interval    string `yaml:"interval"`
				Relabelings []struct {
					TargetLabel string `yaml:"targetLabel"`
					Replacement string `yaml:"replacement"`
				} `yaml:"relabelings"`
			} `yaml:"podMetricsEndpoints"`
		} `yaml:"spec"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(o.raw))
	dec.KnownFields(true)
	if err := dec.Decode(&pm); err != nil {
		t.Fatalf("%s: %v", o.file, err)
	}
	if pm.APIVersion != "monitoring.coreos.com/v1" {
		t.Errorf("%s: apiVersion %q", o.file, pm.APIVersion)
	}
	var selected []string
	for name, labels := range podLabels {
		ok := true
		for _, e := range pm.Spec.Selector.MatchExpressions {
			ok = ok && e.Operator == "In" && slices.Contains(e.Values, labels[e.Key])
		}
		if ok {
			selected = append(selected, name)
		}
	}
	slices.Sort(selected)
	if !slices.Equal(selected, []string{"breachnotify-api", "breachnotify-worker"}) {
		t.Errorf("%s selects %v, want both Deployments", o.file, selected)
	}
	for _, ep := range pm.Spec.Endpoints {
		for _, w := range selected {
			if !slices.Contains(ports[w], ep.Port) {
				t.Errorf("%s: port %q is no port of %s", o.file, ep.Port, w)
			}
		}
		if ep.Path != "/metrics" {
			t.Errorf("%s: path %q", o.file, ep.Path)
		}
		// The alert rules select job="breachnotify".
		if len(ep.Relabelings) != 1 || ep.Relabelings[0].TargetLabel != "job" || ep.Relabelings[0].Replacement != "breachnotify" {
			t.Errorf("%s: the job label is not set to breachnotify: %+v", o.file, ep.Relabelings)
		}
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// readObjects splits a file into its documents.
func readObjects(t *testing.T, path string) []k8sObject {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var objs []k8sObject
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		doc, err := yaml.Marshal(&n)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		}
		if err := n.Decode(&head); err != nil || head.APIVersion == "" || head.Kind == "" || head.Metadata.Name == "" {
			t.Fatalf("%s: a document without apiVersion, kind or metadata.name (%v)", path, err)
		}
		objs = append(objs, k8sObject{file: filepath.Base(path), kind: head.Kind, name: head.Metadata.Name, raw: doc})
	}
	return objs
}

// strict decodes a document into its API type, refusing unknown fields.
func strict(t *testing.T, o k8sObject, v any) {
	t.Helper()
	if err := sigsyaml.UnmarshalStrict(o.raw, v); err != nil {
		t.Errorf("%s (%s %s): %v", o.file, o.kind, o.name, err)
	}
}

// selects reports whether every selector label is on the pod.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// matching lists the workloads whose pods a selector selects.
func matching(podLabels map[string]map[string]string, selector map[string]string) []string {
	var names []string
	for name, labels := range podLabels {
		if selects(selector, labels) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
