package localengine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DataLockFile, in a data directory, is the lock a dev server holds for as
// long as it runs (and `make sweep` while it runs its own engine on the
// directory): one process at a time keeps its engine on the directory's
// SQLite file. It holds a line saying who holds it.
const DataLockFile = "devserver.lock"

// DataLock is an exclusive flock on a data directory's DataLockFile. The
// kernel releases it when its holder exits, however it exits, so a lock is
// never stale; the file itself stays.
type DataLock struct {
	f *os.File
}

// LockedError is LockData's answer when another process holds the lock.
type LockedError struct {
	// Path is the lock file.
	Path string
	// Holder is what the holder wrote: who it is, its pid and address
	// ("" if it has written nothing yet).
	Holder string
}

func (e *LockedError) Error() string {
	who := e.Holder
	if who == "" {
		who = "another process (starting, it has not said which yet)"
	}
	return fmt.Sprintf("%s is already running on %s (lock %s held)", who, filepath.Dir(e.Path), filepath.Base(e.Path))
}

// LockData takes the lock of the data directory dir (creating both if
// needed) without waiting, and records holder in it. When another process
// holds it, the error is a *LockedError naming that process.
func LockData(dir, holder string) (*DataLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	path := filepath.Join(dir, DataLockFile)
	// os.OpenFile sets O_CLOEXEC: the engines started later do not inherit
	// the descriptor, so the lock dies with this process, not with them.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Path: path, Holder: readHolder(path)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	l := &DataLock{f: f}
	if err := l.Update(holder); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// Update replaces what the lock says of its holder.
func (l *DataLock) Update(holder string) error {
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("write the lock: %w", err)
	}
	if _, err := l.f.WriteAt([]byte(holder+"\n"), 0); err != nil {
		return fmt.Errorf("write the lock: %w", err)
	}
	return nil
}

// Release empties the lock file and releases the lock.
func (l *DataLock) Release() {
	if l == nil || l.f == nil {
		return
	}
	l.f.Truncate(0)
	l.f.Close()
	l.f = nil
}

// readHolder reads what the holder of the lock at path wrote, waiting a
// moment for a holder that has only just taken it.
func readHolder(path string) string {
	for range 20 {
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) != "" {
			return strings.TrimSpace(string(b))
		}
		time.Sleep(25 * time.Millisecond)
	}
	return ""
}
