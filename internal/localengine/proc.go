package localengine

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// spawner owns the OS thread every engine is forked from.
var spawner struct {
	once sync.Once
	reqs chan spawnRequest
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// startOnLockedThread starts cmd from a goroutine locked to its OS thread for
// the life of the process. Pdeathsig fires when the thread that forked the
// child exits, not when the process does, and Go ends a thread when a
// goroutine that locked it returns without unlocking; forking from an
// arbitrary thread could therefore kill an engine early. This thread never
// exits, so the engines get SIGKILL only when the whole process ends.
func startOnLockedThread(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread()
			for req := range spawner.reqs {
				req.done <- req.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnRequest{cmd: cmd, done: done}
	return <-done
}

// listenerOwnedBy reports whether the TCP socket listening on port belongs to
// process pid, so a readiness probe answered by some other process that took
// the port is not mistaken for the engine. A process that is gone owns
// nothing; when /proc cannot tell otherwise (no listener visible, or the
// process's descriptors unreadable) it reports true.
func listenerOwnedBy(pid, port int) bool {
	inodes := listeningInodes(port)
	if len(inodes) == 0 {
		return true
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(fdDir)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	for _, ent := range entries {
		link, err := os.Readlink(filepath.Join(fdDir, ent.Name()))
		if err != nil {
			continue
		}
		if inode, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(inode, "]")] {
			return true
		}
	}
	return false
}

// listeningInodes returns the inodes of the IPv4 and IPv6 TCP sockets in the
// LISTEN state on port, read from /proc/net/tcp and /proc/net/tcp6.
func listeningInodes(port int) map[string]bool {
	const stateListen = "0A"
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != stateListen {
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port {
				inodes[fields[9]] = true
			}
		}
		f.Close()
	}
	return inodes
}
