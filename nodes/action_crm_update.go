package nodes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/node"
)

var (
	crmObjectName = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,100}$`)
	sfAPIVersion  = regexp.MustCompile(`^v\d{2,3}\.\d$`)
)

func init() {
	node.Register(&node.Spec{
		Type:        "action.crm_update",
		Category:    node.Action,
		Title:       node.Text{En: "Update CRM record", Zh: "更新 CRM 记录"},
		Description: node.Text{En: "Updates fields of a HubSpot or Salesforce record (or any REST API), e.g. to write a payment status back to a deal or order.", Zh: "更新 HubSpot 或 Salesforce 记录（或任意 REST API）的字段，例如把支付状态写回商机或订单。"},
		Icon:        "database",
		SideEffect:  true,
		Fields: []node.Field{
			{Name: "credential", Kind: node.KindCredential, Required: true, CredentialTypes: []string{"hubspot", "salesforce", "http_bearer"},
				Title: node.Text{En: "CRM account", Zh: "CRM 账号"},
				Help: node.Text{
					En: "hubspot (token, optional base_url), salesforce (instance_url, access_token, optional api_version such as v61.0) or http_bearer (token) for a generic REST API.",
					Zh: "hubspot（token，可选 base_url）、salesforce（instance_url、access_token，可选 api_version，如 v61.0），或用于通用 REST API 的 http_bearer（token）。"}},
			{Name: "object_type", Kind: node.KindTemplate, MaxLen: 100, Placeholder: "deals",
				Title: node.Text{En: "Object type", Zh: "对象类型"},
				Help:  node.Text{En: "HubSpot object type (deals, contacts, companies, tickets, or a custom object id) or Salesforce SObject (Opportunity, Order, Account, Custom__c).", Zh: "HubSpot 对象类型（deals、contacts、companies、tickets 或自定义对象 ID）或 Salesforce SObject（Opportunity、Order、Account、Custom__c）。"}},
			{Name: "record_id", Kind: node.KindTemplate, MaxLen: 200, Placeholder: "{{ event.data.deal_id }}",
				Title: node.Text{En: "Record id", Zh: "记录 ID"}},
			{Name: "id_property", Kind: node.KindString, MaxLen: 100, Placeholder: "order_number",
				Title: node.Text{En: "Id property (HubSpot)", Zh: "ID 属性（HubSpot）"},
				Help:  node.Text{En: "Optional: a unique property the record id refers to instead of the HubSpot object id.", Zh: "可选：记录 ID 对应的唯一属性，而非 HubSpot 对象 ID。"}},
			{Name: "properties", Kind: node.KindExpr, Required: true, Placeholder: `{"payment_status": event.data.status}`,
				Title: node.Text{En: "Fields to set", Zh: "要更新的字段"},
				Help:  node.Text{En: "An expression giving a map of field names to values, e.g. {\"dealstage\": \"closedwon\"}.", Zh: "生成字段名到值映射的表达式，例如 {\"dealstage\": \"closedwon\"}。"}},
			{Name: "method", Kind: node.KindSelect, Default: "PATCH", Options: options("PATCH", "PUT", "POST"),
				Title: node.Text{En: "Method (generic)", Zh: "请求方法（通用）"}},
			{Name: "url", Kind: node.KindTemplate, Placeholder: "https://crm.example.com/api/orders/{{ event.data.order_id }}",
				Title: node.Text{En: "URL (generic)", Zh: "地址（通用）"},
				Help:  node.Text{En: "Required with an http_bearer credential: the fields are sent as the JSON body.", Zh: "使用 http_bearer 凭据时必填：字段作为 JSON 请求体发送。"}},
			node.Idempotent,
		},
		Output: node.Object(map[string]*node.Schema{
			"provider":    node.Str(),
			"object_type": node.Str(),
			"id":          node.Str(),
			"status":      node.Num(),
			"updated_at":  node.Str(),
			"properties":  node.AnyObject(),
			"body":        node.Any(),
		}),
		Run: runCRMUpdate,
		Docs: node.Text{
			En: "The API follows the credential type:\n\n" +
				"- `hubspot`: `PATCH /crm/v3/objects/{object_type}/{record_id}` with `{\"properties\": {...}}` (values sent as strings, as HubSpot stores them); output has the record's `properties` and `updated_at`.\n" +
				"- `salesforce`: `PATCH /services/data/{api_version}/sobjects/{object_type}/{record_id}` with the fields as JSON; Salesforce answers 204. Access tokens are not refreshed: an expired token fails the run.\n" +
				"- `http_bearer`: `method` to `url` with the fields as the JSON body; output has the response `body`.\n\n" +
				"4xx answers fail the run at once (except Salesforce's UNABLE_TO_LOCK_ROW, which is retried); 429, 5xx and network errors are retried.\n\n" +
				"Setting fields (PATCH, PUT) gives the same record however often it is sent, so *Target ignores repeats* can be turned on for them: the call is then recorded with its result only, one database write less. Leave it off for a generic POST that creates records.",
			Zh: "调用的 API 取决于凭据类型：\n\n- `hubspot`：`PATCH /crm/v3/objects/{object_type}/{record_id}`，请求体为 `{\"properties\": {...}}`（值按 HubSpot 的存储方式以字符串发送）；输出包含记录的 `properties` 和 `updated_at`。\n- `salesforce`：`PATCH /services/data/{api_version}/sobjects/{object_type}/{record_id}`，字段以 JSON 发送；Salesforce 返回 204。访问令牌不会自动刷新：令牌过期会让运行失败。\n- `http_bearer`：以 `method` 请求 `url`，字段作为 JSON 请求体；输出包含响应的 `body`。\n\n4xx 响应立即让运行失败（Salesforce 的 UNABLE_TO_LOCK_ROW 除外，会重试）；429、5xx 和网络错误会重试。\n\n设置字段（PATCH、PUT）无论发送几次结果都相同，因此可以开启“目标会忽略重复请求”：调用只在得到结果时记录，少一次数据库写入。对会新建记录的通用 POST 请保持关闭。",
		},
	})
}

