// Package template is the template format: a flow plus what a no-code admin needs to import it
// in one click — titles in both languages, the credentials and teams it needs, parameters with
// defaults, and sample events.
package template

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/flow"
	"github.com/opsflow/opsflow/engine/node"
)

// FormatVersion is the value of every template's "template" key.
const FormatVersion = "opsflow-template/v1"

// Template is one importable flow.
type Template struct {
	Format      string      `json:"template"`
	ID          string      `json:"id"`
	Title       node.Text   `json:"title"`
	Description node.Text   `json:"description"`
	Category    string      `json:"category"`
	Credentials []Need      `json:"credentials"`
	Teams       []Need      `json:"teams"`
	Parameters  []Parameter `json:"parameters"`
	// Flow is the flow document. Its strings may hold ${parameter} placeholders; its credential
	// and team fields name the Credentials and Teams above.
	Flow    json.RawMessage `json:"flow"`
	Samples []Sample        `json:"samples"`
}

// Need is a credential or team the flow refers to by Name.
type Need struct {
	Name        string    `json:"name"`
	Type        string    `json:"type,omitempty"` // credential type
	Description node.Text `json:"description"`
}

// Parameter is a value the importer may change.
type Parameter struct {
	Name        string    `json:"name"`
	Title       node.Text `json:"title"`
	Type        string    `json:"type"` // string, number or boolean
	Default     any       `json:"default"`
	Description node.Text `json:"description,omitempty"`
}

// Sample is an example event the flow handles.
type Sample struct {
	Name  string `json:"name"`
	Event struct {
		Type string `json:"type"`
		Data any    `json:"data"`
	} `json:"event"`
}

var paramName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
var placeholder = regexp.MustCompile(`\$\{([a-z][a-z0-9_]*)\}`)

// Parse reads a template strictly and checks its own consistency (not the flow: see Instantiate).
func Parse(b []byte) (*Template, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var t Template
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("invalid template JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid template JSON: unexpected data after the template")
	}
	var problems []string
	if t.Format != FormatVersion {
		problems = append(problems, fmt.Sprintf("template must be %q", FormatVersion))
	}
	if t.ID == "" || t.Title.En == "" || t.Title.Zh == "" || t.Description.En == "" || t.Description.Zh == "" {
		problems = append(problems, "id, and title and description in en and zh-CN, are required")
	}
	if len(t.Flow) == 0 {
		problems = append(problems, "flow is required")
	}
	declared := map[string]bool{}
	for _, p := range t.Parameters {
		if !paramName.MatchString(p.Name) {
			problems = append(problems, fmt.Sprintf("parameter name %q must be lower_snake_case", p.Name))
		}
		switch p.Type {
		case "string", "number", "boolean":
		default:
			problems = append(problems, fmt.Sprintf("parameter %s: type must be string, number or boolean", p.Name))
		}
		declared[p.Name] = true
	}
	for _, m := range placeholder.FindAllStringSubmatch(string(t.Flow), -1) {
		if !declared[m[1]] {
			problems = append(problems, fmt.Sprintf("the flow uses ${%s}, which is not a declared parameter", m[1]))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("invalid template %s: %s", t.ID, strings.Join(problems, "; "))
	}
	return &t, nil
}

// Gallery loads every *.json template in dir of fsys, sorted by id.
func Gallery(fsys fs.FS, dir string) ([]*Template, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []*Template
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		t, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Choices are what the importer decided: parameter values, and which stored credential or team
// (id or name) stands for each one the template needs. Unmapped needs default to the same name.
type Choices struct {
	Name        string            `json:"name"`
	Parameters  map[string]any    `json:"parameters"`
	Credentials map[string]string `json:"credentials"`
	Teams       map[string]string `json:"teams"`
}

// Instantiate produces the flow document for the choices: parameters substituted (defaults where
// not given) and credential and team references mapped. The caller validates the result.
func (t *Template) Instantiate(c Choices) (*flow.Flow, error) {
	values := map[string]string{}
	for _, p := range t.Parameters {
		v, ok := c.Parameters[p.Name]
		if !ok {
			v = p.Default
		}
		s, err := paramText(p, v)
		if err != nil {
			return nil, err
		}
		values[p.Name] = s
	}
	for name := range c.Parameters {
		if _, ok := values[name]; !ok {
			return nil, fmt.Errorf("template %s has no parameter %q", t.ID, name)
		}
	}
	raw := placeholder.ReplaceAllStringFunc(string(t.Flow), func(m string) string {
		s := values[placeholder.FindStringSubmatch(m)[1]]
		b, _ := json.Marshal(s) // the placeholder sits inside a JSON string: escape for it
		return string(b[1 : len(b)-1])
	})
	f, err := flow.Parse([]byte(raw))
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", t.ID, err)
	}
	if c.Name != "" {
		f.Name = c.Name
	}
	mapRefs(f, node.KindCredential, c.Credentials)
	mapRefs(f, node.KindTeam, c.Teams)
	return f, nil
}

