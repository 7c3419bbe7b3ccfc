package web

import (
	"sync"
	"testing"
)

func TestSlots(t *testing.T) {
	t.Parallel()
	s := NewSlots(2)
	r1, ok1 := s.Take("a")
	r2, ok2 := s.Take("a")
	if !ok1 || !ok2 {
		t.Fatal("refused within the cap")
	}
	if _, ok := s.Take("a"); ok {
		t.Fatal("a third slot at once")
	}
	if _, ok := s.Take("b"); !ok {
		t.Fatal("another key is capped too")
	}
	r1()
	r1() // twice is once
	if s.Running("a") != 1 {
		t.Fatalf("running = %d after one release (released twice), want 1", s.Running("a"))
	}
	r3, ok := s.Take("a")
	if !ok {
		t.Fatal("no slot back after a release")
	}
	r2()
	r3()
	if len(s.running) != 1 { // only "b" is left
		t.Errorf("keys kept: %v, want only the running one", s.running)
	}
}

func TestSlotsConcurrent(t *testing.T) {
	t.Parallel()
	s := NewSlots(3)
	var mu sync.Mutex
	var wg sync.WaitGroup
	most := 0
	for range 50 {
		wg.Go(func() {
			release, ok := s.Take("k")
			if !ok {
				return
			}
			mu.Lock()
			most = max(most, s.Running("k"))
			mu.Unlock()
			release()
		})
	}
	wg.Wait()
	if most > 3 || s.Running("k") != 0 || len(s.running) != 0 {
		t.Errorf("at most %d running (cap 3), %d left, %d keys", most, s.Running("k"), len(s.running))
	}
}