func runCRMUpdate(ctx context.Context, in *node.Input) (*node.Result, error) {
	cred, err := in.Services.Credential(ctx, str(in.Config, "credential"))
	if err != nil {
		return nil, err
	}
	props, ok := in.Config["properties"].(map[string]any)
	if !ok {
		return nil, node.Permanentf("the fields to set must be a map, got %T", in.Config["properties"])
	}
	if len(props) == 0 {
		return nil, node.Permanentf("there are no fields to set")
	}
	objType := strings.TrimSpace(str(in.Config, "object_type"))
	id := strings.TrimSpace(str(in.Config, "record_id"))
	if cred.Type == "hubspot" || cred.Type == "salesforce" {
		if !crmObjectName.MatchString(objType) {
			return nil, node.Permanentf("object type %q is not a valid object name", objType)
		}
		if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/?#") {
			return nil, node.Permanentf("record id %q is not valid", id)
		}
	}
	switch cred.Type {
	case "hubspot":
		return hubspotUpdate(ctx, in, cred, objType, id, props)
	case "salesforce":
		return salesforceUpdate(ctx, in, cred, objType, id, props)
	case "http_bearer":
		return genericCRMUpdate(ctx, in, cred, props)
	}
	return nil, node.Permanentf("credential %s is of type %s, which action.crm_update does not know", cred.Name, cred.Type)
}

func crmRequest(method, u, token string, body any) (*http.Request, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, node.Permanentf("the fields cannot be sent as JSON: %v", err)
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(b))
	if err != nil {
		return nil, node.Permanentf("invalid URL")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return req, nil
}

