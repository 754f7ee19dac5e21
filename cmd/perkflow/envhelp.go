package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/perkflow/perkflow/internal/config"
)

// envAnnotation holds, on a command, the environment variables it reads (names separated by spaces, or allEnv).
const envAnnotation = "perkflow/env"

// allEnv is the annotation of the commands that run the service (api, worker, dev): they read every variable.
const allEnv = "*"

// envTemplate ends every command's usage with the environment variables it reads.
const envTemplate = `{{with envHelp .}}
Environment:
{{.}}{{end}}`

func init() { cobra.AddTemplateFunc("envHelp", envHelp) }

// readsEnv records on c the variables it reads, for its --help; every name must be declared in internal/config.
func readsEnv(c *cobra.Command, names ...string) *cobra.Command {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[envAnnotation] = strings.Join(names, " ")
	return c
}

// envVars are the declared variables c reads, in the order given.
func envVars(c *cobra.Command) []config.Var {
	names := strings.Fields(c.Annotations[envAnnotation])
	if len(names) == 1 && names[0] == allEnv {
		return config.Vars
	}
	var out []config.Var
	for _, n := range names {
		out = append(out, declaredVar(n))
	}
	return out
}

func declaredVar(name string) config.Var {
	for _, v := range config.Vars {
		if v.Name == name {
			return v
		}
	}
	panic("perkflow: command reads undeclared variable " + name)
}

// envHelp lists c's variables with their defaults and what they do ("" when it reads none).
func envHelp(c *cobra.Command) string {
	var b strings.Builder
	for _, v := range envVars(c) {
		b.WriteString("  " + v.Name)
		if v.Default != "" {
			b.WriteString(" (default " + v.Default + ")")
		}
		b.WriteString("\n      " + strings.ReplaceAll(v.Doc, "`", "") + "\n")
	}
	return b.String()
}
