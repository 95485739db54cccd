package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/deltasync/deltasync/change"
	"github.com/deltasync/deltasync/changelog"
	"github.com/deltasync/deltasync/conflicts"
	"github.com/deltasync/deltasync/internal/sqlitefile"
	"github.com/deltasync/deltasync/schema"
)

// ConflictsCommand lists, resolves and clears recorded conflicts: writes
// that lost to a concurrent write on another node.
type ConflictsCommand struct{ m *Main }

func (c *ConflictsCommand) Run(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "resolve":
			return c.resolve(ctx, args[1:])
		case "clear":
			return c.clear(ctx, args[1:])
		}
	}
	return c.list(ctx, args)
}

// list prints the conflicts, one block (or, with --json, one JSON object) per conflict.
func (c *ConflictsCommand) list(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("conflicts", flag.ContinueOnError)
	table := fs.String("table", "", "only the conflicts of this table")
	asJSON := fs.Bool("json", false, "print one JSON object per conflict, values tagged with their storage class")
	pos, err := c.m.parse(fs, args, 1, "DB")
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(c.m.Stdout, "also:  deltasync conflicts resolve DB ID --keep local|remote|value=JSON\n"+
			"       deltasync conflicts clear DB [--before TIME]\n")
	}
	if err != nil {
		return err
	}
	db, err := sqlitefile.Open(ctx, pos[0], sqlitefile.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer db.Close()
	cs, site, err := readConflicts(ctx, db, conflicts.Filter{Table: *table})
	if err != nil {
		return sqlitefile.Explain(pos[0], err)
	}
	if *asJSON {
		enc := json.NewEncoder(c.m.Stdout)
		for _, cf := range cs {
			if err := enc.Encode(conflictJSON(cf, site)); err != nil {
				return err
			}
		}
		return nil
	}
	if len(cs) == 0 {
		fmt.Fprintln(c.m.Stderr, "no conflicts")
		return nil
	}
	for i, cf := range cs {
		if i > 0 {
			fmt.Fprintln(c.m.Stdout)
		}
		printConflict(c.m.Stdout, cf, site)
	}
	return nil
}

// readConflicts returns the conflicts f selects and the node's site id.
func readConflicts(ctx context.Context, db *sqlx.DB, f conflicts.Filter) ([]conflicts.Conflict, change.SiteID, error) {
	site, err := changelog.New(db).SiteID(ctx)
	if err != nil {
		return nil, site, err
	}
	cs, err := conflicts.List(ctx, db, f)
	return cs, site, err
}

// printConflict prints one conflict:
//
//	conflict 3  2026-05-01T10:00:00.123Z  update  "items" key ('x')  unresolved
//	  "title"  lost  'from a'  site 1a2b3c4d (this device)  written 2026-05-01T10:00:00.100Z
//	           won   'from b'  site 5e6f7a8b  written 2026-05-01T10:00:00.120Z
func printConflict(w io.Writer, cf conflicts.Conflict, site change.SiteID) {
	state := "unresolved"
	if !cf.Resolved.IsZero() {
		state = fmt.Sprintf("resolved %s, kept %s", cf.Resolved.Format(timeMS), cf.Resolution)
	}
	fmt.Fprintf(w, "conflict %d  %s  %s  %s key %s  %s\n", cf.ID, cf.At.Format(timeMS), cf.Kind,
		schema.Ident(cf.Table), change.KeyLiteral(cf.Key), state)
	width := 0
	names := make([]string, len(cf.Columns))
	for i, col := range cf.Columns {
		names[i] = "(row)"
		if col.Column != "" {
			names[i] = schema.Ident(col.Column)
		}
		width = max(width, len(names[i]))
	}
	for i, col := range cf.Columns {
		lost, won := sideText(col.Lost, col.LostDeleted), sideText(col.Won, col.WonDeleted)
		vw := max(len(lost), len(won))
		fmt.Fprintf(w, "  %-*s  lost  %-*s  %s\n", width, names[i], vw, lost, clockText(col.LostClock, site))
		fmt.Fprintf(w, "  %-*s  won   %-*s  %s\n", width, "", vw, won, clockText(col.WonClock, site))
	}
}

