package imaptest

import (
	"sync"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/backend"
)

// The in-memory backend keeps its folders in plain maps and slices: two
// connections at once (the poller's and a test's) would race. These
// wrappers run every backend call under one lock.

type lockedBackend struct {
	mu   *sync.Mutex
	next backend.Backend
}

func (b lockedBackend) Login(ci *imap.ConnInfo, user, pass string) (backend.User, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, err := b.next.Login(ci, user, pass)
	if err != nil {
		return nil, err
	}
	return lockedUser{mu: b.mu, next: u}, nil
}

type lockedUser struct {
	mu   *sync.Mutex
	next backend.User
}

func (u lockedUser) Username() string { return u.next.Username() }

func (u lockedUser) ListMailboxes(subscribed bool) ([]backend.Mailbox, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	list, err := u.next.ListMailboxes(subscribed)
	for i, m := range list {
		list[i] = lockedMailbox{mu: u.mu, next: m}
	}
	return list, err
}

func (u lockedUser) GetMailbox(name string) (backend.Mailbox, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	m, err := u.next.GetMailbox(name)
	if err != nil {
		return nil, err
	}
	return lockedMailbox{mu: u.mu, next: m}, nil
}

func (u lockedUser) CreateMailbox(name string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.next.CreateMailbox(name)
}

func (u lockedUser) DeleteMailbox(name string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.next.DeleteMailbox(name)
}

func (u lockedUser) RenameMailbox(from, to string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.next.RenameMailbox(from, to)
}

func (u lockedUser) Logout() error { return nil }

type lockedMailbox struct {
	mu   *sync.Mutex
	next backend.Mailbox
}

func (m lockedMailbox) Name() string { return m.next.Name() }

func (m lockedMailbox) Info() (*imap.MailboxInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.next.Info()
}

func (m lockedMailbox) Status(items []imap.StatusItem) (*imap.MailboxStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.next.Status(items)
}

func (m lockedMailbox) SetSubscribed(subscribed bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.next.SetSubscribed(subscribed)
}

func (m lockedMailbox) Check() error { return nil }

func (m lockedMailbox) ListMessages(uid bool, set *imap.SeqSet, items []imap.FetchItem, ch chan<- *imap.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.next.ListMessages(uid, set, items, ch)
}

func (m lockedMailbox) SearchMessages(uid bool, c *imap.SearchCriteria) ([]uint32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.next.SearchMessages(uid, c)
}

func (m lockedMailbox) CreateMessage(flags []string, date time.Time, body imap.Literal) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.next.CreateMessage(flags, date, body)
}

func (m lockedMailbox) UpdateMessagesFlags(uid bool, set *imap.SeqSet, op imap.FlagsOp, flags []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.next.UpdateMessagesFlags(uid, set, op, flags)
}

func (m lockedMailbox) CopyMessages(uid bool, set *imap.SeqSet, dest string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.next.CopyMessages(uid, set, dest)
}

func (m lockedMailbox) Expunge() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.next.Expunge()
}
