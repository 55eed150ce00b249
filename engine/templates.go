package engine

import (
	"context"

	"github.com/opsflow/opsflow/engine/store"
	"github.com/opsflow/opsflow/engine/template"
)

// ImportTemplate creates a draft flow from a template. Unlike a save, an import that does not
// validate is refused: a missing credential or team is a choice the import dialog must ask for.
func (e *Engine) ImportTemplate(ctx context.Context, t *template.Template, c template.Choices) (*FlowInfo, error) {
	f, err := t.Instantiate(c)
	if err != nil {
		return nil, &ImportError{err}
	}
	if _, problems := e.Compile(ctx, f); problems != nil {
		return nil, &InvalidFlowError{problems}
	}
	return e.createFlow(ctx, f, nil)
}

// ImportError is a template that cannot be instantiated with the given choices (a bad parameter).
type ImportError struct{ Err error }

func (e *ImportError) Error() string { return e.Err.Error() }
func (e *ImportError) Unwrap() error { return e.Err }

// ExportTemplate makes a template of a flow version, naming credentials and teams instead of
// pointing at this installation's records.
func (e *Engine) ExportTemplate(ctx context.Context, id string, v int) (*template.Template, error) {
	info, err := e.GetFlow(ctx, id, v)
	if err != nil {
		return nil, err
	}
	return template.FromFlow(id, info.Def, names{ctx, e})
}

type names struct {
	ctx context.Context
	e   *Engine
}

func (n names) CredentialName(ref string) (string, string, bool) {
	var c store.Credential
	if err := n.e.Store.DB.WithContext(n.ctx).Select("name", "type").Scopes(store.ByRef(ref)).Take(&c).Error; err != nil {
		return "", "", false
	}
	return c.Name, c.Type, true
}

func (n names) TeamName(ref string) (string, bool) {
	var t store.Team
	if err := n.e.Store.DB.WithContext(n.ctx).Select("name").Scopes(store.ByRef(ref)).Take(&t).Error; err != nil {
		return "", false
	}
	return t.Name, true
}
