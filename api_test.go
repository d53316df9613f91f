package mio

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// The exported API is the same on every system: a program that uses the
// library builds everywhere, and where there is no poller its constructors
// fail with ErrUnsupported. This compares the exported identifiers, with
// their types and method sets (promoted methods included), as the compiler
// sees them for Linux, for a kqueue system and for systems without a poller.
func TestExportedAPISameOnEverySystem(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	want := exportedAPI(t, "linux", "amd64")
	for _, sys := range [][2]string{{"darwin", "arm64"}, {"netbsd", "amd64"}, {"windows", "amd64"}, {"js", "wasm"}} {
		got := exportedAPI(t, sys[0], sys[1])
		for _, d := range apiDiff(want, got) {
			t.Errorf("%s/%s: %s", sys[0], sys[1], d)
		}
	}
}

// Where there is no poller every constructor fails with ErrUnsupported, in
// the library's error shape. It runs only there (GOOS=windows go test
// compiles it here).
func TestConstructorsUnsupportedWithoutPoller(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "android", "darwin", "ios", "dragonfly", "freebsd", "netbsd", "openbsd":
		t.Skip("this system has a poller")
	}
	errs := map[string]error{}
	_, errs["NewEventLoop"] = NewEventLoop[int](Config{})
	_, errs["NewTCPSocketV4"] = NewTCPSocketV4()
	_, errs["NewTCPSocketV6"] = NewTCPSocketV6()
	_, errs["NewUnixSocket"] = NewUnixSocket()
	_, errs["NewUDPSocketV4"] = NewUDPSocketV4()
	_, errs["NewUDPSocketV6"] = NewUDPSocketV6()
	_, errs["NewUnixDatagram"] = NewUnixDatagram()
	_, _, errs["Pipe"] = Pipe()
	_, _, errs["UnixDatagramPair"] = UnixDatagramPair()
	for name, err := range errs {
		if !errors.Is(err, ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) || !strings.HasPrefix(err.Error(), "mio: ") {
			t.Errorf("%s: %v, want ErrUnsupported in the library's error shape", name, err)
		}
	}
}

// exportedAPI lists the package's exported API for goos/goarch, one line
// per identifier or method, from the export data the compiler writes.
func exportedAPI(t *testing.T, goos, goarch string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-export", "-f", "{{.ImportPath}}\t{{.Export}}", ".")
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list for %s/%s: %v\n%s", goos, goarch, err, stderr.Bytes())
	}
	exports := map[string]string{}
	var self string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, file, _ := strings.Cut(sc.Text(), "\t")
		exports[path] = file
		self = path // the package itself comes last
	}
	imp := importer.ForCompiler(token.NewFileSet(), "gc", func(path string) (io.ReadCloser, error) {
		return os.Open(exports[path])
	})
	pkg, err := imp.Import(self)
	if err != nil {
		t.Fatalf("reading the export data for %s/%s: %v", goos, goarch, err)
	}
	return apiOf(pkg)
}

func apiOf(pkg *types.Package) map[string]string {
	qual := types.RelativeTo(pkg)
	api := map[string]string{}
	for _, name := range pkg.Scope().Names() {
		obj := pkg.Scope().Lookup(name)
		if !obj.Exported() {
			continue
		}
		tn, ok := obj.(*types.TypeName)
		if !ok {
			api[name] = fmt.Sprintf("%T %s", obj, typeString(obj.Type(), qual))
			continue
		}
		api[name] = "type " + typeKind(tn.Type())
		for _, typ := range []types.Type{tn.Type(), types.NewPointer(tn.Type())} {
			ms := types.NewMethodSet(typ)
			for i := range ms.Len() {
				if m := ms.At(i).Obj(); m.Exported() {
					api[name+"."+m.Name()] = sigString(m.Type().(*types.Signature), qual)
				}
			}
		}
	}
	return api
}

// typeString is t as text, a function's without its parameter names, which
// are no part of what a caller compiles against.
func typeString(t types.Type, qual types.Qualifier) string {
	if sig, ok := t.(*types.Signature); ok {
		return sigString(sig, qual)
	}
	return types.TypeString(t, qual)
}

func sigString(sig *types.Signature, qual types.Qualifier) string {
	tuple := func(tu *types.Tuple) string {
		var s []string
		for i := range tu.Len() {
			s = append(s, types.TypeString(tu.At(i).Type(), qual))
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	var tparams []string
	for i := range sig.TypeParams().Len() {
		tparams = append(tparams, sig.TypeParams().At(i).Obj().Name())
	}
	s := "func"
	if len(tparams) > 0 {
		s += "[" + strings.Join(tparams, ", ") + "]"
	}
	s += tuple(sig.Params())
	if sig.Variadic() {
		s += "..."
	}
	return s + tuple(sig.Results())
}

// typeKind is what a type is, without its unexported insides.
func typeKind(t types.Type) string {
	switch u := t.Underlying().(type) {
	case *types.Struct:
		return "struct"
	case *types.Interface:
		return "interface"
	default:
		return u.String()
	}
}

// apiDiff says what differs, sorted.
func apiDiff(want, got map[string]string) []string {
	var d []string
	for k, w := range want {
		switch g, ok := got[k]; {
		case !ok:
			d = append(d, "missing "+k+" "+w)
		case g != w:
			d = append(d, k+" is "+g+", on linux "+w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			d = append(d, "extra "+k+" "+g)
		}
	}
	sort.Strings(d)
	return d
}
