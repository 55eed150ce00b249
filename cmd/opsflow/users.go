package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/auth"
	"github.com/opsflow/opsflow/engine/store"
)

// cliActor is who the audit log names for changes made from the command line.
var cliActor = auth.Actor{Kind: "system", ID: "cli", Name: "opsflow command line"}

// usersCommand: opsflow users create [-admin | -role R] [-name N] EMAIL. The password comes from
// OPSFLOW_PASSWORD (never a flag: flags show in ps) or is generated and printed once.
func usersCommand(args []string, out io.Writer) error {
	return subcommands(out, "users", args, map[string]func([]string, io.Writer) error{"create": createUser})
}

func createUser(args []string, out io.Writer) error {
	var admin bool
	var role, name string
	s := &settings{}
	fs := newFlags(out, "users create", "[-admin | -role R] [-name NAME] EMAIL",
		"Add a user. The password comes from OPSFLOW_PASSWORD (never a flag: flags show in ps), or is generated and printed once.")
	fs.BoolVar(&admin, "admin", false, "make the user an admin (same as -role admin)")
	fs.StringVar(&role, "role", "", "admin, editor, operator or viewer")
	fs.StringVar(&name, "name", "", "the user's name")
	if err := s.storeFlags(fs); err != nil {
		return err
	}
	if err := fs.parse(args, 1); err != nil {
		return err
	}
	switch {
	case admin && role != "" && role != store.RoleAdmin:
		return fs.usage("-admin and -role %s contradict each other", role)
	case admin:
		role = store.RoleAdmin
	case role == "":
		return fs.usage("say which role: -admin or -role editor|operator|viewer")
	}
	password, generated := os.Getenv("OPSFLOW_PASSWORD"), false
	if password == "" {
		password, generated = newPassword(), true
	}
	e, err := offlineEngine(s)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx := context.Background()
	svc := auth.New(e.Store.DB, auth.Config{})
	u, err := svc.CreateUser(ctx, fs.Arg(0), name, role, password)
	if err != nil {
		return err
	}
	if err := svc.Record(ctx, cliActor, auth.Entry{Action: "user.created", ObjectType: "user", ObjectID: u.ID, ObjectName: u.Email, Diff: map[string]string{"role": role}}); err != nil {
		return err
	}
	fmt.Fprintf(out, "created %s %s (%s)\n", u.Role, u.Email, u.ID)
	if generated {
		fmt.Fprintf(out, "password: %s\n(shown once; change it after signing in)\n", password)
	}
	return nil
}

func newPassword() string {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// keysCommand: opsflow keys rotate re-seals every credential under OPSFLOW_SECRET_KEY, reading
// those still under OPSFLOW_SECRET_KEY_OLD.
func keysCommand(args []string, out io.Writer) error {
	return subcommands(out, "keys", args, map[string]func([]string, io.Writer) error{"rotate": rotateKeys})
}

func rotateKeys(args []string, out io.Writer) error {
	s := &settings{}
	fs := newFlags(out, "keys rotate", "[flags]",
		"Re-encrypt every credential under OPSFLOW_SECRET_KEY (the new key), reading those under OPSFLOW_SECRET_KEY_OLD (the old one).")
	if err := s.storeFlags(fs); err != nil {
		return err
	}
	if err := fs.parse(args, 0); err != nil {
		return err
	}
	if os.Getenv("OPSFLOW_SECRET_KEY") == "" || os.Getenv("OPSFLOW_SECRET_KEY_OLD") == "" {
		return errors.New("set OPSFLOW_SECRET_KEY to the new key and OPSFLOW_SECRET_KEY_OLD to the old one (for the embedded default, the old key is in the data dir's secret.key); see docs/security.md")
	}
	e, err := offlineEngine(s)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx := context.Background()
	n, err := e.RotateCredentials(ctx)
	if err != nil {
		return err
	}
	svc := auth.New(e.Store.DB, auth.Config{})
	if err := svc.Record(ctx, cliActor, auth.Entry{Action: "settings.key_rotated", ObjectType: "settings", ObjectID: "secret_key", Diff: map[string]int{"credentials_resealed": n}}); err != nil {
		return err
	}
	fmt.Fprintf(out, "re-encrypted %d credential(s) under the new key; OPSFLOW_SECRET_KEY_OLD can now be removed\n", n)
	return nil
}

// bootstrap makes sure someone can sign in: OPSFLOW_BOOTSTRAP_ADMIN_EMAIL/_PASSWORD create the
// first admin unattended; otherwise an empty store gets a one-time setup link, printed.
func bootstrap(e *engine.Engine, log *slog.Logger, baseURL string, out io.Writer) error {
	ctx := context.Background()
	svc := auth.New(e.Store.DB, auth.Config{})
	need, err := svc.NeedsSetup(ctx)
	if err != nil || !need {
		return err
	}
	if email := os.Getenv("OPSFLOW_BOOTSTRAP_ADMIN_EMAIL"); email != "" {
		pw := os.Getenv("OPSFLOW_BOOTSTRAP_ADMIN_PASSWORD")
		if pw == "" {
			return errors.New("OPSFLOW_BOOTSTRAP_ADMIN_EMAIL needs OPSFLOW_BOOTSTRAP_ADMIN_PASSWORD")
		}
		u, err := svc.CreateUser(ctx, email, "", store.RoleAdmin, pw)
		if err != nil {
			var ae *auth.Error
			if errors.As(err, &ae) && ae.Code == "conflict" { // another process made it first
				return nil
			}
			return fmt.Errorf("OPSFLOW_BOOTSTRAP_ADMIN_*: %w", err)
		}
		log.Info("created the first admin from OPSFLOW_BOOTSTRAP_ADMIN_EMAIL", "email", u.Email)
		return svc.Record(ctx, auth.Actor{Kind: "system", ID: "bootstrap", Name: "OPSFLOW_BOOTSTRAP_ADMIN_EMAIL"},
			auth.Entry{Action: "user.created", ObjectType: "user", ObjectID: u.ID, ObjectName: u.Email, Diff: map[string]string{"role": u.Role}})
	}
	token, err := svc.NewSetupToken(ctx)
	if err != nil || token == "" {
		return err
	}
	// The token is not for the JSON log on stderr (logs are shipped and kept): the link goes to
	// standard output, the terminal of whoever started opsflow, and the log only says where it is.
	log.Warn("no users yet: the one-time setup link to create the first admin is printed on standard output")
	fmt.Fprintf(out, "\nNo users yet. To create the first admin, open within 24 hours:\n\n    %s/setup?token=%s\n\n(or run: opsflow users create -admin EMAIL)\n\n", baseURL, token)
	return nil
}
