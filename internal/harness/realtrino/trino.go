package realtrino

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// Port is the HTTP port of every Trino node.
const Port = 8080

// NodeSpec is one Trino node.
type NodeSpec struct {
	ID          string // node.id: the instance id for coordinators
	Environment string
	Coordinator bool
	Addr        netip.Addr // the host's primary address: what it announces
	Discovery   string     // discovery.uri
	Dir         string     // per-node etc and data directory
	HeapMB      int        // -Xmx; 0 means 768
}

// jvmOptions follow Trino's recommended jvm.config, with a small heap for a drill.
func jvmOptions(heapMB int) []string {
	return []string{
		"-server", fmt.Sprintf("-Xmx%dM", heapMB), "-XX:+UseG1GC", "-XX:G1HeapRegionSize=32M",
		"-XX:+ExplicitGCInvokesConcurrent", "-XX:+ExitOnOutOfMemoryError", "-XX:-OmitStackTraceInFastThrow",
		"-XX:ReservedCodeCacheSize=256M", "-XX:PerMethodRecompilationCutoff=10000",
		"-XX:PerBytecodeRecompilationCutoff=10000", "-Djdk.attach.allowAttachSelf=true",
		"-Djdk.nio.maxCachedBufferSize=2000000", "-XX:TieredStopAtLevel=1",
	}
}

// writeConfig writes etc/config.properties and the tpch catalog under spec.Dir.
func writeConfig(home string, spec NodeSpec) error {
	etc := filepath.Join(spec.Dir, "etc")
	if err := os.MkdirAll(filepath.Join(etc, "catalog"), 0o755); err != nil {
		return err
	}
	props := []string{
		"node.environment=" + spec.Environment,
		"node.id=" + spec.ID,
		"node.internal-address=" + spec.Addr.String(),
		fmt.Sprintf("coordinator=%t", spec.Coordinator),
		fmt.Sprintf("http-server.http.port=%d", Port),
		"discovery.uri=" + spec.Discovery,
		"plugin.dir=" + filepath.Join(home, "plugin"),
		"query.max-memory=256MB",
		"query.max-memory-per-node=128MB",
		"query.max-total-memory-per-node=192MB",
	}
	if spec.Coordinator {
		props = append(props, "node-scheduler.include-coordinator=false")
	}
	files := map[string]string{
		"config.properties":       strings.Join(props, "\n") + "\n",
		"log.properties":          "io.trino=INFO\n",
		"catalog/tpch.properties": "connector.name=tpch\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Process is one Trino JVM inside a namespace.
type Process struct {
	Spec NodeSpec
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	err  error
}

// Start writes the node's configuration and starts its JVM inside ns, as the launcher
// would (java -cp lib/* io.trino.server.TrinoServer), with the log in Dir/server.log.
// The JVM dies with the drill (parent-death signal) and runs in its own process group.
func Start(ns *NS, java, home string, spec NodeSpec) (*Process, error) {
	if spec.HeapMB == 0 {
		spec.HeapMB = 768
	}
	if err := writeConfig(home, spec); err != nil {
		return nil, fmt.Errorf("configuring %s: %w", spec.ID, err)
	}
	etc := filepath.Join(spec.Dir, "etc")
	args := append(jvmOptions(spec.HeapMB),
		"-Dconfig="+filepath.Join(etc, "config.properties"),
		"-Dlog.levels-file="+filepath.Join(etc, "log.properties"),
		"-cp", filepath.Join(home, "lib", "*"), "io.trino.server.TrinoServer")
	cmd := ns.Command(java, args...)
	cmd.Dir = spec.Dir
	logf, err := os.Create(filepath.Join(spec.Dir, "server.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("starting Trino %s: %w", spec.ID, err)
	}
	p := &Process{Spec: spec, cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		_ = logf.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// PID is the JVM's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Signal sends sig to the JVM.
func (p *Process) Signal(sig syscall.Signal) error { return syscall.Kill(p.PID(), sig) }

// Kill is kill -9 of the JVM; it waits until the process is gone.
func (p *Process) Kill() {
	_ = p.Signal(syscall.SIGKILL)
	_ = p.Signal(syscall.SIGCONT)
	<-p.done
}

// Exited reports whether the JVM has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// LogTail returns the end of the server log (for error messages).
func (p *Process) LogTail() string {
	b, _ := os.ReadFile(filepath.Join(p.Spec.Dir, "server.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
