package main

import (
	"strings"
	"testing"
	"time"
)

func TestRedriveHelp(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run([]string{"redrive", "-h"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("redrive -h: exit %d\n%s", code, stderr.String())
	}
	for _, want := range []string{"usage: sluice redrive FUNCTION", "exactly once", "-again", "-since", "-s3-endpoint", "through its control"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("redrive -h lacks %q:\n%s", want, stderr.String())
		}
	}
	stderr.Reset()
	if code := run([]string{"redrive"}, strings.NewReader(""), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "no function given") {
		t.Errorf("redrive without a function: exit %d\n%s", code, stderr.String())
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"1h":                   now.Add(-time.Hour),
		"2026-11-26T10:00:00Z": time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
	} {
		if got, err := parseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseSince("yesterday", now); err == nil {
		t.Error("parseSince accepted \"yesterday\"")
	}
}
