package engine

import "testing"

// Query parameters that carry credentials are redacted from recorded URLs; others stay readable.
func TestRedactQuery(t *testing.T) {
	for in, want := range map[string]string{
		"https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1&sign=xyz": "https://oapi.dingtalk.com/robot/send?access_token=[redacted]&sign=[redacted]&timestamp=1",
		"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc":                   "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=[redacted]",
		"https://api.example.com/orders?status=open&page=2":                          "https://api.example.com/orders?status=open&page=2",
		"https://api.example.com/x?api_key=k1&q=a+b":                                 "https://api.example.com/x?api_key=[redacted]&q=a+b",
	} {
		if got := redactQuery(in); got != want {
			t.Errorf("redactQuery(%s) = %s, want %s", in, got, want)
		}
	}
}
