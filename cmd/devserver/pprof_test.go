package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestPprofIsOffByDefaultAndLoopbackOnly(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	bound, stop, err := servePprof("", &callCounts{}, logger)
	if err != nil || bound != "" {
		t.Fatalf("off: %q, %v", bound, err)
	}
	stop()
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:0"} {
		if _, _, err := servePprof(addr, &callCounts{}, logger); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("servePprof(%q) = %v, want a refusal naming loopback", addr, err)
		}
	}
}

func TestPprofServesProfilesAndCalls(t *testing.T) {
	calls := &callCounts{counts: map[string]int{"DynamoDB GetItem": 3}}
	bound, stop, err := servePprof("127.0.0.1:0", calls, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for path, want := range map[string]string{"/debug/calls": "DynamoDB GetItem 3\n", "/debug/pprof/": "goroutine"} {
		resp, err := http.Get("http://" + bound + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d %q, want 200 with %q", path, resp.StatusCode, b, want)
		}
	}
}
