package node

import (
	"fmt"
	"sort"
	"strings"
)

// CredentialSpec is a kind of stored credential: the values it holds and which are secret. It
// drives the builder's credential forms and the API's checks on new credentials.
type CredentialSpec struct {
	Type        string            `json:"type"`
	Title       Text              `json:"title"`
	Description Text              `json:"description"`
	Fields      []CredentialField `json:"fields"`
}

// CredentialField is one value of a credential.
type CredentialField struct {
	Name        string `json:"name"`
	Title       Text   `json:"title"`
	Required    bool   `json:"required,omitempty"`
	Secret      bool   `json:"secret,omitempty"` // shown as a password field
	Multiline   bool   `json:"multiline,omitempty"`
	Placeholder string `json:"placeholder,omitempty"`
}

var credentialSpecs = map[string]*CredentialSpec{}

// RegisterCredential adds a credential type; node files call it from init.
func RegisterCredential(c *CredentialSpec) {
	if c.Type == "" || c.Title.En == "" || c.Title.Zh == "" {
		panic(fmt.Sprintf("node: credential type %q needs a type and en/zh-CN titles", c.Type))
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := credentialSpecs[c.Type]; dup {
		panic("node: duplicate credential type " + c.Type)
	}
	credentialSpecs[c.Type] = c
}

// CredentialTypes lists the registered credential types by name.
func CredentialTypes() []*CredentialSpec {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]*CredentialSpec, 0, len(credentialSpecs))
	for _, c := range credentialSpecs {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// CredentialSpecOf returns the registered credential type typ, or nil.
func CredentialSpecOf(typ string) *CredentialSpec {
	mu.RLock()
	defer mu.RUnlock()
	return credentialSpecs[typ]
}

// CheckCredential reports what is wrong with data for a credential of type typ: an unknown type,
// a missing required value, or a value the type does not have.
func CheckCredential(typ string, data map[string]string) error {
	mu.RLock()
	spec := credentialSpecs[typ]
	mu.RUnlock()
	if spec == nil {
		names := make([]string, 0, len(credentialSpecs))
		for _, c := range CredentialTypes() {
			names = append(names, c.Type)
		}
		return fmt.Errorf("unknown credential type %q; known types: %s", typ, strings.Join(names, ", "))
	}
	var problems []string
	known := map[string]bool{}
	for _, f := range spec.Fields {
		known[f.Name] = true
		if f.Required && strings.TrimSpace(data[f.Name]) == "" {
			problems = append(problems, f.Name+" is required")
		}
	}
	for k := range data {
		if !known[k] {
			problems = append(problems, fmt.Sprintf("%s credentials have no value %q", typ, k))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}
