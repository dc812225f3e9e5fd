package main

import (
	"strings"

	"github.com/portway/portway/bench/internal/upcluster"
)

// clkTck is the kernel's USER_HZ, the unit of utime and stime in
// /proc/PID/stat: 100 on every Linux this runs on.
const clkTck = 100

// clusterProcs are a cluster's agents, shims and container processes,
// told apart by their command lines: `portway agent ... --root-dir
// DATA/...`, `portway shim DATA/...`, and the children of shims.
type clusterProcs struct {
	agents     map[string]upcluster.Proc // by node name
	shims      []upcluster.Proc
	containers []upcluster.Proc
}

func findClusterProcs(dataDir string) clusterProcs {
	all := upcluster.Procs()
	cp := clusterProcs{agents: map[string]upcluster.Proc{}}
	shims := map[int]bool{}
	for _, p := range all {
		cmd := strings.Join(p.Args, " ")
		switch {
		case len(p.Args) >= 2 && p.Args[1] == "agent" && strings.Contains(cmd, dataDir):
			cp.agents[argAfter(p.Args, "--node-name")] = p
		case len(p.Args) == 3 && p.Args[1] == "shim" && strings.HasPrefix(p.Args[2], dataDir):
			cp.shims = append(cp.shims, p)
			shims[p.PID] = true
		}
	}
	for _, p := range all {
		if shims[p.PPID] {
			cp.containers = append(cp.containers, p)
		}
	}
	return cp
}

func argAfter(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return "?"
}
