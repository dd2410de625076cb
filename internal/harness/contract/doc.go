// Package contract checks, against an independent implementation of the AWS APIs (moto,
// run locally as moto_server), that every AWS call the Lambdas and the agent make (the
// methods of internal/awsapi) is accepted as the code builds it and that the answers
// parse into what the code needs. It is the counterweight to internal/sim: the simulated
// account is ours, so a misunderstanding of an API could be built into both the code and
// the simulation; moto is written by other people from the AWS documentation.
//
// Two layers: aws_contract_test.go makes each call of internal/awsapi by hand, as the code
// builds it, and checks the answer parses into what the code reads (signal.Parse,
// events.DecodeFailoverState, awserr classification); handlers_contract_test.go runs the
// real health check (Evaluate) and the four failover steps on moto.
//
// moto is lax where AWS is strict (ENI attach rules, Availability Zones, instance states),
// so this suite checks wire shapes and parsing only. The strict rules are checked by
// internal/sim's own tests, not here.
//
// The tests sit behind the build tag "contract" and are run by `make contract`, which
// `make test` depends on:
//
//	go test -tags contract -count=1 ./internal/contract/
//
// The harness starts .venv/bin/moto_server (installed by `make venv`, pinned in
// requirements-dev.txt) on 127.0.0.1 with a free port. If moto cannot be started the
// suite fails loudly; it never skips silently.
package contract