func sideText(v any, deleted bool) string {
	if deleted {
		return "deleted"
	}
	return change.Literal(v)
}

func clockText(c change.Clock, self change.SiteID) string {
	s := "site " + shortSite(c.Site)
	if c.Site == self {
		s += " (this device)"
	}
	return s + "  written " + c.HLC.Time().Format(timeMS)
}

// timeMS is RFC 3339 with milliseconds, the precision of HLCs and conflict times.
const timeMS = "2006-01-02T15:04:05.000Z07:00"

func shortSite(s change.SiteID) string { return s.String()[:8] }

type jsonConflict struct {
	ID         int64                `json:"id"`
	At         string               `json:"at"`
	Table      string               `json:"table"`
	Key        []map[string]any     `json:"key"`
	Kind       string               `json:"kind"`
	Resolved   bool                 `json:"resolved"`
	ResolvedAt string               `json:"resolved_at,omitempty"`
	Resolution string               `json:"resolution,omitempty"`
	Columns    []jsonConflictColumn `json:"columns"`
}

type jsonConflictColumn struct {
	Column string   `json:"column"` // "": the row's existence
	Lost   jsonSide `json:"lost"`
	Won    jsonSide `json:"won"`
}

type jsonSide struct {
	Value   map[string]any `json:"value"` // null when this side deleted the row
	Deleted bool           `json:"deleted,omitempty"`
	Site    string         `json:"site"`
	Local   bool           `json:"local"` // written on this node
	HLC     string         `json:"hlc"`   // a string: it does not fit a JSON number exactly
	Time    string         `json:"time"`  // the HLC's wall-clock part
}

func conflictJSON(cf conflicts.Conflict, self change.SiteID) jsonConflict {
	out := jsonConflict{ID: cf.ID, At: cf.At.Format(timeMS), Table: cf.Table, Kind: cf.Kind,
		Resolved: !cf.Resolved.IsZero(), Resolution: cf.Resolution, Key: []map[string]any{}, Columns: []jsonConflictColumn{}}
	if out.Resolved {
		out.ResolvedAt = cf.Resolved.Format(timeMS)
	}
	for _, k := range cf.Key {
		out.Key = append(out.Key, jsonValue(k))
	}
	side := func(v any, deleted bool, c change.Clock) jsonSide {
		s := jsonSide{Deleted: deleted, Site: c.Site.String(), Local: c.Site == self,
			HLC: strconv.FormatUint(uint64(c.HLC), 10), Time: c.HLC.Time().Format(timeMS)}
		if !deleted {
			s.Value = jsonValue(v)
		}
		return s
	}
	for _, col := range cf.Columns {
		out.Columns = append(out.Columns, jsonConflictColumn{Column: col.Column,
			Lost: side(col.Lost, col.LostDeleted, col.LostClock), Won: side(col.Won, col.WonDeleted, col.WonClock)})
	}
	return out
}

// resolve settles one conflict with conflicts.Resolve: a local write that syncs like any other.
func (c *ConflictsCommand) resolve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("conflicts resolve", flag.ContinueOnError)
	keepFlag := fs.String("keep", "", "local, remote, or value=JSON (a JSON object by column, or one value for a one-column conflict)")
	busy := fs.Duration("busy-timeout", sqlitefile.DefaultBusyTimeout, "how long to wait for another writer's lock")
	pos, err := c.m.parse(fs, args, 2, "DB ID")
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(pos[1], 10, 64)
	if err != nil || id <= 0 {
		return usageError{fmt.Sprintf("conflicts resolve: ID %q is not a conflict id: `deltasync conflicts %s` lists them", pos[1], pos[0])}
	}
	given, err := parseKeep(*keepFlag)
	if err != nil {
		return usageError{"conflicts resolve: --keep: " + err.Error()}
	}
	db, err := sqlitefile.Open(ctx, pos[0], sqlitefile.Options{BusyTimeout: *busy})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := requireInstalled(ctx, db); err != nil {
		return err
	}
	cs, site, err := readConflicts(ctx, db, conflicts.Filter{Events: []int64{id}})
	if err != nil {
		return sqlitefile.Explain(pos[0], err)
	}
	if len(cs) == 0 {
		return fmt.Errorf("%w %d: `deltasync conflicts %s` lists them", conflicts.ErrNoConflict, id, pos[0])
	}
	keep, err := given.forConflict(cs[0])
	if err != nil {
		return err
	}
	if err := conflicts.Resolve(ctx, db, site, id, keep); err != nil {
		return sqlitefile.Explain(pos[0], err)
	}
	fmt.Fprintf(c.m.Stdout, "conflict %d resolved: kept %s; it reaches other devices on the next sync\n", id, *keepFlag)
	return nil
}

