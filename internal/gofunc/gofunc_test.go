package gofunc

import (
	"debug/elf"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/passthrough-cdk/passthrough/internal/golden" // accepts the -update of `go test ./... -update`
)

func TestLocateFindsTheFunctionsModuleBesideTheLibrary(t *testing.T) {
	for name, tc := range map[string]struct {
		listed string
		exists []string
		want   Source
	}{
		"checkout (main module)": {
			listed: `{"Path":"github.com/passthrough-cdk/passthrough","Main":true,"Dir":"/src/passthrough"}`,
			exists: []string{"/src/passthrough/functions/go.mod"},
			want:   Source{Dir: "/src/passthrough/functions"},
		},
		"replace by a directory": {
			listed: `{"Path":"github.com/passthrough-cdk/passthrough","Version":"v0.3.0","Dir":"/cache/p@v0.3.0","Replace":{"Path":"../..","Dir":"/src/passthrough"}}`,
			exists: []string{"/src/passthrough/functions/go.mod"},
			want:   Source{Dir: "/src/passthrough/functions"},
		},
		"released module: nested modules are not in its zip": {
			listed: `{"Path":"github.com/passthrough-cdk/passthrough","Version":"v0.3.0","Dir":"/cache/github.com/passthrough-cdk/passthrough@v0.3.0"}`,
			want:   Source{Version: "v0.3.0"},
		},
		"replace by another version": {
			listed: `{"Path":"github.com/passthrough-cdk/passthrough","Version":"v0.3.0","Replace":{"Path":"github.com/passthrough-cdk/passthrough","Version":"v0.3.1","Dir":"/cache/p@v0.3.1"}}`,
			want:   Source{Version: "v0.3.1"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Locate([]byte(tc.listed), func(p string) bool { return slices.Contains(tc.exists, filepath.ToSlash(p)) })
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Locate = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLocateExplainsWhatItCannotUse(t *testing.T) {
	for name, tc := range map[string]struct{ listed, want string }{
		"not a dependency":      {`{"Path":"github.com/passthrough-cdk/passthrough","Error":{"Err":"module github.com/passthrough-cdk/passthrough: not a known dependency"}}`, "not a known dependency"},
		"no source, no version": {`{"Path":"github.com/passthrough-cdk/passthrough","Main":true,"Dir":"/src/p"}`, `at "/src/p" has no functions/go.mod`},
		"not JSON":              {`go: cannot find main module`, "reading `go list -m -json"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Locate([]byte(tc.listed), func(string) bool { return false })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Locate error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestDownloadedIsTheModuleCacheDirectory(t *testing.T) {
	dir, err := Downloaded([]byte(`{"Path":"github.com/passthrough-cdk/passthrough/functions","Version":"v0.3.0","Dir":"/cache/f@v0.3.0"}`))
	if err != nil || dir != "/cache/f@v0.3.0" {
		t.Errorf("Downloaded = %q, %v", dir, err)
	}
	for _, out := range []string{
		`{"Path":"github.com/passthrough-cdk/passthrough/functions","Version":"v9.9.9","Error":"x"}`,
		`{"Path":"github.com/passthrough-cdk/passthrough/functions","Version":"v9.9.9","Error":{"Err":"unknown revision functions/v9.9.9"}}`,
		`{"Path":"github.com/passthrough-cdk/passthrough/functions","Version":"v9.9.9"}`,
	} {
		if dir, err := Downloaded([]byte(out)); err == nil {
			t.Errorf("Downloaded(%s) = %q, want an error", out, dir)
		}
	}
}

func TestBuildIsReproducibleAndCrossCompiled(t *testing.T) {
	args := strings.Join(BuildArgs("tlscheck", "/tmp/x"), " ")
	for _, want := range []string{"-trimpath", "-buildvcs=false", "-o /tmp/x/bootstrap", "./tlscheck"} {
		if !strings.Contains(args, want) {
			t.Errorf("build args %q lack %q", args, want)
		}
	}
	env := BuildEnv([]string{"HOME=/h", "GOOS=darwin", "GOARCH=amd64", "CGO_ENABLED=1", "GOWORK=/w/go.work", "GOFLAGS=-mod=mod"})
	want := []string{"HOME=/h", "GOFLAGS=-mod=mod", "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOWORK=off"}
	if !slices.Equal(env, want) {
		t.Errorf("BuildEnv = %q, want %q", env, want)
	}
}

func TestBuildRefusesNamesOutsideTheFunctionsModule(t *testing.T) {
	for _, name := range []string{"", "../examples", "a/b", "."} {
		if _, err := Build(name); err == nil || !strings.Contains(err.Error(), "is not a directory of") {
			t.Errorf("Build(%q) error = %v", name, err)
		}
	}
}

func TestBuildReportsTheGoCommandsMessage(t *testing.T) {
	_, err := Build("nosuchfunction")
	if err == nil || !strings.Contains(err.Error(), "nosuchfunction") || !strings.Contains(err.Error(), "go build") {
		t.Errorf("Build error = %v, want the go build failure naming the function", err)
	}
}

// Every function of the functions module builds into what Lambda's
// provided.al2023 runtime on arm64 runs: a static linux/arm64 executable
// named bootstrap (a dynamically linked one fails at its first invocation,
// which no synthesis would notice).
func TestEveryFunctionBuildsAStaticArm64Bootstrap(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("..", "..", "functions"))
	if err != nil {
		t.Fatal(err)
	}
	built := 0
	for _, e := range entries {
		main, _ := filepath.Glob(filepath.Join("..", "..", "functions", e.Name(), "main.go"))
		if !e.IsDir() || len(main) == 0 {
			continue
		}
		dir, err := Build(e.Name())
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		f, err := elf.Open(filepath.Join(dir, Executable))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if f.Machine != elf.EM_AARCH64 || f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
			t.Errorf("%s: built for %v/%v, want linux arm64", e.Name(), f.OSABI, f.Machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s: dynamically linked (has an interpreter): provided.al2023 runs it without cgo's libraries", e.Name())
			}
		}
		f.Close()
		built++
	}
	if built < 2 {
		t.Errorf("built %d functions, want at least tlscheck and certexport", built)
	}
}