func hubspotUpdate(ctx context.Context, in *node.Input, cred *node.Credential, objType, id string, props map[string]any) (*node.Result, error) {
	token := cred.Data["token"]
	if token == "" {
		return nil, node.Permanentf("credential %s needs token", cred.Name)
	}
	base := strings.TrimRight(cred.Data["base_url"], "/")
	if base == "" {
		base = "https://api.hubapi.com"
	}
	// HubSpot stores every property value as a string; null clears a property.
	values := make(map[string]any, len(props))
	for k, v := range props {
		values[k] = compile.Stringify(v)
	}
	u := base + "/crm/v3/objects/" + url.PathEscape(objType) + "/" + url.PathEscape(id)
	if p := strings.TrimSpace(str(in.Config, "id_property")); p != "" {
		u += "?idProperty=" + url.QueryEscape(p)
	}
	req, err := crmRequest(http.MethodPatch, u, token, map[string]any{"properties": values})
	if err != nil {
		return nil, err
	}
	resp, err := send(ctx, in, req, "HubSpot")
	if err != nil {
		return nil, redactErr(err, token)
	}
	out, _ := resp.JSON().(map[string]any)
	recID, _ := out["id"].(string)
	if recID == "" {
		recID = id
	}
	returned, _ := out["properties"].(map[string]any)
	return &node.Result{Output: map[string]any{
		"provider": "hubspot", "object_type": objType, "id": recID, "status": resp.Status,
		"updated_at": out["updatedAt"], "properties": returned,
	}}, nil
}

func salesforceUpdate(ctx context.Context, in *node.Input, cred *node.Credential, objType, id string, props map[string]any) (*node.Result, error) {
	token, instance := cred.Data["access_token"], strings.TrimRight(cred.Data["instance_url"], "/")
	if token == "" || instance == "" {
		return nil, node.Permanentf("credential %s needs instance_url and access_token", cred.Name)
	}
	version := strings.TrimSpace(cred.Data["api_version"])
	if version == "" {
		version = "v61.0"
	}
	if !strings.HasPrefix(version, "v") {
		version = "v" + version
	}
	if !sfAPIVersion.MatchString(version) {
		return nil, node.Permanentf("credential %s: api_version %q is not like v61.0", cred.Name, version)
	}
	u := instance + "/services/data/" + version + "/sobjects/" + url.PathEscape(objType) + "/" + url.PathEscape(id)
	req, err := crmRequest(http.MethodPatch, u, token, props)
	if err != nil {
		return nil, err
	}
	resp, err := send(ctx, in, req, "Salesforce")
	if err != nil {
		// A record locked by another transaction is worth trying again.
		if resp != nil && resp.Status == http.StatusBadRequest && bytes.Contains(resp.Body, []byte("UNABLE_TO_LOCK_ROW")) {
			return nil, redactErr(fmt.Errorf("%s: record %s is locked by another update: %s", "Salesforce", id, snippet(in, resp.Body)), token)
		}
		return nil, redactErr(err, token)
	}
	return &node.Result{Output: map[string]any{"provider": "salesforce", "object_type": objType, "id": id, "status": resp.Status}}, nil
}

func genericCRMUpdate(ctx context.Context, in *node.Input, cred *node.Credential, props map[string]any) (*node.Result, error) {
	token := cred.Data["token"]
	if token == "" {
		return nil, node.Permanentf("credential %s needs token", cred.Name)
	}
	raw := strings.TrimSpace(str(in.Config, "url"))
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, node.Permanentf("URL %q is not an http(s) URL (required with an http_bearer credential)", raw)
	}
	method := str(in.Config, "method")
	if method == "" {
		method = http.MethodPatch
	}
	req, err := crmRequest(method, u.String(), token, props)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Idempotency-Key", in.IdempotencyKey())
	resp, err := send(ctx, in, req, u.Host)
	if err != nil {
		return nil, redactErr(err, token)
	}
	return &node.Result{Output: map[string]any{"provider": "http", "status": resp.Status, "body": resp.JSON(), "id": str(in.Config, "record_id"), "object_type": str(in.Config, "object_type")}}, nil
}
