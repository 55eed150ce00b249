package examples_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The builder's ports are on the top (input) and bottom (outputs) of a node, so every shipped flow
// must be laid out top to bottom: each edge goes down to a lower row, and no two nodes overlap.
// Otherwise the flow opens as a tangle of edges looping across nodes.
func TestShippedFlowsAreLaidOutTopToBottom(t *testing.T) {
	files, _ := filepath.Glob("templates/*.json")
	files = append(files, "payment-failed-support-sms.json")
	if len(files) < 2 {
		t.Fatal("no flows found")
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		type pos struct{ X, Y float64 }
		var doc struct {
			Flow  json.RawMessage `json:"flow"`
			Nodes []struct {
				ID       string `json:"id"`
				Position *pos   `json:"position"`
			} `json:"nodes"`
			Edges []struct{ From, To string } `json:"edges"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(file, err)
		}
		if doc.Flow != nil {
			if err := json.Unmarshal(doc.Flow, &doc); err != nil {
				t.Fatal(file, err)
			}
		}
		at := map[string]pos{}
		for _, n := range doc.Nodes {
			if n.Position == nil {
				t.Errorf("%s: node %s has no position", file, n.ID)
				continue
			}
			for id, p := range at {
				if abs(p.X-n.Position.X) < 220 && abs(p.Y-n.Position.Y) < 100 {
					t.Errorf("%s: nodes %s and %s overlap", file, id, n.ID)
				}
			}
			at[n.ID] = *n.Position
		}
		for _, e := range doc.Edges {
			if at[e.To].Y <= at[e.From].Y {
				t.Errorf("%s: edge %s → %s goes up or sideways (y %v → %v)", file, e.From, e.To, at[e.From].Y, at[e.To].Y)
			}
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
