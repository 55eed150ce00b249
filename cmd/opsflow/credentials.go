package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/opsflow/opsflow/engine/auth"
	"github.com/opsflow/opsflow/engine/store"
)

// stdin is where "credentials create" reads secret data by default (tests replace it).
var stdin io.Reader = os.Stdin

// credentialsCommand: opsflow credentials list|create|delete, for admins who script. Secret data
// is read from standard input or a file, never from a flag (flags show in ps), and never printed.
func credentialsCommand(args []string, out io.Writer) error {
	return subcommands(out, "credentials", args, map[string]func([]string, io.Writer) error{
		"list": listCredentials, "create": createCredential, "delete": deleteCredential,
	})
}

func listCredentials(args []string, out io.Writer) error {
	fs := newFlags(out, "credentials list", "[flags]", "List the credentials: id, name, type, last change. Secrets are never shown.")
	e, _, err := openOffline(fs, args, 0)
	if err != nil {
		return err
	}
	defer e.Close()
	list, err := e.ListCredentials(context.Background())
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTYPE\tUPDATED")
	for _, c := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Name, c.Type, c.UpdatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func createCredential(args []string, out io.Writer) error {
	var typ, dataFile string
	s := &settings{}
	fs := newFlags(out, "credentials create", "-type TYPE [-data-file FILE] NAME",
		"Store a credential. Its data, a JSON object of strings such as {\"account_sid\":\"AC…\",\"auth_token\":\"…\"}, is read from\n"+
			"standard input or -data-file, encrypted, and never printed. The types and their fields: GET /api/v1/credential-types.")
	fs.StringVar(&typ, "type", "", "credential type, e.g. twilio, smtp, stripe, hubspot")
	fs.StringVar(&dataFile, "data-file", "", "read the JSON data from this file instead of standard input")
	if err := s.storeFlags(fs); err != nil {
		return err
	}
	if err := fs.parse(args, 1); err != nil {
		return err
	}
	if typ == "" {
		return fs.usage("say the credential's type with -type")
	}
	data, err := readCredentialData(dataFile)
	if err != nil {
		return err
	}
	e, err := offlineEngine(s)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx := context.Background()
	c, err := e.CreateCredential(ctx, fs.Arg(0), typ, data)
	if err != nil {
		if store.IsUniqueViolation(err) {
			return fmt.Errorf("a credential named %q exists already (see: opsflow credentials list)", fs.Arg(0))
		}
		return err
	}
	// The audit row names the fields, never their values (as the API's does).
	if err := auth.New(e.Store.DB, auth.Config{}).Record(ctx, cliActor, auth.Entry{Action: "credential.created", ObjectType: "credential",
		ObjectID: c.ID, ObjectName: c.Name, Diff: map[string]any{"type": c.Type, "fields": slices.Sorted(maps.Keys(data))}}); err != nil {
		return err
	}
	fmt.Fprintf(out, "created credential %s (%s) %s\n", c.Name, c.Type, c.ID)
	return nil
}

// readCredentialData reads a JSON object of strings from file, or standard input when file is
// empty or "-". Errors say where, never what was read: it is secret.
func readCredentialData(file string) (map[string]string, error) {
	src, where := stdin, "standard input"
	if file != "" && file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("-data-file: %w", err)
		}
		defer f.Close()
		src, where = f, file
	}
	b, err := io.ReadAll(io.LimitReader(src, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the credential data from %s: %w", where, err)
	}
	var data map[string]string
	if err := json.Unmarshal(b, &data); err != nil || len(data) == 0 {
		detail := ""
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			detail = fmt.Sprintf(" (invalid JSON at byte %d)", syn.Offset)
		}
		return nil, fmt.Errorf("the credential data from %s must be a non-empty JSON object of strings%s", where, detail)
	}
	return data, nil
}

func deleteCredential(args []string, out io.Writer) error {
	fs := newFlags(out, "credentials delete", "[flags] ID|NAME", "Delete a credential. Flows that use it fail at that step until they get another one.")
	e, s, err := openOffline(fs, args, 1)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx := context.Background()
	c, err := e.DeleteCredential(ctx, fs.Arg(0))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no credential with id or name %q in %s; list them with: opsflow credentials list", fs.Arg(0), s.storeName())
	}
	if err != nil {
		return err
	}
	if err := auth.New(e.Store.DB, auth.Config{}).Record(ctx, cliActor, auth.Entry{Action: "credential.deleted", ObjectType: "credential",
		ObjectID: c.ID, ObjectName: c.Name, Diff: map[string]string{"type": c.Type}}); err != nil {
		return err
	}
	fmt.Fprintf(out, "deleted credential %s (%s) %s\n", c.Name, c.Type, c.ID)
	return nil
}
