package nodes_test

import (
	"context"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

func TestAssignStrategies(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			now := time.Now().UTC()
			team := store.Team{ID: store.NewID(), Name: "Sales", CreatedAt: now, UpdatedAt: now}
			if err := e.Store.DB.Create(&team).Error; err != nil {
				t.Fatal(err)
			}
			for i, name := range []string{"Ana", "Bo", "Cy"} {
				m := store.Member{ID: store.NewID(), TeamID: team.ID, Name: name, Email: name + "@example.com", Active: true, CreatedAt: now.Add(time.Duration(i) * time.Second)}
				if err := e.Store.DB.Create(&m).Error; err != nil {
					t.Fatal(err)
				}
			}
			assign := func(strategy, rule string, data map[string]any) string {
				t.Helper()
				flowDoc := `{"name":"a-` + strategy + `","nodes":[{"id":"t","type":"trigger.manual","config":{"sample":{"country":"CN"}}},
					{"id":"a","type":"action.assign","config":{"team":"Sales","strategy":"` + strategy + `"` + rule + `}}],"edges":[{"from":"t","to":"a"}]}`
				info, err := e.CreateFlow(context.Background(), enginetest.MustFlow(t, flowDoc))
				if err != nil {
					t.Fatal(err)
				}
				acc, err := e.RunManual(context.Background(), info.Flow.ID, 0, data, false)
				if err != nil {
					t.Fatal(err)
				}
				d := enginetest.WaitRun(t, e, acc.RunIDs[0], 10*time.Second)
				if d.Run.Status != store.RunSucceeded {
					t.Fatalf("%s: run %s: %s", strategy, d.Run.Status, d.Run.Error)
				}
				return enginetest.Output(t, enginetest.Step(d, "a"))["assignee"].(map[string]any)["name"].(string)
			}
			var got []string
			for i := 0; i < 4; i++ {
				got = append(got, assign("round_robin", "", nil))
			}
			if got[0] == got[1] || got[1] == got[2] || got[0] == got[2] || got[3] != got[0] {
				t.Errorf("round robin gave %v", got)
			}
			// Ana and Bo now hold more open work than... everyone has assignments; close all of Cy's.
			e.Store.DB.Model(&store.Assignment{}).Where("member_id IN (?)", e.Store.DB.Model(&store.Member{}).Select("id").Where("name = ?", "Cy")).Update("status", "done")
			if who := assign("least_open", "", nil); who != "Cy" {
				t.Errorf("least_open chose %s, want Cy (no open assignments)", who)
			}
			if who := assign("rule", `,"rule":"event.data.country == \"CN\" ? \"bo@example.com\" : \"Ana\""`, map[string]any{"country": "CN"}); who != "Bo" {
				t.Errorf("rule chose %s, want Bo", who)
			}
		})
	}
}
