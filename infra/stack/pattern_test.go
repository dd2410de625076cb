package stack

import "regexp"

// compileCfnPattern compiles a CloudFormation AllowedPattern, which must match the
// whole value (Java regex semantics; the patterns here use the common subset).
func compileCfnPattern(p string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + p + `)$`)
}
