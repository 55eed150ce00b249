package api

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine/auth"
	"github.com/opsflow/opsflow/engine/store"
)

// SessionCookie holds a browser's session; CSRFHeader must echo the session's CSRF token on writes.
const (
	SessionCookie = "opsflow_session"
	CSRFHeader    = "X-CSRF-Token"
)

// principal is who is calling and with which role.
type principal struct {
	auth.Actor
	Role    string
	User    *store.User    // the person: signed in, or owner of the key
	Session *store.Session // set for cookie authentication
	Key     *store.APIKey
}

const principalKey = "opsflow.principal"

func who(c *gin.Context) *principal {
	p, _ := c.Get(principalKey)
	pr, _ := p.(*principal)
	return pr
}

// actor is the audit log's view of the caller; anonymous with the IP when nobody is signed in.
func (s *Server) actor(c *gin.Context) auth.Actor {
	if p := who(c); p != nil {
		return p.Actor
	}
	return auth.Actor{Kind: "anonymous", IP: c.ClientIP()}
}

// authorize enforces the route table: it identifies the caller, checks CSRF for cookie-authenticated
// writes and the caller's role against the route's permission, then records the audit row of a
// successful action.
func (s *Server) authorize(c *gin.Context) {
	path := c.FullPath()
	if path == "" { // no route: the 404/405 handlers answer
		c.Next()
		return
	}
	r, ok := routes[c.Request.Method+" "+path]
	if !ok {
		s.log.Error("route without an authorization rule", "method", c.Request.Method, "path", path)
		fail(c, http.StatusInternalServerError, "no_rule", "this route has no authorization rule", nil)
		return
	}
	if r.perm != auth.Public {
		p, errCode, msg := s.identify(c)
		if p == nil {
			c.Header("WWW-Authenticate", `Bearer realm="opsflow"`)
			fail(c, http.StatusUnauthorized, errCode, msg, nil)
			return
		}
		if p.Session != nil && !safeMethod(c.Request.Method) &&
			subtle.ConstantTimeCompare([]byte(c.GetHeader(CSRFHeader)), []byte(p.Session.CSRF)) != 1 {
			fail(c, http.StatusForbidden, "csrf", "missing or wrong "+CSRFHeader+" header (the csrf_token from sign-in)", nil)
			return
		}
		if !auth.Allows(p.Role, r.perm) {
			fail(c, http.StatusForbidden, "forbidden", fmt.Sprintf("the %s role may not do this (it needs %s)", p.Role, r.perm), gin.H{"role": p.Role, "needs": r.perm})
			return
		}
		c.Set(principalKey, p)
	}
	c.Next()
	if r.action != "" && c.Writer.Status() < 400 {
		e := auth.Entry{Action: r.action, ObjectType: r.object, ObjectID: c.Param("id")}
		if n, ok := c.Get(noteKey); ok {
			e = n.(auth.Entry)
			if e.Action == "" {
				e.Action = r.action
			}
			if e.ObjectType == "" {
				e.ObjectType = r.object
			}
			if e.ObjectID == "" {
				e.ObjectID = c.Param("id")
			}
		}
		if err := s.auth.Record(c.Request.Context(), s.actor(c), e); err != nil {
			s.log.Error("audit log write failed", "action", e.Action, "error", err)
		}
	}
}

const noteKey = "opsflow.audit"