func paramText(p Parameter, v any) (string, error) {
	switch p.Type {
	case "number":
		if _, ok := v.(float64); !ok {
			if i, ok := v.(int); ok {
				v = float64(i)
			} else {
				return "", fmt.Errorf("parameter %s must be a number, not %v", p.Name, v)
			}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return "", fmt.Errorf("parameter %s must be true or false, not %v", p.Name, v)
		}
	default:
		if _, ok := v.(string); !ok {
			return "", fmt.Errorf("parameter %s must be text, not %v", p.Name, v)
		}
	}
	return compile.Stringify(v), nil
}

// mapRefs replaces credential or team references in every node's config by the chosen ones.
func mapRefs(f *flow.Flow, kind node.Kind, choice map[string]string) {
	if len(choice) == 0 {
		return
	}
	for i := range f.Nodes {
		spec := node.Lookup(f.Nodes[i].Type)
		if spec == nil {
			continue
		}
		for _, fld := range spec.Fields {
			if fld.Kind != kind {
				continue
			}
			if ref, ok := f.Nodes[i].Config[fld.Name].(string); ok {
				if to, ok := choice[ref]; ok && to != "" {
					f.Nodes[i].Config[fld.Name] = to
				}
			}
		}
	}
}

// secretHeader matches header names whose values are secrets.
var secretHeader = regexp.MustCompile(`(?i)authorization|token|secret|api[-_]?key|password|signature|cookie`)

// Names resolves stored ids to names for export; ok=false leaves a reference as it is.
type Names interface {
	CredentialName(ref string) (name, typ string, ok bool)
	TeamName(ref string) (name string, ok bool)
}

// FromFlow makes a template of a flow: credential and team references become named needs (by the
// stored names, never ids or secrets), and header values that look like secrets are emptied.
func FromFlow(id string, f *flow.Flow, names Names) (*Template, error) {
	t := &Template{Format: FormatVersion, ID: id, Category: "custom", Credentials: []Need{}, Teams: []Need{}, Parameters: []Parameter{}, Samples: []Sample{}}
	t.Title = node.Text{En: f.Name, Zh: f.Name}
	desc := f.Description
	if desc == "" {
		desc = f.Name
	}
	t.Description = node.Text{En: desc, Zh: desc}
	seenCred, seenTeam := map[string]bool{}, map[string]bool{}
	for i := range f.Nodes {
		n := &f.Nodes[i]
		spec := node.Lookup(n.Type)
		if spec == nil {
			continue
		}
		for _, fld := range spec.Fields {
			v, ok := n.Config[fld.Name]
			if !ok {
				continue
			}
			switch fld.Kind {
			case node.KindCredential:
				ref, _ := v.(string)
				name, typ, found := names.CredentialName(ref)
				if !found {
					name, typ = ref, ""
				}
				n.Config[fld.Name] = name
				if !seenCred[name] {
					seenCred[name] = true
					t.Credentials = append(t.Credentials, Need{Name: name, Type: typ, Description: node.Text{En: "Credential used by " + n.ID, Zh: n.ID + " 使用的凭据"}})
				}
			case node.KindTeam:
				ref, _ := v.(string)
				name, found := names.TeamName(ref)
				if !found {
					name = ref
				}
				n.Config[fld.Name] = name
				if !seenTeam[name] {
					seenTeam[name] = true
					t.Teams = append(t.Teams, Need{Name: name, Description: node.Text{En: "Team used by " + n.ID, Zh: n.ID + " 使用的团队"}})
				}
			case node.KindKeyValue:
				if m, ok := v.(map[string]any); ok {
					for k := range m {
						if secretHeader.MatchString(k) {
							m[k] = ""
						}
					}
				}
			}
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	t.Flow = b
	return t, nil
}
