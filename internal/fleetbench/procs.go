package fleetbench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/internal/loadgen"
)

// proc is a child process: a control server or a DNS server. Its stdout and
// stderr go to DIR/NAME.log; the first line matching the start pattern is
// handed to start.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// procs tracks every child, so that all of them are stopped on exit, and
// writes their PIDs to a file the calling script can kill them by.
type procs struct {
	mu      sync.Mutex
	list    []*proc
	pidFile string
}

// start runs argv with its output in dir/name.log and waits up to timeout
// for a line matching pat, whose submatches it returns.
func (ps *procs) start(ctx context.Context, dir, name string, pat *regexp.Regexp, timeout time.Duration, argv ...string) (*proc, []string, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, nil, err
	}
	pr, pw := io.Pipe()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = pw, pw
	// The children die with the bench even when it is killed outright.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.writePIDsLocked()
	ps.mu.Unlock()
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			_, _ = fmt.Fprintln(logf, line)
			if found != nil {
				if m := pat.FindStringSubmatch(line); m != nil {
					found <- m[1:]
					found = nil
				}
			}
		}
		_, _ = io.Copy(logf, pr) // a line too long for the scanner
		_ = logf.Close()
	}()
	go func() {
		_ = cmd.Wait()
		_ = pw.Close()
		close(p.done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case m := <-found:
		return p, m, nil
	case <-p.done:
		return nil, nil, fmt.Errorf("%s exited before it was ready (%s); see %s.log", name, cmd.ProcessState, filepath.Join(dir, name))
	case <-t.C:
		return nil, nil, fmt.Errorf("%s not ready within %v; see %s.log", name, timeout, filepath.Join(dir, name))
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

func (ps *procs) writePIDsLocked() {
	if ps.pidFile == "" {
		return
	}
	var b strings.Builder
	for _, p := range ps.list {
		fmt.Fprintln(&b, p.cmd.Process.Pid)
	}
	_ = os.WriteFile(ps.pidFile, []byte(b.String()), 0o644) // best effort: Pdeathsig covers a miss
}

// stop ends p: SIGTERM, then SIGKILL after 5 s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// stopAll stops every child, DNS servers before the control server.
func (ps *procs) stopAll() {
	ps.mu.Lock()
	list := ps.list
	ps.list = nil
	ps.writePIDsLocked()
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for i := len(list) - 1; i >= 0; i-- {
		wg.Go(list[i].stop)
	}
	wg.Wait()
}

// token returns a random API token.
func token() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// fleet is a control server and the DNS servers following it.
type fleet struct {
	dir     string
	procs   *procs
	pops    []config.PoP
	url     string
	read    string
	publish *control.Client
	operate *control.Client
	ctl     *proc
	dns     []*dnsProc
}

// dnsProc is one steer-dns process.
type dnsProc struct {
	name   string
	dir    string
	config string
	addr   netip.AddrPort
	admin  string
	proc   *proc
}

var (
	controlReady = regexp.MustCompile(`listening on (http://\S+)`)
	dnsReady     = regexp.MustCompile(`msg=serving .* dns="?\[([0-9.:]+)[^\]]*\].* admin=(\S+)`)
)

// startControl writes the control server's config (the fleet's PoPs from
// pops, three tokens) under dir/control and starts steerBin control on a
// free 127.0.0.1 port, with prefix (e.g. nice -n 19) before the binary.
func startControl(ctx context.Context, ps *procs, dir, steerBin string, pops []config.PoP, loadPeriod time.Duration, prefix []string) (*fleet, error) {
	f := &fleet{dir: dir, procs: ps, pops: pops, read: token()}
	cdir := filepath.Join(dir, "control")
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		return nil, err
	}
	publish, operate := token(), token()
	// The control server reads only the PoPs and records of its DNS config;
	// the URL in it is a placeholder.
	if err := os.WriteFile(filepath.Join(cdir, "dns.yaml"), []byte(dnsConfig("control", "http://127.0.0.1:1", f.read, pops)), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cdir, "map.json"), []byte(emptyMap), 0o644); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
state_dir: state
map_dir: maps
dns_config: dns.yaml
load: {period: %s}
tokens:
  - {name: fleet, role: read, token: %s}
  - {name: ops, role: operate, token: %s}
  - {name: ci, role: publish, token: %s}
`, loadPeriod, f.read, operate, publish)
	if err := os.WriteFile(filepath.Join(cdir, "control.yaml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	argv := append(append([]string{}, prefix...), steerBin, "control", "--config", "control.yaml")
	p, m, err := ps.start(ctx, cdir, "control", controlReady, 30*time.Second, argv...)
	if err != nil {
		return nil, err
	}
	f.ctl, f.url = p, m[0]
	f.publish = &control.Client{URL: f.url, Token: publish}
	f.operate = &control.Client{URL: f.url, Token: operate}
	return f, nil
}

const emptyMap = `{"meta": {"version": 0}, "map": []}` + "\n"

// dnsConfig is a steer-dns config following the control server at url:
// one UDP socket, the control map as the ECS map of www.example.net.
func dnsConfig(server, url, tok string, pops []config.PoP) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# steer-dns config of the fleet benchmark (generated by steer-fleetbench).
listen: {dns: ["127.0.0.1:0"], admin: "127.0.0.1:0", udp_sockets: 1}
reload: {watch: false}
control: {url: %q, token: %s, map_file: map.json, server: %s}
pops:
`, url, tok, server)
	for _, p := range pops {
		addrs := make([]string, len(p.IPv4))
		for i, a := range p.IPv4 {
			addrs[i] = fmt.Sprintf("%q", a.String())
		}
		fmt.Fprintf(&b, "  - {label: %s, lat: %.2f, lon: %.2f, capacity: 100, ipv4: [%s]}\n", p.Label, p.Lat, p.Lon, strings.Join(addrs, ", "))
	}
	b.WriteString(`zones:
  - name: example.net
    ns: [{name: ns1.example.net, ipv4: ["127.0.0.1"]}]
    records:
      - {name: www, ttl: 30, steering: [ecs, default], ecs_map: map.json, default: {ipv4: ["192.0.2.1"]}}
`)
	return b.String()
}

