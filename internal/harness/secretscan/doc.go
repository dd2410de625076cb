// Package secretscan finds credentials that must never be committed or synthesized into
// the CloudFormation template: PEM private keys and AWS access key ids (AKIA/ASIA), plus
// AWS secret access keys written next to their usual names. Its test scans every file
// git tracks and, when present, the synthesized template in cdk.out/ (`make scan`
// requires the template). The only allowed key is AWS's documented example key id, which
// the contract tests use against moto.
package secretscan
