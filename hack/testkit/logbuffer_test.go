package testkit

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestLogBufferKeepsEveryLineOfConcurrentWriters(t *testing.T) {
	t.Parallel()
	var buf LogBuffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	const writers, lines = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				log.Info("line", slog.Int("writer", w), slog.Int("i", i))
			}
		})
	}
	wg.Wait()
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	for w := range writers {
		for i := range lines {
			want := fmt.Sprintf(`"writer":%d,"i":%d}`, w, i)
			if !strings.Contains(buf.String(), want) {
				t.Fatalf("no line ending %s", want)
			}
		}
	}
}
