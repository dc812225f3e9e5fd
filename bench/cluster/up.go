package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/portway/portway/bench/internal/figures"
)

// benchUp times `portway up --nodes 3` from exec to every node Ready, and
// its teardown, each run in a fresh network namespace and data dir.
func benchUp(ctx context.Context, cfg config, root string, rep *report) error {
	var ready, self, stop []time.Duration
	defer func() {
		rep.up.Dist("exec → export KUBECONFIG line", ready)
		rep.up.Dist(`up's own "up in"`, self)
		rep.up.Dist("SIGINT → exit (no pods)", stop)
	}()
	for i := range cfg.ups {
		figures.Logf("up %d/%d", i+1, cfg.ups)
		c, err := startCluster(ctx, cfg, fmt.Sprintf("%su%d", cfg.name, i), filepath.Join(root, fmt.Sprintf("up-%d", i+1)))
		if err != nil {
			return err
		}
		ready, self = append(ready, c.Ready), append(self, c.SelfTold)
		took, err := c.StopTimed()
		if err != nil {
			return err
		}
		stop = append(stop, took)
	}
	return nil
}
