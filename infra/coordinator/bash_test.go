package coordinator

import "os/exec"

func runBashSyntax(path string) ([]byte, error) {
	return exec.Command("bash", "-n", path).CombinedOutput()
}
