package web

import "sync"

// Slots caps how many things each key (a session, a client address) has
// running at once in this process, such as downloads: a rate limit
// bounds how often something starts, Slots how many run together, which
// is what a client that opens connections and never reads them uses up.
// A key's count is forgotten when it drops to zero, so memory follows
// what is running, not who ever came.
type Slots struct {
	mu      sync.Mutex
	max     int
	running map[string]int
}

// NewSlots allows max at once per key.
func NewSlots(max int) *Slots {
	return &Slots{max: max, running: map[string]int{}}
}

// Take takes one of key's slots. ok is false when all are taken; else
// release gives the slot back, once (further calls do nothing).
func (s *Slots) Take(key string) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[key] >= s.max {
		return nil, false
	}
	s.running[key]++
	var once sync.Once
	return func() { once.Do(func() { s.give(key) }) }, true
}

func (s *Slots) give(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[key]--; s.running[key] <= 0 {
		delete(s.running, key)
	}
}

// Running is how many slots key holds now.
func (s *Slots) Running(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[key]
}
