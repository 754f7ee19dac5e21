package config

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// These tests keep docker-compose.yml and the Dockerfile honest: a renamed environment variable, a renamed
// subcommand or a changed build must fail here rather than in someone's `docker compose up`.

const (
	composePath    = "../../docker-compose.yml"
	dockerfilePath = "../../Dockerfile"
	goModPath      = "../../go.mod"
)

// perkflowSubcommands are the long-running or one-shot commands of cmd/perkflow a compose service may run.
// (`apikey` and `version` are run by hand; `dev` is not in the production build.)
var perkflowSubcommands = []string{"migrate", "api", "worker"}

// composeFile is the part of the Compose schema these tests read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string         `yaml:"image"`
	Build       *composeBuild  `yaml:"build"`
	Command     composeCommand `yaml:"command"`
	Environment composeEnv     `yaml:"environment"`
	DependsOn   composeDeps    `yaml:"depends_on"`
	Ports       composePorts   `yaml:"ports"`
}

// composeBuild accepts `build: .` and `build: {context: ., dockerfile: ...}`.
type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

func (b *composeBuild) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain composeBuild
	return n.Decode((*plain)(b))
}

// composeCommand accepts the string and the list forms of `command`.
type composeCommand []string

func (c *composeCommand) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*c = strings.Fields(n.Value)
		return nil
	}
	var args []string
	if err := n.Decode(&args); err != nil {
		return err
	}
	*c = args
	return nil
}

// composeEnv accepts both forms of `environment`: a mapping, or a list of KEY=VALUE.
type composeEnv map[string]string

func (e *composeEnv) UnmarshalYAML(n *yaml.Node) error {
	env := composeEnv{}
	switch n.Kind {
	case yaml.MappingNode:
		var raw map[string]yaml.Node // values may be numbers, booleans or null
		if err := n.Decode(&raw); err != nil {
			return err
		}
		for k, v := range raw {
			for v.Kind == yaml.AliasNode { // KEY: *anchor
				v = *v.Alias
			}
			env[k] = v.Value
		}
	case yaml.SequenceNode:
		var items []string
		if err := n.Decode(&items); err != nil {
			return err
		}
		for _, item := range items {
			k, v, _ := strings.Cut(item, "=")
			env[k] = v
		}
	default:
		return fmt.Errorf("line %d: environment must be a mapping or a list", n.Line)
	}
	*e = env
	return nil
}

// composeDeps maps each dependency to its condition; the short list form means service_started.
type composeDeps map[string]string

func (d *composeDeps) UnmarshalYAML(n *yaml.Node) error {
	deps := composeDeps{}
	switch n.Kind {
	case yaml.SequenceNode:
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		for _, name := range names {
			deps[name] = "service_started"
		}
	case yaml.MappingNode:
		var long map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := n.Decode(&long); err != nil {
			return err
		}
		for name, dep := range long {
			deps[name] = cmp.Or(dep.Condition, "service_started")
		}
	default:
		return fmt.Errorf("line %d: depends_on must be a mapping or a list", n.Line)
	}
	*d = deps
	return nil
}

// composePorts holds published ports as "host:container" (short syntax, or built from the long syntax).
type composePorts []string

func (p *composePorts) UnmarshalYAML(n *yaml.Node) error {
	var items []yaml.Node
	if err := n.Decode(&items); err != nil {
		return err
	}
	for _, item := range items {
		if item.Kind == yaml.ScalarNode {
			*p = append(*p, item.Value)
			continue
		}
		var long struct {
			Target    string `yaml:"target"`
			Published string `yaml:"published"`
		}
		if err := item.Decode(&long); err != nil {
			return err
		}
		*p = append(*p, long.Published+":"+long.Target)
	}
	return nil
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatalf("read compose file: %v", err)
	}
	var f composeFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("parse %s: %v", composePath, err)
	}
	if len(f.Services) == 0 {
		t.Fatalf("%s declares no services", composePath)
	}
	return f
}