// startDNS starts n steer-dns processes following the control server, each
// in its own directory, with prefix (e.g. taskset -c 0) before the binary.
func (f *fleet) startDNS(ctx context.Context, n int, bin string, prefix []string) error {
	first := len(f.dns)
	for i := range n {
		name := fmt.Sprintf("dns%02d", first+i+1)
		d := &dnsProc{name: name, dir: filepath.Join(f.dir, name)}
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			return err
		}
		d.config = filepath.Join(d.dir, "steer.yaml")
		if err := os.WriteFile(d.config, []byte(dnsConfig(name, f.url, f.read, f.pops)), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d.dir, "map.json"), []byte(emptyMap), 0o644); err != nil {
			return err
		}
		f.dns = append(f.dns, d)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, d := range f.dns[first:] {
		wg.Go(func() {
			argv := append(append([]string{}, prefix...), bin, "--config", "steer.yaml")
			p, m, err := f.procs.start(ctx, d.dir, "steer-dns", dnsReady, 60*time.Second, argv...)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", d.name, err)
				return
			}
			d.proc, d.admin = p, m[1]
			if d.addr, err = netip.ParseAddrPort(m[0]); err != nil {
				errs[i] = fmt.Errorf("%s: address %q: %w", d.name, m[0], err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// settled polls GET /v1/fleet until every DNS server reports map version
// v (0: any) and state index ≥ index with no error, or the deadline.
func (f *fleet) settled(ctx context.Context, v int, index uint64, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	reader := &control.Client{URL: f.url, Token: f.read}
	var last string
	for {
		fl, err := reader.Fleet(ctx)
		if err == nil {
			ok := len(fl.Servers) == len(f.dns)
			for _, s := range fl.Servers {
				if (v != 0 && s.MapVersion != v) || s.StateIndex < index || s.Error != "" {
					ok = false
					last = fmt.Sprintf("%s: map version %d, state index %d, error %q", s.Server, s.MapVersion, s.StateIndex, s.Error)
				}
			}
			if ok {
				return nil
			}
			if last == "" {
				last = fmt.Sprintf("%d of %d servers reported", len(fl.Servers), len(f.dns))
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fleet not settled on map version %d, state index %d within %v: %s", v, index, within, last)
		case <-time.After(20 * time.Millisecond): // poll interval, bounded by the deadline above
		}
	}
}

// cpu is the machine's busy CPU time (/proc/stat) less that of the control
// server, server d and this process: the neighbours' share.
func (f *fleet) cpu(d *dnsProc) time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	var busy uint64
	for i, v := range fields[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i != 3 && i != 4 && i < 8 { // not idle, iowait, guest
			busy += n
		}
	}
	const clkTck = 100 // USER_HZ
	return time.Duration(busy)*time.Second/clkTck - procsCPU(f.ctl.cmd.Process.Pid, d.proc.cmd.Process.Pid, os.Getpid())
}

// procsCPU is the CPU time the processes pids used so far (0 for one that
// cannot be read).
func procsCPU(pids ...int) (t time.Duration) {
	for _, pid := range pids {
		c, _ := loadgen.ProcCPU(pid)
		t += c
	}
	return t
}

// waitIdle waits until the control server and the DNS servers together
// used under 5 % of a core over one window, and returns how long it took;
// after within it gives up (an error: the fleet never settles).
func (f *fleet) waitIdle(ctx context.Context, window, within time.Duration) (time.Duration, error) {
	start := time.Now()
	pids := []int{f.ctl.cmd.Process.Pid}
	for _, d := range f.dns {
		pids = append(pids, d.proc.cmd.Process.Pid)
	}
	tick := time.NewTicker(window)
	defer tick.Stop()
	last := procsCPU(pids...)
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
		now := procsCPU(pids...)
		if now-last < window/20 {
			return time.Since(start), nil
		}
		if time.Since(start) > within {
			return 0, fmt.Errorf("the fleet was still busy %v after the last publish (%v of CPU in the last %v)", within, now-last, window)
		}
		last = now
	}
}

func cpuPct(cpu, over time.Duration) float64 {
	if over <= 0 {
		return 0
	}
	return max(0, 100*cpu.Seconds()/over.Seconds())
}
