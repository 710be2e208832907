package journal

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // pure Go: the binary stays static
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrDiskFull reports a journal file that cannot grow: its disk is full (or
// the process may write no larger file).
var ErrDiskFull = errors.New("the disk is full")

// Open returns a journal kept in a SQLite file as well as in memory: every
// entry is committed to the file before Append returns, so a response
// written after it is not lost when the host is killed. With fsync, Append
// also waits for the disk, so that the entry outlives a power loss too (at a
// cost: a disk flush per commit, which concurrent appends share). The latest
// capacity entries are loaded back.
func Open(path string, capacity int, fsync bool) (*Journal, error) {
	j := New(capacity)
	// WAL: a commit is an append to the log. synchronous=NORMAL writes it
	// to the file at once and flushes the disk at checkpoints only; FULL
	// flushes at every commit.
	sync := "NORMAL"
	if fsync {
		sync = "FULL"
	}
	// One host per file: the exclusive lock keeps a second process out.
	// The path goes into a URI: escaped, so that '?', '#' and '%' in a
	// directory name are the file's, not the URI's.
	// The log is checkpointed (copied into the file) once it holds the
	// budget's worth of pages, and truncated to the budget if a large
	// commit took it past: SQLite's default, 1000 pages (4 MiB), is more
	// than a small disk has, and it never gives the room back. Checkpoints
	// are PASSIVE and reuse the log, which costs a commit far less than
	// growing a truncated log again. The pragmas are in the DSN so that a
	// connection database/sql opens anew has them too; SetWALBudget changes
	// them.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=locking_mode(EXCLUSIVE)&_pragma=journal_mode(WAL)&_pragma=synchronous(" + sync + ")&_pragma=busy_timeout(1000)" +
		fmt.Sprintf("&_pragma=wal_autocheckpoint(%d)&_pragma=journal_size_limit(%d)", DefaultWALBudget/defaultPageSize, DefaultWALBudget)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening the journal %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer; SQLite serialises writes anyway
	if err := migrate(db); err != nil {
		db.Close()
		if strings.Contains(err.Error(), "locked") {
			return nil, fmt.Errorf("journal %s is in use by another host: %w", path, err)
		}
		return nil, openError(path, err)
	}
	if err := j.load(db); err != nil {
		db.Close()
		return nil, openError(path, err)
	}
	if j.store, err = newStore(db, path+"-wal"); err != nil {
		db.Close()
		return nil, openError(path, err)
	}
	return j, nil
}

// openError says why the journal at path could not be opened: SQLite
// reports a disk that is full while it opens a file as a bare "disk I/O
// error (4874)", which tells a user nothing, so a full disk is named as such.
func openError(path string, err error) error {
	if full, why := diskFull(filepath.Dir(path), err); full {
		if why != "" {
			return fmt.Errorf("opening the journal %s: %w (%w: %s)", path, ErrDiskFull, err, why)
		}
		return fmt.Errorf("opening the journal %s: %w (%w)", path, ErrDiskFull, err)
	}
	return fmt.Errorf("journal %s: %w", path, err)
}

// diskFull reports whether err, from SQLite working on a file in dir, means
// that the file could not grow, and what the system said if it had to ask.
func diskFull(dir string, err error) (full bool, why string) {
	if noSpace(err) {
		return true, ""
	}
	var coded interface{ Code() int }
	if !errors.As(err, &coded) {
		return false, ""
	}
	switch coded.Code() & 0xff { // the primary code; the extended one says which call failed
	case sqlite3.SQLITE_FULL:
		return true, ""
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		// SQLite keeps the errno to itself: a failed write of the file or
		// its -wal or -shm (IOERR_WRITE 778, IOERR_SHMOPEN 4618,
		// IOERR_SHMSIZE 4874, ...) may be a full disk or a failing one.
		// Asking the directory for room tells them apart.
		if perr := probeSpace(dir); noSpace(perr) {
			var errno syscall.Errno
			if errors.As(perr, &errno) {
				return true, errno.Error()
			}
			return true, perr.Error()
		}
	}
	return false, ""
}

// probeSpace writes a scratch file in dir about as large as what SQLite
// writes while it opens a journal, and removes it.
func probeSpace(dir string) error {
	f, err := os.CreateTemp(dir, ".acqsim-space-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, 1<<20))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// noSpace reports a write refused for want of room: the disk full, a quota
// reached, or the process's file size limit (RLIMIT_FSIZE).
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG)
}

// Close stops the writer and closes the file; a memory journal has nothing to close.
func (j *Journal) Close() error {
	if j.store == nil {
		return nil
	}
	return j.store.close()
}

// Events returns, oldest first, what rebuilds the host's books.
func (j *Journal) Events() ([][]byte, error) {
	if j.store == nil {
		return nil, nil
	}
	rows, err := j.store.db.Query(`SELECT replay FROM journal WHERE replay IS NOT NULL ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	return out, rows.Err()
}

// migrations bring a journal file to the current schema, one version a step.
var migrations = []string{
	`CREATE TABLE journal (
		seq          INTEGER PRIMARY KEY,
		time         TEXT NOT NULL,     -- the host's (virtual) time, RFC 3339
		conn         TEXT,
		dialect      TEXT,
		mti          TEXT,
		response_mti TEXT,
		txn          TEXT,
		proc         TEXT,
		stan         TEXT,
		rrn          TEXT,
		tid          TEXT,
		mid          TEXT,
		batch        TEXT,
		amount       INTEGER,
		currency     TEXT,
		pan          TEXT,              -- masked
		rc           TEXT,
		latency_us   INTEGER,
		decision     TEXT,
		error        TEXT,
		scenario     TEXT,
		rule         TEXT,
		step         INTEGER,
		action       TEXT,
		replay       TEXT               -- JSON that rebuilds the books; no card data in clear
	);
	CREATE INDEX journal_terminal ON journal (tid, stan);
	CREATE INDEX journal_rrn ON journal (rrn);`,
	// The file is read in seq order only (restart, replay): the indexes cost
	// every insert and served no reader.
	`DROP INDEX journal_terminal;
	DROP INDEX journal_rrn;`,
	// What a rule did and what kind of error an entry has, typed: acts is
	// Entry.Acts as JSON. Rows from before have neither (NULL).
	`ALTER TABLE journal ADD COLUMN acts TEXT;
	ALTER TABLE journal ADD COLUMN error_kind TEXT;`,
}

func migrate(db *sql.DB) error {
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	var version int
	err := db.QueryRow(`SELECT version FROM schema_version`).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := db.Exec(`INSERT INTO schema_version VALUES (0)`); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("the file's schema version %d is newer than this acqsim knows (%d)", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrating to schema version %d: %w", v+1, err)
		}
		if _, err := tx.Exec(`UPDATE schema_version SET version = ?`, v+1); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

const columns = `seq, time, conn, dialect, mti, response_mti, txn, proc, stan, rrn, tid, mid, batch, amount,
	currency, pan, rc, latency_us, decision, error, scenario, rule, step, action, acts, error_kind`

// load reads back the latest entries and the numbering.
func (j *Journal) load(db *sql.DB) error {
	rows, err := db.Query(`SELECT `+columns+` FROM (SELECT * FROM journal ORDER BY seq DESC LIMIT ?) ORDER BY seq`, j.cap)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e Entry
		var at string
		var acts, errorKind sql.NullString
		if err := rows.Scan(&e.Seq, &at, &e.Conn, &e.Dialect, &e.MTI, &e.RespMTI, &e.Txn, &e.Proc, &e.STAN, &e.RRN,
			&e.TID, &e.MID, &e.Batch, &e.Amount, &e.Currency, &e.PAN, &e.RC, &e.LatencyUS, &e.Decision, &e.Error,
			&e.Scenario, &e.Rule, &e.Step, &e.Action, &acts, &errorKind); err != nil {
			return err
		}
		e.Time, _ = time.Parse(time.RFC3339Nano, at)
		if acts.Valid && acts.String != "" {
			if err := e.Acts.UnmarshalJSON([]byte(acts.String)); err != nil {
				return fmt.Errorf("entry %d: acts: %w", e.Seq, err)
			}
		}
		e.ErrorKind = errorKind.String
		j.remember(e)
		j.seq = e.Seq
	}
	return rows.Err()
}

// store writes entries to SQLite from one goroutine, committing whatever has
// queued up meanwhile in one transaction: one fsync serves many terminals.
type store struct {
	db    *sql.DB
	queue chan pending
	done  chan struct{}

	// inserts are the prepared INSERTs by number of rows, and args their
	// arguments: both used by the writer goroutine only.
	inserts map[int]*sql.Stmt
	args    []any

	// failing holds the last commit's error until a commit succeeds.
	failing atomic.Pointer[error]

	// wal is the file's write-ahead log, and budget the size it may reach
	// (SetWALBudget).
	wal    string
	budget atomic.Int64
	// retryAt, after a checkpoint of the writer's failed, is the log size
	// at which it tries again: a checkpoint that cannot succeed (no room to
	// grow the file) is not retried after every commit. Used by the writer
	// goroutine only.
	retryAt int64

	mu     sync.RWMutex // guards closed against appends racing Close
	closed bool
}

type pending struct {
	e      Entry
	result chan error
}

func newStore(db *sql.DB, wal string) (*store, error) {
	s := &store{db: db, queue: make(chan pending, 1024), done: make(chan struct{}), wal: wal}
	s.budget.Store(DefaultWALBudget)
	// Before the writer starts: with one connection, a statement prepared
	// inside a transaction would wait for that transaction's connection.
	if err := s.prepare(); err != nil {
		return nil, err
	}
	go s.write()
	return s, nil
}

// ErrClosed reports an append to a journal already closed.
var ErrClosed = errors.New("journal closed")

func (s *store) append(e Entry) error {
	// The frames hold card data in clear: they never reach the file, nor
	// wait for it in the queue.
	e.Request, e.Response = "", ""
	p := pending{e: e, result: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	s.queue <- p
	s.mu.RUnlock()
	return <-p.result
}

func (s *store) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()
	<-s.done
	return s.db.Close()
}

func (s *store) write() {
	defer close(s.done)
	batch := make([]pending, 0, 256)
	for first := range s.queue {
		batch = append(batch[:0], first)
	more:
		for len(batch) < cap(batch) {
			select {
			case p, ok := <-s.queue:
				if !ok {
					break more
				}
				batch = append(batch, p)
			default:
				break more
			}
		}
		err := s.commit(batch)
		if err != nil && mayBeFull(err) {
			// The log itself may be what fills the disk: checkpointed and
			// truncated, it gives its room back, and the batch is tried
			// once more before its appends are told it failed.
			if s.checkpoint() == nil {
				err = s.commit(batch)
			}
		}
		if err != nil {
			s.failing.Store(&err)
		} else {
			s.failing.Store(nil)
		}
		for _, p := range batch {
			p.result <- err
		}
		if err == nil {
			// SQLite's checkpoint runs inside the commit that fills the
			// budget; this one, rarely needed, after the answers, so that
			// the appends just committed do not wait for it.
			s.keepWALInBudget()
		}
	}
}

// DefaultWALBudget is the size the journal file's write-ahead log may reach:
// a commit appends the pages it changed to the log (4 KiB each, one or a
// few a commit), and once the log holds the budget's worth, a checkpoint
// copies them into the file and the log starts again from its beginning.
// Larger, the host checkpoints less often (a checkpoint flushes the disk
// twice); smaller, the log takes less of a small disk.
const DefaultWALBudget = 1 << 20

// defaultPageSize is SQLite's page size for a new file, which the journal
// does not change.
const defaultPageSize = 4096

// SetWALBudget sets the size the write-ahead log may reach, about bytes (the
// commit that reaches it completes before the checkpoint); 0 or less
// restores DefaultWALBudget.
func (j *Journal) SetWALBudget(bytes int64) error {
	if j.store == nil {
		return errors.New("journal: a memory journal has no file")
	}
	if bytes <= 0 {
		bytes = DefaultWALBudget
	}
	var size int64
	if err := j.store.db.QueryRow(`PRAGMA page_size`).Scan(&size); err != nil {
		return err
	}
	if _, err := j.store.db.Exec(fmt.Sprintf(`PRAGMA wal_autocheckpoint = %d`, max(bytes/size, 1))); err != nil {
		return err
	}
	if _, err := j.store.db.Exec(fmt.Sprintf(`PRAGMA journal_size_limit = %d`, bytes)); err != nil {
		return err
	}
	j.store.budget.Store(bytes)
	return nil
}

// keepWALInBudget checkpoints and truncates the log if it has grown to twice
// its budget all the same: SQLite's automatic checkpoint after a commit
// failed or did not finish, so the log could not start again.
func (s *store) keepWALInBudget() {
	fi, err := os.Stat(s.wal)
	if err != nil {
		return // no log yet: nothing to checkpoint
	}
	budget := s.budget.Load()
	if fi.Size() < max(2*budget, s.retryAt) {
		return
	}
	if err := s.checkpoint(); err != nil {
		s.retryAt = fi.Size() + budget
		return
	}
	s.retryAt = 0
}

// checkpoint copies every page of the log into the file and truncates the
// log. With a single connection there is no reader to wait for, so it
// completes unless it cannot write (the file cannot grow).
func (s *store) checkpoint() error {
	var busy, logged, copied int
	if err := s.db.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &copied); err != nil {
		return fmt.Errorf("journal: checkpoint: %w", err)
	}
	if busy != 0 {
		return fmt.Errorf("journal: checkpoint: %d of %d pages copied", copied, logged)
	}
	return nil
}

// mayBeFull reports whether a commit's error may come from a disk with no
// room left: a write that failed or a file that could not grow. (A file
// made read-only, SetWritable, is not: no checkpoint helps.)
func mayBeFull(err error) bool {
	if noSpace(err) {
		return true
	}
	var coded interface{ Code() int }
	if !errors.As(err, &coded) {
		return false
	}
	switch coded.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR:
		return true
	}
	return false
}

// Health is nil while the journal records, or why it cannot: the last
// commit to its file failed (the disk full, the file unwritable). It clears
// with the next commit that succeeds, so a host that keeps trying finds out
// when the disk is back.
func (j *Journal) Health() error {
	if j == nil || j.store == nil {
		return nil
	}
	if err := j.store.failing.Load(); err != nil {
		return *err
	}
	return nil
}

// SetWritable false makes every commit fail as it does on a file that
// cannot be written (SQLite's query_only), until SetWritable true: chaos
// tests use it to take the journal away from the host deterministically.
func (j *Journal) SetWritable(ok bool) error {
	if j.store == nil {
		return errors.New("journal: a memory journal has no file")
	}
	_, err := j.store.db.Exec(fmt.Sprintf(`PRAGMA query_only = %t`, !ok))
	return err
}

// LimitFile bounds the journal file to about bytes, as a full disk would:
// commits that need more fail until the bound is raised again. Chaos tests
// use it; 0 lifts the bound.
func (j *Journal) LimitFile(bytes int64) error {
	if j.store == nil {
		return errors.New("journal: a memory journal has no file")
	}
	pages := int64(1073741823) // SQLite's own maximum
	if bytes > 0 {
		var size int64
		if err := j.store.db.QueryRow(`PRAGMA page_size`).Scan(&size); err != nil {
			return err
		}
		pages = max(bytes/size, 1)
	}
	_, err := j.store.db.Exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, pages))
	return err
}

// insertRows are the statement sizes a commit inserts with, largest first: a
// row costs SQLite far less inside a many-row INSERT than in one of its own.
var insertRows = []int{64, 8, 1}

// prepare readies an INSERT of each size in insertRows.
func (s *store) prepare() error {
	s.inserts = map[int]*sql.Stmt{}
	row := "(" + strings.Repeat("?,", strings.Count(columns, ",")+1) + "?)"
	for _, n := range insertRows {
		st, err := s.db.Prepare(`INSERT INTO journal (` + columns + `, replay) VALUES ` + strings.Repeat(row+",", n-1) + row)
		if err != nil {
			return err
		}
		s.inserts[n] = st
	}
	return nil
}

func (s *store) commit(batch []pending) error {
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	args := s.args[:0]
	for len(batch) > 0 {
		n := insertRows[len(insertRows)-1]
		for _, size := range insertRows {
			if len(batch) >= size {
				n = size
				break
			}
		}
		st := s.inserts[n]
		args = args[:0]
		for _, p := range batch[:n] {
			e := &p.e
			var replay, acts, errorKind any
			if e.Replay != "" {
				replay = e.Replay
			}
			if e.Acts != (Acts{}) {
				raw, err := e.Acts.MarshalJSON() // strings only: it cannot fail
				if err != nil {
					tx.Rollback()
					return fmt.Errorf("journal: acts: %w", err)
				}
				acts = string(raw)
			}
			if e.ErrorKind != "" {
				errorKind = e.ErrorKind
			}
			args = append(args, e.Seq, e.Time.Format(time.RFC3339Nano), e.Conn, e.Dialect, e.MTI, e.RespMTI, e.Txn, e.Proc,
				e.STAN, e.RRN, e.TID, e.MID, e.Batch, e.Amount, e.Currency, e.PAN, e.RC, e.LatencyUS, e.Decision, e.Error,
				e.Scenario, e.Rule, e.Step, e.Action, acts, errorKind, replay)
		}
		if _, err := tx.Stmt(st).Exec(args...); err != nil {
			tx.Rollback()
			return fmt.Errorf("journal: %w", err)
		}
		batch = batch[n:]
	}
	s.args = args[:0]
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}
