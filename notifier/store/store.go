// Package store is breachnotify's PostgreSQL persistence: every SQL
// statement of the application lives here, next to the function that runs
// it. Writes that belong together run in one transaction; constraint
// violations come back as coded notifier errors.
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
)

// JobEnqueuer inserts delivery jobs inside the store's transaction, so jobs
// and the rows they carry commit or roll back together. The queue package
// implements it with River.
type JobEnqueuer interface {
	EnqueueChunksTx(ctx context.Context, tx pgx.Tx, chunks []delivery.ScheduledChunk) error
	// EnqueueFollowUpsTx schedules follow-up jobs, one per incident and
	// organization at a time: a job already waiting absorbs the request.
	EnqueueFollowUpsTx(ctx context.Context, tx pgx.Tx, jobs []notifier.FollowUpJob) error
	// TakeOverJobsTx cancels the running delivery jobs of a dead process
	// (those listed, from its claims, and those it was working, by its id)
	// and returns their chunks to enqueue again.
	TakeOverJobsTx(ctx context.Context, tx pgx.Tx, jobIDs []int64, deadProcess string) ([]delivery.ScheduledChunk, error)
}

// Store implements the notifier's store interfaces on a pgx pool.
type Store struct {
	pool *pgxpool.Pool
	jobs JobEnqueuer
	// messageIDDomain is the right-hand side of every Message-ID.
	messageIDDomain string
	notices         noticeCache
	auditKeys       *notifier.AuditKeys
	// exportPage is Config.ExportPageSize.
	exportPage int
}

// Config configures a Store.
type Config struct {
	// Jobs enqueues delivery jobs; required for launching waves and delivering.
	Jobs JobEnqueuer
	// MessageIDDomain is the domain of generated Message-IDs (the sender's).
	MessageIDDomain string
	// AuditKeys key every audit entry (with the first key); required for
	// anything audited. Nil only for reading the installation secret the
	// key may be derived from.
	AuditKeys *notifier.AuditKeys
	// ExportPageSize is how many rows an export written to a client as it
	// goes (the report, the portal's download) reads at a time;
	// ExportPageSizeDefault when 0. Tests make it small to cross pages.
	ExportPageSize int
}

// ExportPageSizeDefault is the rows an export reads at a time: large
// enough that a page's query costs little next to its rows, small enough
// that a page (a few hundred KB) is nothing to hold in memory.
const ExportPageSizeDefault = 500

// New returns a Store on pool.
func New(pool *pgxpool.Pool, cfg Config) *Store {
	if cfg.MessageIDDomain == "" {
		cfg.MessageIDDomain = "breachnotify.invalid"
	}
	if cfg.ExportPageSize <= 0 {
		cfg.ExportPageSize = ExportPageSizeDefault
	}
	return &Store{pool: pool, jobs: cfg.Jobs, messageIDDomain: cfg.MessageIDDomain, auditKeys: cfg.AuditKeys, exportPage: cfg.ExportPageSize}
}

// Pool exposes the pool for health checks.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.pool.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// querier runs queries on a pool or inside a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// notFound maps pgx.ErrNoRows to a coded not_found error naming what.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return notifier.Errorf(notifier.CodeNotFound, format, args...)
	}
	return err
}

// constraintError maps a unique violation on constraint to a conflict with msg.
func constraintError(err error, constraint, msg string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint {
		return &notifier.Error{Code: notifier.CodeConflict, Message: msg, Err: err}
	}
	return err
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var ne *notifier.Error
	if errors.As(err, &ne) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// nullable is NULL for the empty string.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
