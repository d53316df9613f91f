package main

import (
	"strings"
	"testing"
)

func TestConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		cfg  config
		want string
	}{
		{config{addr: "127.0.0.1:0", loops: 0, bufSize: 1}, "-loops 0"},
		{config{addr: "127.0.0.1:0", loops: 1, bufSize: 0}, "-buf 0"},
		{config{addr: "localhost:7000", loops: 1, bufSize: 1}, "not resolved"},
		{config{addr: "127.0.0.1", loops: 1, bufSize: 1}, "-addr"},
	} {
		s, err := newServer(tc.cfg)
		if err == nil {
			s.stop()
			s.run()
			t.Errorf("newServer(%+v) succeeded", tc.cfg)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("newServer(%+v): %v, want it to mention %q", tc.cfg, err, tc.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int{
		"1": 1, "65536": 65536, "16KiB": 16 << 10, "16k": 16 << 10, "16 KiB": 16 << 10,
		"2M": 2 << 20, "1MiB": 1 << 20, "100b": 100, "1024MiB": 1 << 30,
	} {
		var b byteSize
		if err := b.Set(in); err != nil || int(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, b, err, want)
		}
		var back byteSize
		if err := back.Set(b.String()); err != nil || back != b {
			t.Errorf("Set(%q.String() = %q) = %d, %v", in, b.String(), back, err)
		}
	}
	for _, in := range []string{"", "-1", "1.5K", "KiB", "16GiB", "1025MiB", "12x"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("Set(%q) = %d, want an error", in, b)
		}
	}
}

func TestParseFlags(t *testing.T) {
	cfg := parseFlags([]string{"-addr", "unix:@echo-test", "-loops", "1", "-buf", "16KiB"})
	if cfg.addr != "unix:@echo-test" || cfg.loops != 1 || cfg.bufSize != 16<<10 || cfg.log == nil {
		t.Errorf("parseFlags gave %+v", cfg)
	}
	cfg = parseFlags(nil)
	if cfg.addr != defaultAddr || cfg.loops != defaultLoops || cfg.bufSize != defaultBufSize {
		t.Errorf("defaults are %+v", cfg)
	}
}
