package auth

import (
	"strings"
	"testing"
)

// Hashes are argon2id PHC strings, salted (two hashes of one password differ), and verify only
// the right password; malformed or hostile parameters never verify.
func TestPasswordHash(t *testing.T) {
	h := HashPassword("correct horse battery staple")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || h == HashPassword("correct horse battery staple") {
		t.Fatalf("hash %s", h)
	}
	if !VerifyPassword(h, "correct horse battery staple") || VerifyPassword(h, "correct horse battery stapl") || VerifyPassword(h, "") {
		t.Error("verification")
	}
	for _, bad := range []string{"", "plain", strings.Replace(h, "argon2id", "argon2i", 1), strings.Replace(h, "m=19456", "m=99999999", 1),
		strings.Replace(h, "t=2", "t=0", 1), h[:len(h)-4]} {
		if VerifyPassword(bad, "correct horse battery staple") {
			t.Errorf("%q verified", bad)
		}
	}
	if CheckPasswordPolicy("short") == nil || CheckPasswordPolicy(strings.Repeat("x", 300)) == nil || CheckPasswordPolicy("twelve chars") != nil {
		t.Error("policy")
	}
}

// The role matrix: roles are ordered by what they cover, and a key may not outrank its owner.
func TestRoles(t *testing.T) {
	if !Covers("admin", "editor") || !Covers("editor", "viewer") || Covers("editor", "operator") || Covers("operator", "editor") || Covers("viewer", "admin") {
		t.Error("Covers")
	}
	if Allows("viewer", WriteFlows) || !Allows("viewer", Public) || Allows("nobody", ReadFlows) || ValidRole("root") {
		t.Error("Allows")
	}
}
