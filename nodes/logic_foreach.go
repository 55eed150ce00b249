package nodes

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/opsflow/opsflow/engine/node"
)

// maxForeachItems bounds one loop.
const maxForeachItems = 100000

func init() {
	node.Register(&node.Spec{
		Type:        "logic.foreach",
		Category:    node.Logic,
		Title:       node.Text{En: "For each", Zh: "逐项处理"},
		Description: node.Text{En: "Computes a result for every item of a list, several at a time, and collects the results in order.", Zh: "对列表中的每一项计算结果（可并发），并按原顺序收集结果。"},
		Icon:        "repeat",
		Fields: []node.Field{
			{Name: "items", Kind: node.KindExpr, ExprType: "list", Required: true, Placeholder: "nodes.crm.body.orders",
				Title: node.Text{En: "List", Zh: "列表"}},
			{Name: "map", Kind: node.KindExpr, Required: true, Placeholder: `{"id": item.id, "due": item.amount - item.paid}`,
				Title: node.Text{En: "For each item", Zh: "每一项的结果"},
				Help:  node.Text{En: "An expression using item (the element) and index (from 0).", Zh: "可使用 item（当前元素）和 index（从 0 开始）的表达式。"},
				Vars:  map[string]*node.Schema{"item": node.Any(), "index": node.Num()}},
			{Name: "filter", Kind: node.KindExpr, ExprType: "bool", Placeholder: "item.amount > 0",
				Title: node.Text{En: "Only items where", Zh: "仅处理满足条件的项"},
				Vars:  map[string]*node.Schema{"item": node.Any(), "index": node.Num()}},
			{Name: "concurrency", Kind: node.KindInteger, Default: 4.0, Min: ptr(1), Max: ptr(64),
				Title: node.Text{En: "At a time", Zh: "并发数"}},
		},
		Output: node.Object(map[string]*node.Schema{"items": node.ArrayOf(node.Any()), "count": node.Num()}),
		Run:    runForeach,
		Docs: node.Text{
			En: "`nodes.<id>.items` holds the results in the order of the list (items left out by the filter are skipped); `count` how many. An error on any item fails the step.",
			Zh: "`nodes.<id>.items` 按列表顺序保存每一项的结果（被过滤掉的项跳过）；`count` 是数量。任何一项出错，此步骤即失败。",
		},
	})
}

func runForeach(ctx context.Context, in *node.Input) (*node.Result, error) {
	list, ok := in.Config["items"].([]any)
	if !ok {
		return nil, node.Permanentf("items must be a list, not %T", in.Config["items"])
	}
	if len(list) > maxForeachItems {
		return nil, node.Permanentf("the list has %d items; at most %d are allowed", len(list), maxForeachItems)
	}
	workers := 4
	if c, ok := in.Config["concurrency"].(float64); ok && c >= 1 {
		workers = int(c)
	}
	results := make([]any, len(list))
	keep := make([]bool, len(list))
	errs := make([]error, len(list))
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, item := range list {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			env := make(map[string]any, len(in.Env)+2)
			for k, v := range in.Env {
				env[k] = v
			}
			env["item"], env["index"] = item, float64(i)
			switch ok, err := in.Eval("filter", env); {
			case errors.Is(err, node.ErrNotSet): // no filter: every item
			case err != nil:
				errs[i] = err
				return
			case ok != true:
				return
			}
			v, err := in.Eval("map", env)
			results[i], keep[i], errs[i] = v, err == nil, err
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err // the step was stopped (evaluations then fail too): not the items' fault
	}
	out := make([]any, 0, len(list))
	for i := range list {
		if errs[i] != nil {
			return nil, node.Permanent(fmt.Errorf("item %d: %w", i, errs[i]))
		}
		if keep[i] {
			out = append(out, results[i])
		}
	}
	return &node.Result{Output: map[string]any{"items": out, "count": len(out)}}, nil
}
