package spawn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// StartError is a program that could not be started. execve's errno alone
// misleads: ENOENT for a script whose #! interpreter is missing reads as if
// the script itself were missing, and EACCES does not say which file. So a
// failed start looks at the files (Diagnose) and Reason says what is wrong
// in words: "x.sh is not executable", "interpreter /usr/bin/python (from
// the #! line of x.py) not found".
type StartError struct {
	Path   string // the program that was to run
	Reason string // what is wrong, naming the file
	Err    error  // the underlying error (an errno from execve)
}

func (e *StartError) Error() string { return e.Reason }
func (e *StartError) Unwrap() error { return e.Err }

// startError wraps the failure of execve for path. It runs only when a start
// failed, so the few file system calls of Diagnose cost nothing otherwise.
func startError(path string, err error) error {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return fmt.Errorf("spawn: %s: %w", path, err)
	}
	switch errno {
	case unix.ENOENT, unix.EACCES, unix.ENOEXEC, unix.ENOTDIR, unix.ELOOP, unix.EPERM, unix.EISDIR:
	default:
		return fmt.Errorf("spawn: %s: %w", path, err)
	}
	reason := Diagnose(path)
	if reason == "" {
		if errors.Is(err, unix.ENOEXEC) {
			reason = filepath.Base(path) + " has no #! line and is not a binary this system can run"
		} else {
			reason = fmt.Sprintf("%s: %v", path, err)
		}
	}
	return &StartError{Path: path, Reason: reason, Err: err}
}

// maxShebang is how much of a file is read for its #! line (Linux reads 256
// bytes of it).
const maxShebang = 256

// Diagnose says why the program at path cannot be started, or "" if it
// finds nothing wrong: the file is missing or is not a regular file, it is
// not executable, or its #! interpreter is missing or not executable.
func Diagnose(path string) string {
	name := filepath.Base(path)
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return name + " not found"
	case err != nil:
		return fmt.Sprintf("%s: %v", name, errors.Unwrap(err))
	case st.IsDir():
		return name + " is a directory"
	case !st.Mode().IsRegular():
		return name + " is not a regular file"
	case unix.Access(path, unix.X_OK) != nil:
		return name + " is not executable"
	}
	interp, ok := shebang(path)
	if !ok {
		return ""
	}
	from := "(from the #! line of " + name + ")"
	if interp == "" {
		return "the #! line of " + name + " names no interpreter"
	}
	st, err = os.Stat(interp)
	if errors.Is(err, fs.ErrNotExist) && strings.HasSuffix(interp, "\r") {
		// The classic: a script saved with DOS line endings.
		return "interpreter " + strings.TrimSuffix(interp, "\r") + "\\r " + from + " not found (DOS line endings)"
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "interpreter " + interp + " " + from + " not found"
	case err != nil:
		return fmt.Sprintf("interpreter %s %s: %v", interp, from, errors.Unwrap(err))
	case st.IsDir():
		return "interpreter " + interp + " " + from + " is a directory"
	case unix.Access(interp, unix.X_OK) != nil:
		return "interpreter " + interp + " " + from + " is not executable"
	}
	return ""
}

// shebang returns the interpreter named by path's #! line, and false if the
// file does not start with "#!".
func shebang(path string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer func() { _ = f.Close() }()
	buf := make([]byte, maxShebang)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", false
	}
	line, ok := bytes.CutPrefix(buf[:n], []byte("#!"))
	if !ok {
		return "", false
	}
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	// The kernel splits the line at the first space or tab; a \r stays part
	// of the interpreter's name.
	line = bytes.TrimLeft(line, " \t")
	if i := bytes.IndexAny(line, " \t"); i >= 0 {
		line = line[:i]
	}
	return string(line), true
}
