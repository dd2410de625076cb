// Command infra is the CDK app of the product: one CloudFormation stack per cluster.
//
//	cdk synth -c cluster=prod                  # stack CoordinatorHA-prod
//	cdk deploy -c cluster=prod -c stackName=X  # another stack name
//
// Context keys: cluster (default "presto"), stackName (default CoordinatorHA-<cluster>),
// assetDir (default "bin", what `make build` writes), agentUnit (default
// agent/coordinator-agent.service; absent: a built-in minimal unit). cdk.json at the
// repository root runs it with `go run ./infra`.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/prestoha/coordinator-ha/infra/stack"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	get := func(key, def string) string {
		if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok && v != "" {
			return v
		}
		return def
	}
	cluster := get("cluster", "presto")
	unitPath := get("agentUnit", "agent/coordinator-agent.service")
	unit, err := os.ReadFile(unitPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "infra: %s not readable (%v); the coordinators get the built-in minimal agent unit\n", unitPath, err)
	}
	stack.New(app, get("stackName", "CoordinatorHA-"+cluster), &stack.Props{
		Cluster:   cluster,
		AssetDir:  get("assetDir", "bin"),
		AgentUnit: string(unit),
	})
	app.Synth(nil)
}