// note adds the object's id, name and a diff (never secrets) to the audit row the route records.
func note(c *gin.Context, e auth.Entry) { c.Set(noteKey, e) }

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// identify finds the caller from the Authorization header (static token or API key; the scheme
// is case-insensitive) or, without one, the session cookie.
func (s *Server) identify(c *gin.Context) (*principal, string, string) {
	ctx := c.Request.Context()
	ip := c.ClientIP()
	if h := c.GetHeader("Authorization"); h != "" {
		scheme, token, _ := strings.Cut(strings.TrimSpace(h), " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "bearer") || token == "" {
			return nil, "unauthorized", "send Authorization: Bearer <API key>"
		}
		for i, t := range s.tokens {
			if subtle.ConstantTimeCompare([]byte(token), []byte(t)) == 1 {
				n := fmt.Sprint(i + 1)
				return &principal{Actor: auth.Actor{Kind: "token", ID: "token:" + n, Name: "OPSFLOW_API_TOKENS #" + n, IP: ip}, Role: store.RoleAdmin}, "", ""
			}
		}
		if strings.HasPrefix(token, auth.KeyPrefix) {
			if k, owner, err := s.auth.Key(ctx, token); err == nil {
				p := &principal{Actor: auth.Actor{Kind: "key", ID: k.ID, Name: "key:" + k.Name, IP: ip}, Role: k.Role, User: owner, Key: k}
				if owner != nil {
					p.Actor = auth.Actor{Kind: "user", ID: owner.ID, Name: owner.Email + " (key " + k.Name + ")", IP: ip}
				}
				return p, "", ""
			}
		}
		return nil, "unauthorized", "the API key is unknown, expired or revoked"
	}
	if cookie, err := c.Cookie(SessionCookie); err == nil && cookie != "" {
		if sess, u, err := s.auth.Session(ctx, cookie); err == nil {
			return &principal{Actor: auth.Actor{Kind: "user", ID: u.ID, Name: u.Email, IP: ip}, Role: u.Role, User: u, Session: sess}, "", ""
		}
		return nil, "session_expired", "your session has ended; sign in again"
	}
	return nil, "unauthorized", "sign in, or send an API key as Authorization: Bearer <key>"
}

// Views of people and keys: never a hash.

type userView struct {
	ID          string     `json:"id"`
	Email       string     `json:"email"`
	Name        string     `json:"name"`
	Role        string     `json:"role"`
	Disabled    bool       `json:"disabled"`
	Locked      bool       `json:"locked"`
	LastLoginAt *time.Time `json:"last_login_at"`
	CreatedAt   time.Time  `json:"created_at"`
}

func toUserView(u *store.User) userView {
	return userView{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.Disabled,
		Locked: u.LockedUntil != nil && time.Now().Before(*u.LockedUntil), LastLoginAt: u.LastLoginAt, CreatedAt: u.CreatedAt}
}

