package options

import (
	"strings"
)

// Markdown renders the table for the README: one row per option, then
// --config (sets with ConfigFile) and --check-config. Columns: flag (with
// "list", "repeatable" and "secret" notes), environment variable, file key
// (sets with ConfigFile only), default (DocDefault, or Default as code) and
// meaning (Usage).
func (s Set) Markdown() string {
	var b strings.Builder
	row := func(cells ...string) {
		for i, c := range cells {
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	code := func(s string) string {
		if s == "" {
			return ""
		}
		return "`" + s + "`"
	}
	if s.ConfigFile {
		row("flag", "env", "file key", "default", "meaning")
		row("---", "---", "---", "---", "---")
	} else {
		row("flag", "env", "default", "meaning")
		row("---", "---", "---", "---")
	}
	line := func(flag, env, key, def, usage string) {
		if s.ConfigFile {
			row(flag, env, key, def, usage)
		} else {
			row(flag, env, def, usage)
		}
	}
	for _, o := range s.Options {
		flag := code("--" + o.Name)
		var notes []string
		if o.IsList() {
			notes = append(notes, code(o.sep())+"-separated list")
			if o.Repeatable {
				notes = append(notes, "repeatable")
			}
		}
		if o.Secret() {
			notes = append(notes, "secret")
		}
		if len(notes) > 0 {
			flag += " (" + strings.Join(notes, ", ") + ")"
		}
		def := o.DocDefault
		if def == "" {
			def = code(o.Default)
		}
		key := code(FileKey(o.Name))
		if o.FlagOnly {
			key = ""
		}
		line(flag, code(s.EnvVar(o)), key, def, o.Usage)
	}
	if s.ConfigFile {
		line(code("--"+configName), code(s.configEnv()), "", "", configHelp)
	}
	line(code("--"+checkConfigName), "", "", "", checkConfigHelp)
	return b.String()
}