func requireInstalled(ctx context.Context, db *sqlx.DB) error {
	ok, err := changelog.Installed(ctx, db)
	if err != nil {
		return err
	}
	if !ok {
		return changelog.ErrNotInstalled
	}
	return nil
}

// keepArg is a parsed --keep: a side, or the values of --keep value=JSON.
type keepArg struct {
	side    string
	columns map[string]any // a JSON object read as values by column
	single  any            // a bare JSON value, or an object read as one typed value
	isOne   bool           // single is set
}

// parseKeep parses --keep local|remote|value=JSON.
func parseKeep(s string) (keepArg, error) {
	switch s {
	case "":
		return keepArg{}, errors.New("required: local, remote or value=JSON")
	case "local", "remote":
		return keepArg{side: s}, nil
	}
	text, ok := strings.CutPrefix(s, "value=")
	if !ok {
		return keepArg{}, fmt.Errorf("%q: use local, remote or value=JSON", s)
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return keepArg{}, fmt.Errorf("value=%s is not JSON: %v", text, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return keepArg{}, fmt.Errorf("value=%s: more than one JSON value; give one object {\"column\": value, ...}", text)
	}
	k := keepArg{side: "value"}
	obj, isObj := v.(map[string]any)
	if isObj && !typedForm(obj) {
		k.columns = map[string]any{}
		for name, jv := range obj {
			sv, err := sqlValue(jv)
			if err != nil {
				return keepArg{}, fmt.Errorf("value of column %s: %w", schema.Ident(name), err)
			}
			k.columns[name] = sv
		}
		return k, nil
	}
	sv, err := sqlValue(v)
	if err != nil {
		return keepArg{}, err
	}
	k.single, k.isOne = sv, true
	if isObj {
		// {"text": "x"} is a typed value, unless the conflict has a column of
		// that name: then it may also be values by column (forConflict decides).
		for name, jv := range obj {
			if cv, err := sqlValue(jv); err == nil {
				k.columns = map[string]any{name: cv}
			}
		}
	}
	return k, nil
}

// forConflict returns the Keep that resolves cf as k says.
func (k keepArg) forConflict(cf conflicts.Conflict) (conflicts.Keep, error) {
	if k.side != "value" {
		return conflicts.Keep{Side: k.side}, nil
	}
	var cols []string
	for _, col := range cf.Columns {
		if col.Column != "" {
			cols = append(cols, col.Column)
		}
	}
	if len(cols) == 0 {
		return conflicts.Keep{}, fmt.Errorf("conflict %d is about the row's existence, not a column's value: use --keep local or --keep remote", cf.ID)
	}
	quoted := make([]string, len(cols))
	for i, name := range cols {
		quoted[i] = schema.Ident(name)
	}
	if k.columns != nil && allColumns(k.columns, cols) {
		// A row that lost a UNIQUE collision goes back as it was but for
		// the values given.
		if len(k.columns) != len(cols) && cf.Kind != conflicts.KindUnique {
			return conflicts.Keep{}, fmt.Errorf("conflict %d has columns %s: give a value for each", cf.ID, strings.Join(quoted, ", "))
		}
		return conflicts.Keep{Side: "value", Values: k.columns}, nil
	}
	if k.isOne {
		if len(cols) != 1 {
			return conflicts.Keep{}, fmt.Errorf("conflict %d has columns %s: give an object with a value for each, such as {%q: ...}", cf.ID, strings.Join(quoted, ", "), cols[0])
		}
		return conflicts.Keep{Side: "value", Values: map[string]any{cols[0]: k.single}}, nil
	}
	var unknown []string
	for name := range k.columns {
		if !contains(cols, name) {
			unknown = append(unknown, schema.Ident(name))
		}
	}
	sort.Strings(unknown)
	return conflicts.Keep{}, fmt.Errorf("conflict %d has no column %s; its columns: %s", cf.ID, strings.Join(unknown, ", "), strings.Join(quoted, ", "))
}

func allColumns(vals map[string]any, cols []string) bool {
	for name := range vals {
		if !contains(cols, name) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// typedForm reports whether obj is a value as jsonValue prints it: one key naming a storage class.
func typedForm(obj map[string]any) bool {
	if len(obj) != 1 {
		return false
	}
	for k := range obj {
		switch k {
		case "null", "integer", "real", "text", "text_hex", "blob_hex":
			return true
		}
	}
	return false
}

// sqlValue converts a JSON value, decoded with UseNumber, to the value
// SQLite stores: null is NULL; a number is an INTEGER if it is written
// without fraction or exponent and fits int64, else a REAL; a string is
// TEXT; and the typed forms jsonValue prints keep their storage class exactly.
func sqlValue(v any) (any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return v, nil
	case json.Number:
		return numberValue(string(v))
	case bool:
		return nil, fmt.Errorf("%v: SQLite has no booleans; give 1 or 0", v)
	case []any:
		return nil, errors.New("an array is not a value: give null, a number, a string or a typed value such as {\"blob_hex\": \"00ff\"}")
	case map[string]any:
		if !typedForm(v) {
			return nil, errors.New(`an object is not a value: use one of {"integer": "5"}, {"real": "0.5"}, {"text": "x"}, {"text_hex": "00"}, {"blob_hex": "00ff"}, {"null": true}`)
		}
		return typedValue(v)
	}
	return nil, fmt.Errorf("unexpected JSON value %v", v)
}

func numberValue(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("number %s does not fit a REAL", s)
	}
	return f, nil
}

func typedValue(obj map[string]any) (any, error) {
	for class, raw := range obj {
		if class == "null" {
			if raw != true {
				return nil, errors.New(`{"null": ...} takes true`)
			}
			return nil, nil
		}
		var s string
		switch raw := raw.(type) {
		case string:
			s = raw
		case json.Number:
			if class != "integer" && class != "real" {
				return nil, fmt.Errorf("{%q: ...} takes a string", class)
			}
			s = string(raw)
		default:
			return nil, fmt.Errorf("{%q: ...} takes a string", class)
		}
		switch class {
		case "integer":
			i, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("{\"integer\": %q}: not a 64-bit integer", s)
			}
			return i, nil
		case "real":
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(f) {
				return nil, fmt.Errorf("{\"real\": %q}: not a REAL (SQLite stores no NaN)", s)
			}
			return f, nil
		case "text":
			return s, nil
		case "text_hex", "blob_hex":
			b, err := hex.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("{%q: %q}: not hex: %v", class, s, err)
			}
			if class == "text_hex" {
				return string(b), nil
			}
			return bytes.Clone(b), nil
		}
	}
	return nil, errors.New("empty typed value")
}