type keyView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Role       string     `json:"role"`
	UserID     string     `json:"user_id,omitempty"`
	Service    bool       `json:"service"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	CreatedAt  time.Time  `json:"created_at"`
	// Key is the key itself, in the answer to its creation only.
	Key string `json:"key,omitempty"`
}

func toKeyView(k *store.APIKey) keyView {
	return keyView{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Role: k.Role, UserID: k.UserID, Service: k.UserID == "",
		ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, CreatedAt: k.CreatedAt}
}

// failAuth answers an auth.Error with its status, anything else as usual.
func (s *Server) failAuth(c *gin.Context, err error) {
	var ae *auth.Error
	if errors.As(err, &ae) {
		fail(c, ae.Status, ae.Code, ae.Message, nil)
		return
	}
	s.failErr(c, err)
}

func (s *Server) setupStatus(c *gin.Context) {
	need, err := s.auth.NeedsSetup(c.Request.Context())
	if err != nil {
		s.failErr(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"needed": need})
}

func (s *Server) setup(c *gin.Context) {
	var req struct {
		Token    string `json:"token"`
		Email    string `json:"email"`
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	u, err := s.auth.Setup(c.Request.Context(), req.Token, req.Email, req.Name, req.Password)
	if err != nil {
		s.failAuth(c, err)
		return
	}
	note(c, auth.Entry{ObjectID: u.ID, ObjectName: u.Email, Diff: gin.H{"role": u.Role, "via": "setup token"}})
	c.JSON(http.StatusCreated, toUserView(u))
}

func (s *Server) login(c *gin.Context) {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	ctx := c.Request.Context()
	u, sess, token, err := s.auth.Login(ctx, req.Email, req.Password, c.ClientIP(), c.Request.UserAgent())
	if err != nil {
		a := auth.Actor{Kind: "anonymous", Name: strings.ToLower(strings.TrimSpace(req.Email)), IP: c.ClientIP()}
		e := auth.Entry{Action: "login_failed", ObjectType: "user", ObjectName: truncateStr(a.Name, 300)}
		if u != nil {
			a.ID, e.ObjectID = u.ID, u.ID
		}
		var ae *auth.Error
		if errors.As(err, &ae) {
			e.Diff = gin.H{"reason": ae.Code}
		}
		if rerr := s.auth.Record(ctx, a, e); rerr != nil {
			s.log.Error("audit log write failed", "action", e.Action, "error", rerr)
		}
		s.failAuth(c, err)
		return
	}
	s.setSessionCookie(c, token, int(s.auth.Config().SessionMax.Seconds()))
	a := auth.Actor{Kind: "user", ID: u.ID, Name: u.Email, IP: c.ClientIP()}
	if err := s.auth.Record(ctx, a, auth.Entry{Action: "login", ObjectType: "session", ObjectID: sess.ID, ObjectName: u.Email}); err != nil {
		s.log.Error("audit log write failed", "action", "login", "error", err)
	}
	c.JSON(http.StatusOK, gin.H{"user": toUserView(u), "csrf_token": sess.CSRF, "expires_at": sess.ExpiresAt})
}

func truncateStr(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// setSessionCookie writes the session cookie: HttpOnly, SameSite=Strict, Secure on TLS (directly
// or behind a proxy that says so).
func (s *Server) setSessionCookie(c *gin.Context, value string, maxAge int) {
	secure := c.Request.TLS != nil || strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https")
	http.SetCookie(c.Writer, &http.Cookie{Name: SessionCookie, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: secure, SameSite: http.SameSiteStrictMode})
}

func (s *Server) logout(c *gin.Context) {
	p := who(c)
	if p.Session != nil {
		if err := s.auth.RevokeSession(c.Request.Context(), p.User.ID, p.Session.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.failErr(c, err)
			return
		}
		note(c, auth.Entry{ObjectID: p.Session.ID, ObjectName: p.User.Email})
	}
	s.setSessionCookie(c, "", -1)
	c.Status(http.StatusNoContent)
}

func (s *Server) me(c *gin.Context) {
	p := who(c)
	out := gin.H{"kind": p.Kind, "name": p.Name, "role": p.Role, "permissions": permissionsOf(p.Role)}
	if p.User != nil {
		out["user"] = toUserView(p.User)
	}
	if p.Session != nil {
		out["csrf_token"] = p.Session.CSRF
		out["session_expires_at"] = p.Session.ExpiresAt
	}
	c.JSON(http.StatusOK, out)
}

func permissionsOf(role string) []auth.Permission {
	var out []auth.Permission
	seen := map[auth.Permission]bool{}
	for _, r := range routes {
		if r.perm != auth.Public && !seen[r.perm] && auth.Allows(role, r.perm) {
			seen[r.perm] = true
			out = append(out, r.perm)
		}
	}
	return sortPerms(out)
}

func (s *Server) changePassword(c *gin.Context) {
	var req struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	p := who(c)
	if p.User == nil || p.Key != nil {
		fail(c, http.StatusBadRequest, "invalid_request", "only a signed-in person can change their password", nil)
		return
	}
	if !auth.VerifyPassword(p.User.PasswordHash, req.Current) {
		fail(c, http.StatusForbidden, "bad_login", "the current password is wrong", nil)
		return
	}
	if err := s.auth.SetPassword(c.Request.Context(), p.User.ID, req.New); err != nil {
		s.failAuth(c, err)
		return
	}
	note(c, auth.Entry{ObjectID: p.User.ID, ObjectName: p.User.Email})
	s.setSessionCookie(c, "", -1) // every session ended, this one too
	c.Status(http.StatusNoContent)
}

func (s *Server) listSessions(c *gin.Context) {
	p := who(c)
	if p.User == nil {
		c.JSON(http.StatusOK, gin.H{"items": []any{}})
		return
	}
	list, err := s.auth.Sessions(c.Request.Context(), p.User.ID)
	if err != nil {
		s.failErr(c, err)
		return
	}
	type sessionView struct {
		ID         string    `json:"id"`
		IP         string    `json:"ip"`
		UserAgent  string    `json:"user_agent"`
		CreatedAt  time.Time `json:"created_at"`
		LastSeenAt time.Time `json:"last_seen_at"`
		ExpiresAt  time.Time `json:"expires_at"`
		Current    bool      `json:"current"`
	}
	items := make([]sessionView, len(list))
	for i, se := range list {
		items[i] = sessionView{ID: se.ID, IP: se.IP, UserAgent: se.UserAgent, CreatedAt: se.CreatedAt, LastSeenAt: se.LastSeenAt,
			ExpiresAt: se.ExpiresAt, Current: p.Session != nil && p.Session.ID == se.ID}
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (s *Server) revokeSession(c *gin.Context) {
	p := who(c)
	if p.User == nil {
		s.failErr(c, store.ErrNotFound)
		return
	}
	if err := s.auth.RevokeSession(c.Request.Context(), p.User.ID, c.Param("id")); err != nil {
		s.failErr(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
