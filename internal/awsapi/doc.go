// Package awsapi is the AWS boundary of the control plane: one narrow interface per
// service, each method with the exact aws-sdk-go-v2 signature so that the real client
// fits directly and the simulated account (package sim) can stand in for it in tests.
//
// Only the calls the code really makes are listed. Adding a call here is how a
// package gains the right to make it; the IAM policies in infra/ are checked against
// the calls recorded in the scenario tests.
package awsapi