// clear deletes conflicts recorded before a time, or all of them.
func (c *ConflictsCommand) clear(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("conflicts clear", flag.ContinueOnError)
	beforeFlag := fs.String("before", "", "only conflicts recorded before this time: RFC 3339 or YYYY-MM-DD (midnight UTC)")
	busy := fs.Duration("busy-timeout", sqlitefile.DefaultBusyTimeout, "how long to wait for another writer's lock")
	pos, err := c.m.parse(fs, args, 1, "DB")
	if err != nil {
		return err
	}
	var before time.Time
	if *beforeFlag != "" {
		if before, err = parseTime(*beforeFlag); err != nil {
			return usageError{"conflicts clear: --before: " + err.Error()}
		}
	}
	db, err := sqlitefile.Open(ctx, pos[0], sqlitefile.Options{BusyTimeout: *busy})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := requireInstalled(ctx, db); err != nil {
		return sqlitefile.Explain(pos[0], err)
	}
	n, err := conflicts.Clear(ctx, db, before)
	if err != nil {
		return sqlitefile.Explain(pos[0], err)
	}
	fmt.Fprintf(c.m.Stdout, "deleted %d conflicts\n", n)
	return nil
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: use RFC 3339 (2026-05-01T12:00:00Z) or YYYY-MM-DD", s)
}
