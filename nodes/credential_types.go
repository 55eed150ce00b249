package nodes

import "github.com/opsflow/opsflow/engine/node"

// The credential types the node types here use. Each field's title is what the builder's
// credential form shows; secret fields are entered as passwords and never shown again.
func init() {
	t := func(en, zh string) node.Text { return node.Text{En: en, Zh: zh} }
	baseURL := node.CredentialField{Name: "base_url", Title: t("API base URL (optional)", "API 地址（可选）")}
	for _, c := range []*node.CredentialSpec{
		{Type: "twilio", Title: t("Twilio (SMS)", "Twilio（短信）"), Description: t("Account SID and auth token from the Twilio console; any Twilio-compatible API via the base URL.", "Twilio 控制台中的 Account SID 与 Auth Token；可通过 API 地址接入兼容 Twilio 的服务。"),
			Fields: []node.CredentialField{
				{Name: "account_sid", Title: t("Account SID", "Account SID"), Required: true, Placeholder: "AC…"},
				{Name: "auth_token", Title: t("Auth token", "Auth Token"), Required: true, Secret: true},
				{Name: "from", Title: t("From number or Messaging Service SID", "发送号码或 Messaging Service SID"), Required: true, Placeholder: "+14155550000"},
				baseURL}},
		{Type: "aliyun_sms", Title: t("Alibaba Cloud SMS", "阿里云短信"), Description: t("AccessKey of a RAM user allowed to send SMS, and the approved signature name.", "具备短信发送权限的 RAM 用户 AccessKey，以及已审核的签名名称。"),
			Fields: []node.CredentialField{
				{Name: "access_key_id", Title: t("AccessKey ID", "AccessKey ID"), Required: true},
				{Name: "access_key_secret", Title: t("AccessKey secret", "AccessKey Secret"), Required: true, Secret: true},
				{Name: "sign_name", Title: t("Signature name", "短信签名"), Required: true},
				{Name: "region", Title: t("Region", "地域"), Placeholder: "cn-hangzhou"},
				baseURL}},
		{Type: "smtp", Title: t("SMTP mail server", "SMTP 邮件服务器"), Description: t("Outgoing mail server with authentication.", "需认证的发信服务器。"),
			Fields: []node.CredentialField{
				{Name: "host", Title: t("Host", "主机"), Required: true, Placeholder: "smtp.example.com"},
				{Name: "port", Title: t("Port", "端口"), Placeholder: "587"},
				{Name: "username", Title: t("User name", "用户名")},
				{Name: "password", Title: t("Password", "密码"), Secret: true},
				{Name: "from", Title: t("From", "发件人"), Required: true, Placeholder: "Acme Billing <billing@example.com>"},
				{Name: "tls", Title: t("Security: starttls, tls or none", "加密方式：starttls、tls 或 none"), Placeholder: "starttls"},
				{Name: "ca_cert", Title: t("CA certificate (PEM, optional)", "CA 证书（PEM，可选）"), Multiline: true},
				{Name: "helo", Title: t("EHLO name (optional)", "EHLO 名称（可选）")}}},
		{Type: "wecom_robot", Title: t("WeCom group robot", "企业微信群机器人"), Description: t("The robot's webhook URL (or just its key).", "机器人的 Webhook 地址（或仅填 key）。"),
			Fields: []node.CredentialField{{Name: "webhook_url", Title: t("Webhook URL", "Webhook 地址"), Secret: true}, {Name: "key", Title: t("Key", "Key"), Secret: true}, baseURL}},
		{Type: "dingtalk_robot", Title: t("DingTalk group robot", "钉钉群机器人"), Description: t("The robot's webhook URL, and its signing secret when signing is on.", "机器人的 Webhook 地址；开启加签时还需密钥。"),
			Fields: []node.CredentialField{{Name: "webhook_url", Title: t("Webhook URL", "Webhook 地址"), Required: true, Secret: true}, {Name: "secret", Title: t("Signing secret", "加签密钥"), Secret: true, Placeholder: "SEC…"}}},
		{Type: "feishu_robot", Title: t("Feishu / Lark group robot", "飞书群机器人"), Description: t("The robot's webhook URL, and its signing secret when signing is on.", "机器人的 Webhook 地址；开启签名校验时还需密钥。"),
			Fields: []node.CredentialField{{Name: "webhook_url", Title: t("Webhook URL", "Webhook 地址"), Required: true, Secret: true}, {Name: "secret", Title: t("Signing secret", "签名密钥"), Secret: true}}},
		{Type: "slack_webhook", Title: t("Slack incoming webhook", "Slack Incoming Webhook"), Description: t("The incoming webhook URL of a Slack channel.", "Slack 频道的 Incoming Webhook 地址。"),
			Fields: []node.CredentialField{{Name: "webhook_url", Title: t("Webhook URL", "Webhook 地址"), Required: true, Secret: true}}},
		{Type: "hubspot", Title: t("HubSpot", "HubSpot"), Description: t("A private app access token with the CRM scopes the flow needs.", "具备流程所需 CRM 权限的私有应用访问令牌。"),
			Fields: []node.CredentialField{{Name: "token", Title: t("Access token", "访问令牌"), Required: true, Secret: true, Placeholder: "pat-…"}, baseURL}},
		{Type: "salesforce", Title: t("Salesforce", "Salesforce"), Description: t("Instance URL and an access token (tokens are not refreshed).", "实例地址与访问令牌（令牌不会自动刷新）。"),
			Fields: []node.CredentialField{
				{Name: "instance_url", Title: t("Instance URL", "实例地址"), Required: true, Placeholder: "https://acme.my.salesforce.com"},
				{Name: "access_token", Title: t("Access token", "访问令牌"), Required: true, Secret: true},
				{Name: "api_version", Title: t("API version", "API 版本"), Placeholder: "v61.0"}}},
		{Type: "stripe", Title: t("Stripe API key", "Stripe API 密钥"), Description: t("A secret or restricted key.", "Secret key 或受限密钥。"),
			Fields: []node.CredentialField{
				{Name: "secret_key", Title: t("Secret key", "密钥"), Required: true, Secret: true, Placeholder: "sk_live_… / rk_live_…"},
				{Name: "api_version", Title: t("API version (optional)", "API 版本（可选）")}, baseURL}},
		{Type: "cn_einvoice", Title: t("Chinese e-invoice API (电子发票)", "电子发票接口"), Description: t("A VAT e-invoicing service's REST API (see action.invoice for its format) and the seller's tax registration.", "增值税电子发票服务的 REST 接口（格式见 action.invoice）及销售方税务信息。"),
			Fields: []node.CredentialField{
				{Name: "base_url", Title: t("API base URL", "API 地址"), Required: true, Placeholder: "https://einvoice.example.cn/api/v1"},
				{Name: "api_key", Title: t("API key", "API 密钥"), Required: true, Secret: true},
				{Name: "seller_tax_id", Title: t("Seller tax id (纳税人识别号)", "销售方纳税人识别号"), Required: true, Placeholder: "91310000MA1FL0XX2X"},
				{Name: "seller_name", Title: t("Seller name", "销售方名称")},
				{Name: "drawer", Title: t("Drawer (开票人)", "开票人")}}},
		{Type: "http_bearer", Title: t("HTTP bearer token", "HTTP Bearer 令牌"), Description: t("Sent as Authorization: Bearer <token>.", "以 Authorization: Bearer <令牌> 发送。"),
			Fields: []node.CredentialField{{Name: "token", Title: t("Token", "令牌"), Required: true, Secret: true}}},
		{Type: "http_basic", Title: t("HTTP basic auth", "HTTP 基本认证"), Description: t("User name and password sent as basic authentication.", "以基本认证发送的用户名与密码。"),
			Fields: []node.CredentialField{{Name: "username", Title: t("User name", "用户名"), Required: true}, {Name: "password", Title: t("Password", "密码"), Required: true, Secret: true}}},
		{Type: "http_header", Title: t("HTTP header", "HTTP 请求头"), Description: t("A header carrying an API key, e.g. X-Api-Key.", "携带 API 密钥的请求头，如 X-Api-Key。"),
			Fields: []node.CredentialField{{Name: "name", Title: t("Header name", "请求头名称"), Required: true, Placeholder: "X-Api-Key"}, {Name: "value", Title: t("Value", "值"), Required: true, Secret: true}}},
		{Type: "webhook_secret", Title: t("Webhook signing secret", "Webhook 签名密钥"), Description: t("The secret a provider signs its webhooks with (Stripe whsec_…, Standard Webhooks whsec_…, GitHub, HMAC).", "服务商签名 Webhook 所用的密钥（Stripe whsec_…、Standard Webhooks whsec_…、GitHub、HMAC）。"),
			Fields: []node.CredentialField{{Name: "secret", Title: t("Secret", "密钥"), Required: true, Secret: true}}},
	} {
		node.RegisterCredential(c)
	}
}
