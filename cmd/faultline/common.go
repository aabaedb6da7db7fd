package main

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
)

// Shared by the full build and the guest agent build (-tags faultline_agent).

var errUsage = errors.New("usage")

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func printJSON(v any) int {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fail(err)
	}
	return exitOK
}
