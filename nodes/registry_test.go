package nodes_test

import (
	"testing"

	"github.com/opsflow/opsflow/engine/node"
)

// Every credential type a node field accepts is registered, so the builder can offer a form for it.
func TestCredentialTypesRegistered(t *testing.T) {
	known := map[string]bool{}
	for _, c := range node.CredentialTypes() {
		known[c.Type] = true
		for _, f := range c.Fields {
			if f.Title.En == "" || f.Title.Zh == "" {
				t.Errorf("credential %s field %s lacks a title", c.Type, f.Name)
			}
		}
	}
	for _, spec := range node.All() {
		for _, f := range spec.Fields {
			for _, typ := range f.CredentialTypes {
				if !known[typ] {
					t.Errorf("%s.%s accepts credential type %s, which is not registered", spec.Type, f.Name, typ)
				}
			}
		}
	}
}
