package coldstart

import (
	"context"
	"os/exec"
)

func execHelper(ctx context.Context, bin, api, endpoint string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = Env(helperName, api, endpoint)
	return cmd
}
