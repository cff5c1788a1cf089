package main

import (
	"fmt"
	"regexp"
	"strings"
)

// A release's heading in Keep a Changelog's format: ## [1.2.3] - 2026-12-02.
var releaseHeading = regexp.MustCompile(`^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?\s*$`)

// A link reference definition, such as [1.2.3]: https://..., which ends the last section.
var linkDefinition = regexp.MustCompile(`^\[[^\]]+\]:\s`)

// releaseNotes returns the body of version's section of a changelog. A release whose
// section is missing, undated or empty fails, so that no tag is released before its
// changelog entry is written.
func releaseNotes(changelog, version string) (string, error) {
	want := strings.TrimPrefix(version, "v")
	var body []string
	found := false
	for _, line := range strings.Split(changelog, "\n") {
		m := releaseHeading.FindStringSubmatch(line)
		if found && (m != nil || linkDefinition.MatchString(line)) {
			break
		}
		if found {
			body = append(body, line)
			continue
		}
		if m != nil && m[1] == want {
			if m[2] == "" {
				return "", fmt.Errorf("the heading of %s has no date: write ## [%s] - YYYY-MM-DD", want, want)
			}
			found = true
		}
	}
	if !found {
		return "", fmt.Errorf("no section ## [%s] - YYYY-MM-DD: move the Unreleased entries under it", want)
	}
	notes := strings.TrimSpace(strings.Join(body, "\n"))
	if notes == "" {
		return "", fmt.Errorf("the section of %s is empty", want)
	}
	return notes + "\n", nil
}
