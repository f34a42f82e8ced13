// Package gofunc builds the AWS Lambda functions that ship with Passthrough
// from their Go source, while a CDK app synthesizes: no Docker, no binary in
// the repository, the same source whether the library comes from a checkout
// or from the module cache.
//
// The functions live in a module of their own,
// github.com/passthrough-cdk/passthrough/functions, so that what they
// import (aws-lambda-go, the AWS SDK) never becomes a requirement of the
// library's go.mod. A module zip leaves nested modules out, so a released
// library finds that source by downloading the functions module at its own
// version; a checkout, or a go.mod replace pointing at one, has it beside
// the library's go.mod.
package gofunc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// LibraryModule and FunctionsModule are the module paths the source is
// looked up by.
const (
	LibraryModule   = "github.com/passthrough-cdk/passthrough"
	FunctionsModule = LibraryModule + "/functions"
)

// The platform every function is built for: Graviton, the cheaper and
// faster Lambda architecture, and a static binary for the provided.al2023
// runtime, which runs an executable named bootstrap.
const (
	GOOS       = "linux"
	GOARCH     = "arm64"
	Executable = "bootstrap"
)

// module is what `go list -m -json` and `go mod download -json` report.
type module struct {
	Path    string
	Version string
	Dir     string
	Main    bool
	Error   *struct{ Err string }
	Replace *module
}

// Source says where the functions module's source is: Dir when it is on
// disk already (a checkout or a replace), else the version to download.
type Source struct {
	Dir     string
	Version string
}

// Locate turns `go list -m -json LibraryModule`'s output into a Source.
// exists reports whether a path exists; it is a parameter so that the
// decision is tested on recorded outputs.
func Locate(listOutput []byte, exists func(string) bool) (Source, error) {
	var m module
	if err := json.Unmarshal(listOutput, &m); err != nil {
		return Source{}, fmt.Errorf("reading `go list -m -json %s`: %w", LibraryModule, err)
	}
	if m.Error != nil {
		return Source{}, fmt.Errorf("`go list -m %s`: %s", LibraryModule, m.Error.Err)
	}
	dir, version := m.Dir, m.Version
	if m.Replace != nil {
		// A replace by a directory has a Dir and no Version; a replace by
		// another module version has both.
		dir, version = m.Replace.Dir, m.Replace.Version
	}
	if dir != "" && exists(filepath.Join(dir, "functions", "go.mod")) {
		return Source{Dir: filepath.Join(dir, "functions")}, nil
	}
	if version == "" {
		return Source{}, fmt.Errorf("%s at %q has no functions/go.mod and no version to download %s at", LibraryModule, dir, FunctionsModule)
	}
	return Source{Version: version}, nil
}

// Downloaded turns `go mod download -json FunctionsModule@version`'s output
// into the directory of the downloaded source.
func Downloaded(downloadOutput []byte) (string, error) {
	var m module
	if err := json.Unmarshal(downloadOutput, &m); err != nil {
		return "", fmt.Errorf("reading `go mod download -json`: %w", err)
	}
	if m.Error != nil {
		return "", fmt.Errorf("downloading %s: %s", FunctionsModule, m.Error.Err)
	}
	if m.Dir == "" {
		return "", fmt.Errorf("downloading %s@%s reported no directory", FunctionsModule, m.Version)
	}
	return m.Dir, nil
}

// BuildArgs are the go command's arguments that build function name into
// dir/bootstrap: reproducible (no paths, no VCS stamp, so the asset hash
// depends on the source alone for a given Go release), stripped, and
// without aws-lambda-go's RPC mode, which provided.al2023 never uses. The
// Makefile's functions-warm target compiles with the same flags.
func BuildArgs(name, dir string) []string {
	return []string{"build", "-trimpath", "-buildvcs=false", "-tags", "lambda.norpc",
		"-ldflags=-s -w", "-o", filepath.Join(dir, Executable), "./" + name}
}

// BuildEnv is the environment of the build: the caller's (GOPATH, GOCACHE,
// GOPROXY, GOFLAGS stay the user's), cross-compiled without cgo, and
// outside any go.work, which would otherwise decide the functions' module
// versions.
func BuildEnv(environ []string) []string {
	env := make([]string, 0, len(environ)+4)
	for _, kv := range environ {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "GOOS", "GOARCH", "CGO_ENABLED", "GOWORK":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GOOS="+GOOS, "GOARCH="+GOARCH, "CGO_ENABLED=0", "GOWORK=off")
}

var (
	mu     sync.Mutex
	builds = map[string]result{}
)

type result struct {
	dir string
	err error
}

// Build returns a directory holding the executable of function name (a
// main package at functions/<name>), built once per process: every stack
// of an app that uses the function shares the build.
func Build(name string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if r, ok := builds[name]; ok {
		return r.dir, r.err
	}
	dir, err := build(name)
	builds[name] = result{dir, err}
	return dir, err
}

func build(name string) (string, error) {
	if strings.ContainsAny(name, `/\.`) || name == "" {
		return "", fmt.Errorf("function name %q is not a directory of %s", name, FunctionsModule)
	}
	if _, err := exec.LookPath("go"); err != nil {
		return "", errors.New("the Go toolchain is not on PATH: synthesis builds this function from its Go source")
	}
	listed, err := goCommand("", "list", "-m", "-json", LibraryModule)
	if err != nil {
		return "", err
	}
	src, err := Locate(listed, func(p string) bool { _, err := os.Stat(p); return err == nil })
	if err != nil {
		return "", err
	}
	if src.Dir == "" {
		out, err := goCommand("", "mod", "download", "-json", FunctionsModule+"@"+src.Version)
		if err != nil {
			return "", err
		}
		if src.Dir, err = Downloaded(out); err != nil {
			return "", err
		}
	}
	dir, err := os.MkdirTemp("", "passthrough-"+name+"-")
	if err != nil {
		return "", err
	}
	if _, err := goCommand(src.Dir, BuildArgs(name, dir)...); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

func goCommand(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = BuildEnv(os.Environ())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s (in %s): %v: %s", strings.Join(args, " "), displayDir(dir), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func displayDir(dir string) string {
	if dir == "" {
		return "the current directory"
	}
	return dir
}