// perkflowServices returns the services named perkflow-*, sorted by name.
func (f composeFile) perkflowServices() []string {
	var names []string
	for name := range f.Services {
		if strings.HasPrefix(name, "perkflow-") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func (f composeFile) service(t *testing.T, name string) composeService {
	t.Helper()
	s, ok := f.Services[name]
	if !ok {
		t.Fatalf("%s has no %q service", composePath, name)
	}
	return s
}

// interpolationRe matches Compose's ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}, ${NAME?err}.
var interpolationRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate resolves Compose variables as on a machine where none is set: defaults apply, and required
// variables (`?`) get a placeholder standing for the operator's value. `$$` is a literal `$`.
func interpolate(s string) string {
	const dollar = "\x00"
	s = strings.ReplaceAll(s, "$$", dollar)
	s = interpolationRe.ReplaceAllStringFunc(s, func(m string) string {
		parts := interpolationRe.FindStringSubmatch(m)
		switch strings.TrimPrefix(parts[2], ":") {
		case "-":
			return parts[3]
		case "?":
			return "operator-supplied-" + strings.ToLower(parts[1])
		default:
			return ""
		}
	})
	return strings.ReplaceAll(s, dollar, "$")
}

func declaredVar(name string) (Var, bool) {
	for _, v := range Vars {
		if v.Name == name {
			return v, true
		}
	}
	return Var{}, false
}

func TestComposeFileParses(t *testing.T) {
	f := loadCompose(t)
	for _, name := range []string{
		"postgres", "temporal", "temporal-ui", "perkflow-migrate", "perkflow-api", "perkflow-worker",
	} {
		f.service(t, name)
	}
}

func TestComposeImagesArePinned(t *testing.T) {
	f := loadCompose(t)
	for name, s := range f.Services {
		if s.Build != nil {
			continue // built from this repository
		}
		if s.Image == "" {
			t.Errorf("service %s has neither image nor build", name)
			continue
		}
		if strings.Contains(s.Image, "$") {
			t.Errorf("service %s: image %q comes from a variable; pin it in the file", name, s.Image)
			continue
		}
		if strings.Contains(s.Image, "@sha256:") {
			continue
		}
		// The tag follows the last ':' after the last '/' (a registry host may carry a port).
		repo := s.Image[strings.LastIndex(s.Image, "/")+1:]
		_, tag, ok := strings.Cut(repo, ":")
		if !ok || tag == "" || tag == "latest" {
			t.Errorf("service %s: image %q is not pinned to a concrete tag", name, s.Image)
		}
	}
}

func TestComposePerkflowServicesBuildThisRepository(t *testing.T) {
	f := loadCompose(t)
	for _, name := range f.perkflowServices() {
		s := f.Services[name]
		if s.Build == nil {
			t.Errorf("service %s: want `build` from this repository, got image %q only", name, s.Image)
			continue
		}
		if ctx := strings.TrimSuffix(cmp.Or(s.Build.Context, "."), "/"); ctx != "." {
			t.Errorf("service %s: build context %q, want the repository root (.)", name, s.Build.Context)
		}
		if df := cmp.Or(s.Build.Dockerfile, "Dockerfile"); df != "Dockerfile" {
			t.Errorf("service %s: dockerfile %q, want Dockerfile (checked by TestDockerfileBuildsProductionBinary)", name, df)
		}
	}
}

func TestComposePerkflowEnvironmentIsDeclared(t *testing.T) {
	f := loadCompose(t)
	names := f.perkflowServices()
	if len(names) == 0 {
		t.Fatal("no perkflow-* services")
	}
	for _, name := range names {
		s := f.Services[name]
		for key, value := range s.Environment {
			v, ok := declaredVar(key)
			if !ok {
				t.Errorf("service %s sets %s, which perkflow does not read (not in config.Vars)", name, key)
				continue
			}
			// Secrets come from the operator's environment (or a dev default), never a literal in the file.
			if v.Secret && !interpolationRe.MatchString(value) {
				t.Errorf("service %s: %s is a secret; take it from a ${...} variable, not a literal", name, key)
			}
		}
		want := []string{"DATABASE_URL", "TEMPORAL_ADDRESS"}
		if slices.Equal(s.Command, composeCommand{"migrate"}) {
			want = []string{"DATABASE_URL"} // migrations touch only Postgres
		}
		for _, key := range want {
			if _, ok := s.Environment[key]; !ok {
				t.Errorf("service %s does not set %s (the default points at 127.0.0.1, i.e. the container itself)", name, key)
			}
		}
	}
}

// TestComposePerkflowEnvironmentIsValid runs each service's environment through FromEnv, so values the code
// rejects (a bad PERKFLOW_LOG_FORMAT or PERKFLOW_WAIT_BUDGET, say) fail here.
func TestComposePerkflowEnvironmentIsValid(t *testing.T) {
	f := loadCompose(t)
	for _, name := range f.perkflowServices() {
		t.Run(name, func(t *testing.T) {
			env := f.Services[name].Environment
			for _, v := range Vars {
				val, ok := env[v.Name]
				if !ok {
					val = v.Default // keep the developer's own environment out of the test
				}
				t.Setenv(v.Name, interpolate(val))
			}
			if _, err := FromEnv(); err != nil {
				t.Errorf("FromEnv with the environment of %s: %v", name, err)
			}
		})
	}
}

func TestComposePerkflowCommandsAreSubcommands(t *testing.T) {
	f := loadCompose(t)
	run := map[string]bool{}
	for _, name := range f.perkflowServices() {
		s := f.Services[name]
		if len(s.Command) == 0 {
			t.Errorf("service %s has no command; the image's entrypoint needs a subcommand", name)
			continue
		}
		if !slices.Contains(perkflowSubcommands, s.Command[0]) {
			t.Errorf("service %s runs %q, not one of perkflow's subcommands %v", name, s.Command, perkflowSubcommands)
			continue
		}
		run[s.Command[0]] = true
		// The API and the worker need the schema the migrate job applies.
		if s.Command[0] != "migrate" {
			if !slices.ContainsFunc(f.perkflowServices(), func(dep string) bool {
				return slices.Equal(f.Services[dep].Command, composeCommand{"migrate"}) &&
					s.DependsOn[dep] == "service_completed_successfully"
			}) {
				t.Errorf("service %s should depend on the migrate service with condition service_completed_successfully", name)
			}
		}
	}
	for _, sub := range perkflowSubcommands {
		if !run[sub] {
			t.Errorf("no perkflow-* service runs `perkflow %s`", sub)
		}
	}
}

// TestComposePerkflowReachesItsDependencies checks the addresses in perkflow's environment against the
// services that should answer them.
func TestComposePerkflowReachesItsDependencies(t *testing.T) {
	f := loadCompose(t)
	pg := f.service(t, "postgres").Environment
	for _, name := range f.perkflowServices() {
		env := f.Services[name].Environment
		if raw, ok := env["DATABASE_URL"]; ok {
			u, err := url.Parse(interpolate(raw))
			if err != nil {
				t.Errorf("service %s: DATABASE_URL: %v", name, err)
				continue
			}
			pass, _ := u.User.Password()
			if u.Hostname() != "postgres" || u.Port() != "5432" {
				t.Errorf("service %s: DATABASE_URL points at %s, want the postgres service on 5432", name, u.Host)
			}
			if db := strings.TrimPrefix(u.Path, "/"); db != pg["POSTGRES_DB"] {
				t.Errorf("service %s: DATABASE_URL names database %q, postgres creates %q", name, db, pg["POSTGRES_DB"])
			}
			if u.User.Username() != pg["POSTGRES_USER"] || pass != interpolate(pg["POSTGRES_PASSWORD"]) {
				t.Errorf("service %s: DATABASE_URL credentials differ from the postgres service's", name)
			}
		}
		if addr, ok := env["TEMPORAL_ADDRESS"]; ok {
			checkTemporalAddress(t, f, "service "+name, addr)
			// perkflow must run in the namespace the compose file registers.
			def, _ := declaredVar("TEMPORAL_NAMESPACE")
			ns := cmp.Or(env["TEMPORAL_NAMESPACE"], def.Default)
			if created := f.service(t, "temporal-namespace").Environment["NAMESPACE"]; ns != created {
				t.Errorf("service %s uses Temporal namespace %q, temporal-namespace registers %q", name, ns, created)
			}
		}
		if addr, ok := env["PERKFLOW_HTTP_ADDR"]; ok {
			host, port, err := net.SplitHostPort(interpolate(addr))
			if err != nil {
				t.Errorf("service %s: PERKFLOW_HTTP_ADDR %q: %v", name, addr, err)
				continue
			}
			if host != "" && host != "0.0.0.0" && host != "::" {
				t.Errorf("service %s: PERKFLOW_HTTP_ADDR listens on %s only; a container must listen on all interfaces", name, host)
			}
			if !slices.ContainsFunc(f.Services[name].Ports, func(p string) bool { return strings.HasSuffix(p, ":"+port) }) {
				t.Errorf("service %s listens on port %s but publishes %v", name, port, f.Services[name].Ports)
			}
		}
	}
}

// checkTemporalAddress asserts that addr is host:port of the Temporal frontend in this compose file.
func checkTemporalAddress(t *testing.T, f composeFile, who, addr string) {
	t.Helper()
	host, port, err := net.SplitHostPort(interpolate(addr))
	if err != nil {
		t.Errorf("%s: TEMPORAL_ADDRESS %q: %v", who, addr, err)
		return
	}
	s, ok := f.Services[host]
	if !ok || !strings.HasPrefix(s.Image, "temporalio/server:") {
		t.Errorf("%s: TEMPORAL_ADDRESS %q does not name the temporalio/server service", who, addr)
		return
	}
	// 7233 is the frontend's gRPC port unless FRONTEND_GRPC_PORT moves it.
	if want := cmp.Or(s.Environment["FRONTEND_GRPC_PORT"], "7233"); port != want {
		t.Errorf("%s: TEMPORAL_ADDRESS %q, the frontend listens on %s", who, addr, want)
	}
}

func TestComposeTemporalUIPointsAtTemporal(t *testing.T) {
	f := loadCompose(t)
	ui := f.service(t, "temporal-ui")
	addr, ok := ui.Environment["TEMPORAL_ADDRESS"]
	if !ok {
		t.Fatal("temporal-ui does not set TEMPORAL_ADDRESS (its default is 127.0.0.1:7233, the UI container itself)")
	}
	checkTemporalAddress(t, f, "temporal-ui", addr)
	if !slices.Contains(ui.Ports, "8233:8080") {
		t.Errorf("temporal-ui publishes %v, want 8233:8080 (the UI's container port is 8080)", ui.Ports)
	}
	if !slices.Contains(f.service(t, "temporal").Ports, "7233:7233") {
		t.Errorf("temporal does not publish 7233:7233")
	}
}

// TestDockerfileBuildsProductionBinary checks that the image is the production build: ./cmd/perkflow with
// the nodev tag (no embedded Temporal server), the version stamped, and the entrypoint compose relies on.
func TestDockerfileBuildsProductionBinary(t *testing.T) {
	data, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatalf("read Dockerfile: %v", err)
	}
	// Join continuation lines so each instruction is one line.
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	var build string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build") {
			if build != "" {
				t.Fatalf("Dockerfile has more than one `go build`; keep one so this test knows which is shipped")
			}
			build = line
		}
	}
	if build == "" {
		t.Fatal("Dockerfile has no RUN ... go build")
	}
	fields := strings.Fields(build[strings.Index(build, "go build"):])
	if !slices.Contains(fields, "./cmd/perkflow") {
		t.Errorf("go build does not build ./cmd/perkflow: %s", build)
	}
	if m := regexp.MustCompile(`-tags[= ]"?([^\s"]+)`).FindStringSubmatch(build); m == nil ||
		!slices.Contains(strings.Split(m[1], ","), "nodev") {
		t.Errorf("go build lacks -tags nodev (the embedded dev server would ship): %s", build)
	}
	if !slices.Contains(fields, "-trimpath") {
		t.Errorf("go build lacks -trimpath: %s", build)
	}

	mod, err := os.ReadFile(goModPath)
	if err != nil {
		t.Fatalf("read go.mod: %v", err)
	}
	m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no module line")
	}
	if stamp := "-X " + string(m[1]) + "/internal/version.Version="; !strings.Contains(build, stamp) {
		t.Errorf("go build does not stamp the version with %q: %s", stamp, build)
	}

	if !strings.Contains(text, "CGO_ENABLED=0") {
		t.Error("Dockerfile does not set CGO_ENABLED=0 (the runtime image has no libc)")
	}
	if !regexp.MustCompile(`(?m)^ENTRYPOINT \["/usr/local/bin/perkflow"\]\s*$`).MatchString(text) {
		t.Error(`Dockerfile lacks ENTRYPOINT ["/usr/local/bin/perkflow"] (compose passes the subcommand as command)`)
	}
	// The last USER wins in the final stage; it must not be root.
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(text, -1)
	if len(users) == 0 {
		t.Error("Dockerfile never sets USER; the image would run as root")
	} else if u := strings.SplitN(users[len(users)-1][1], ":", 2)[0]; u == "root" || u == "0" {
		t.Errorf("Dockerfile runs as %q", u)
	}
}
