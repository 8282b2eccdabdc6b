package redistest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy stands between clients and a Redis on loopback and does to Redis's replies what a
// sick network does: delays each one (SetDelay, a brownout), or holds them all until
// released (Hold, a black hole whose requests still reach Redis). Requests always go
// through at once, so a command that times out in the client may still run in Redis.
type Proxy struct {
	Addr string // 127.0.0.1:port, to give clients instead of the server's
	ln   net.Listener
	to   string

	mu    sync.Mutex
	delay time.Duration
	held  chan struct{} // closed when replies may go; nil while they flow
	conns []net.Conn
	dials int
}

// StartProxy starts a proxy to the Redis at addr, closed when the test ends.
func StartProxy(t testing.TB, addr string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), ln: ln, to: addr}
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// SetDelay makes every reply wait d before it is passed on (0: none).
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Hold keeps every reply from here on until Release.
func (p *Proxy) Hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held == nil {
		p.held = make(chan struct{})
	}
}

// Release lets the held replies, and those after, go.
func (p *Proxy) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held != nil {
		close(p.held)
		p.held = nil
	}
}

// Dials returns how many connections clients have opened through the proxy.
func (p *Proxy) Dials() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dials
}

// Close stops the proxy and drops its connections.
func (p *Proxy) Close() {
	p.ln.Close()
	p.Release()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.to)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.dials++
		p.mu.Unlock()
		go func() { io.Copy(s, c); s.Close() }()
		go p.replies(c, s)
	}
}

// replies copies Redis's replies to the client, each read's worth held, or delayed by the
// delay from when it came (as a network's latency: replies that follow each other close are
// not delayed one after the other, and their order is kept).
func (p *Proxy) replies(c, s net.Conn) {
	type chunk struct {
		b    []byte
		send time.Time
	}
	ch := make(chan chunk, 1024)
	go func() {
		defer close(ch)
		buf := make([]byte, 32<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 {
				p.mu.Lock()
				delay := p.delay
				p.mu.Unlock()
				ch <- chunk{b: append([]byte(nil), buf[:n]...), send: time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	defer c.Close()
	for k := range ch {
		p.mu.Lock()
		held := p.held
		p.mu.Unlock()
		if held != nil {
			<-held
		}
		time.Sleep(time.Until(k.send))
		if _, err := c.Write(k.b); err != nil {
			s.Close()
			for range ch { // let the reader end
			}
			return
		}
	}
}
