package tcpinfo

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// pair returns both ends of a loopback TCP connection that has carried a
// few round trips of data (so the kernel has RTT samples).
func pair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			acc <- nil
			return
		}
		acc <- c
	}()
	client, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	server = <-acc
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	// Echo 20 round trips so that srtt and min_rtt have samples.
	go func() { _, _ = io.Copy(server, server) }()
	buf := make([]byte, 64)
	for range 20 {
		if _, err := client.Write(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(client, buf); err != nil {
			t.Fatal(err)
		}
	}
	return client, server
}

func TestReadLoopback(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_INFO is read on Linux only")
	}
	client, server := pair(t)
	for _, c := range []net.Conn{client, server} {
		info, err := Read(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", info)
		if info.RTT <= 0 || info.RTT >= 10*time.Millisecond {
			t.Errorf("RTT %v: want 0 < RTT < 10ms on loopback", info.RTT)
		}
		if info.MinRTT <= 0 || info.MinRTT > info.RTT {
			t.Errorf("MinRTT %v: want 0 < MinRTT <= RTT %v", info.MinRTT, info.RTT)
		}
		if info.Cwnd < 1 {
			t.Errorf("Cwnd %d: want >= 1", info.Cwnd)
		}
		if info.MSS == 0 {
			t.Errorf("MSS 0")
		}
		if info.TotalRetrans != 0 {
			t.Logf("retransmissions on loopback: %d", info.TotalRetrans)
		}
	}
	// The client sent 20 × 64 bytes: the server received them all.
	info, err := Read(server)
	if err != nil {
		t.Fatal(err)
	}
	if info.BytesRecv < 20*64 {
		t.Errorf("server BytesRecv %d, want >= %d", info.BytesRecv, 20*64)
	}
}

// wrapped is a connection wrapper with NetConn, like the proxy's counting
// connections.
type wrapped struct{ net.Conn }

func (w wrapped) NetConn() net.Conn { return w.Conn }

func TestReadUnwraps(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_INFO is read on Linux only")
	}
	client, _ := pair(t)
	tc := tls.Client(wrapped{client}, &tls.Config{InsecureSkipVerify: true}) // never handshakes: Read only unwraps
	info, err := Read(tc)
	if err != nil {
		t.Fatal(err)
	}
	if info.RTT <= 0 {
		t.Errorf("RTT %v through *tls.Conn and a wrapper", info.RTT)
	}
}

func TestReadNotTCP(t *testing.T) {
	a, b := net.Pipe()
	defer func() { _ = a.Close(); _ = b.Close() }()
	if _, err := Read(a); !errors.Is(err, ErrNotTCP) {
		t.Fatalf("net.Pipe: err %v, want ErrNotTCP", err)
	}
	if _, err := Read(tls.Server(a, &tls.Config{})); !errors.Is(err, ErrNotTCP) {
		t.Fatalf("tls over a pipe: err %v, want ErrNotTCP", err)
	}
}

func TestReadClosed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_INFO is read on Linux only")
	}
	client, _ := pair(t)
	_ = client.Close()
	if _, err := Read(client); err == nil {
		t.Fatal("Read of a closed connection: no error")
	}
}

func BenchmarkRead(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("TCP_INFO is read on Linux only")
	}
	client, _ := pair(b)
	tc := tls.Client(client, &tls.Config{InsecureSkipVerify: true})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(tc); err != nil {
			b.Fatal(err)
		}
	}
}
