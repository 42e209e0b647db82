package main

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// sizes runs make build and reads the artifacts' sizes, then looks into
// the worker's bootstrap.
func (l *Lambda) sizes(ctx context.Context, c Config, bin string, logf func(string, ...any)) {
	logf("lambda: make build")
	cmd := exec.CommandContext(ctx, "make", "build")
	cmd.Dir = c.Root
	if b, err := cmd.CombinedOutput(); err != nil {
		l.BuildErr = fmt.Sprintf("%v: %s", err, tail(string(b), 1500))
	} else {
		for _, fn := range Functions {
			bs, _ := os.Stat(filepath.Join(c.Root, "build", fn, "bootstrap"))
			zs, _ := os.Stat(filepath.Join(c.Root, "build", fn+".zip"))
			var s Size
			if bs != nil {
				s.Bootstrap = bs.Size()
			}
			if zs != nil {
				s.Zip = zs.Size()
			}
			l.Sizes[fn] = s
		}
	}
	l.Why = sizeWhy(ctx, c.Root, bin)
}

// sizeWhy looks into the worker's bootstrap: its modules (go version -m),
// its largest packages (go tool nm -size of an unstripped build), and who
// imports google.golang.org/appengine.
func sizeWhy(ctx context.Context, root, bin string) SizeWhy {
	var w SizeWhy
	unstripped := filepath.Join(bin, "worker-syms")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", unstripped, "./functions/worker")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if b, err := cmd.CombinedOutput(); err != nil {
		w.Err = fmt.Sprintf("build: %v %s", err, b)
		return w
	}
	var mods []string
	if b, err := exec.CommandContext(ctx, "go", "version", "-m", unstripped).Output(); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && (f[0] == "mod" || f[0] == "dep") {
				mods = append(mods, f[1])
			}
			if len(f) >= 2 && (f[0] == "dep" || f[0] == "=>") {
				if f[0] == "=>" && len(mods) > 0 && strings.HasPrefix(mods[len(mods)-1], "google.golang.org/appengine") {
					w.AppengineBy = f[1]
					continue // the same module, replaced
				}
				w.Modules++
				if strings.HasPrefix(f[1], "google.golang.org/appengine") {
					w.HasAppengin = true
				}
			}
		}
	}
	// The symbol table, as go tool nm -size shows it, without the symbols
	// of sections that take no room in the file (bss, noptrbss).
	ef, err := elf.Open(unstripped)
	if err != nil {
		w.Err = fmt.Sprintf("read ELF: %v", err)
		return w
	}
	syms, err := ef.Symbols()
	ef.Close()
	if err != nil {
		w.Err = fmt.Sprintf("read symbols: %v", err)
		return w
	}
	by := map[string]int64{}
	for _, sym := range syms {
		if int(sym.Section) <= 0 || int(sym.Section) >= len(ef.Sections) || ef.Sections[sym.Section].Type == elf.SHT_NOBITS {
			continue
		}
		size := int64(sym.Size)
		p := symbolPackage(sym.Name)
		by[p] += size
		w.Total += size
		if strings.HasPrefix(p, "google.golang.org/appengine") || strings.HasPrefix(p, "github.com/golang/protobuf") || strings.HasPrefix(p, "google.golang.org/protobuf") {
			w.Appengine += size
		}
	}
	byMod := map[string]int64{}
	for p, s := range by {
		w.Packages = append(w.Packages, PkgSize{p, s})
		m := "std"
		for _, mod := range mods {
			if (p == mod || strings.HasPrefix(p, mod+"/")) && len(mod) > len(m) {
				m = mod
			}
		}
		if strings.HasPrefix(p, "(") {
			m = p
		}
		byMod[m] += s
	}
	for m, s := range byMod {
		w.Modules2 = append(w.Modules2, PkgSize{m, s})
	}
	sort.Slice(w.Modules2, func(i, j int) bool { return w.Modules2[i].Size > w.Modules2[j].Size })
	if len(w.Modules2) > 15 {
		w.Modules2 = w.Modules2[:15]
	}
	sort.Slice(w.Packages, func(i, j int) bool { return w.Packages[i].Size > w.Packages[j].Size })
	if len(w.Packages) > 15 {
		w.Packages = w.Packages[:15]
	}
	// Who imports appengine and the protobuf runtime.
	cmd = exec.CommandContext(ctx, "go", "list", "-deps", "-f", `{{.ImportPath}}:{{range .Imports}} {{.}}{{end}}`, "./functions/worker")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if b, err := cmd.Output(); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			pkg, imps, ok := strings.Cut(l, ":")
			if !ok || strings.HasPrefix(pkg, "google.golang.org/appengine") || strings.HasPrefix(pkg, "github.com/golang/protobuf") || strings.HasPrefix(pkg, "google.golang.org/protobuf") {
				continue
			}
			for _, imp := range strings.Fields(imps) {
				if strings.HasPrefix(imp, "google.golang.org/appengine") || strings.HasPrefix(imp, "github.com/golang/protobuf") || strings.HasPrefix(imp, "google.golang.org/protobuf") {
					w.Importers = append(w.Importers, pkg+" → "+imp)
				}
			}
		}
	}
	return w
}

var genericArgs = regexp.MustCompile(`\[.*\]`)

// symbolPackage is the import path of a symbol's package.
func symbolPackage(sym string) string {
	sym = genericArgs.ReplaceAllString(sym, "")
	for _, p := range []string{"go:", "type:", "runtime."} {
		if strings.HasPrefix(sym, p) {
			if p == "runtime." {
				return "runtime"
			}
			return "(" + strings.TrimSuffix(p, ":") + " metadata)"
		}
	}
	slash := strings.LastIndexByte(sym, '/')
	dot := strings.IndexByte(sym[slash+1:], '.')
	if dot < 0 {
		return "(other)"
	}
	return sym[:slash+1+dot]
}
