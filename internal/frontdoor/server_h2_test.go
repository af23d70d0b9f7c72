package frontdoor

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"net"
	"sync"
	"time"
)

// A raw HTTP/2 client, just enough to misbehave as a hostile one does:
// net/http's client obeys the server's stream limit, so it cannot show
// that the server enforces it.

const (
	frameHeaders   = 0x1
	frameRSTStream = 0x3
	frameSettings  = 0x4

	flagAck        = 0x1
	flagEndStream  = 0x1
	flagEndHeaders = 0x4

	settingMaxConcurrentStreams = 0x3
)

type h2Frame struct {
	Type, Flags byte
	Stream      uint32
	Payload     []byte
}

type h2Conn struct {
	*tls.Conn
	br  *bufio.Reader
	wmu sync.Mutex
	// ServerSettings are the server's initial SETTINGS, by identifier.
	ServerSettings map[uint16]uint32
}

// dialH2 connects with TLS and ALPN h2, exchanges the preface and
// settings, and returns with the server's settings acknowledged.
func dialH2(addr string) (*h2Conn, error) {
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}) // a test certificate
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		tc.Close()
		return nil, fmt.Errorf("negotiated %q, not h2", p)
	}
	c := &h2Conn{Conn: tc, br: bufio.NewReader(tc), ServerSettings: map[uint16]uint32{}}
	if _, err := io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"); err != nil {
		return nil, err
	}
	if err := c.writeFrame(frameSettings, 0, 0, nil); err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	for {
		f, err := c.readFrame()
		if err != nil {
			return nil, fmt.Errorf("reading the server's settings: %w", err)
		}
		if f.Type != frameSettings || f.Flags&flagAck != 0 {
			continue
		}
		for p := f.Payload; len(p) >= 6; p = p[6:] {
			c.ServerSettings[binary.BigEndian.Uint16(p)] = binary.BigEndian.Uint32(p[2:])
		}
		return c, c.writeFrame(frameSettings, flagAck, 0, nil)
	}
}

func (c *h2Conn) writeFrame(typ, flags byte, stream uint32, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	hdr := make([]byte, 9, 9+len(payload))
	hdr[0], hdr[1], hdr[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	hdr[3], hdr[4] = typ, flags
	binary.BigEndian.PutUint32(hdr[5:], stream&0x7fffffff)
	_, err := c.Write(append(hdr, payload...))
	return err
}

func (c *h2Conn) readFrame() (h2Frame, error) {
	var hdr [9]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return h2Frame{}, err
	}
	f := h2Frame{Type: hdr[3], Flags: hdr[4], Stream: binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff}
	f.Payload = make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))
	_, err := io.ReadFull(c.br, f.Payload)
	return f, err
}

// ReadFrames hands every frame to fn until the connection ends.
func (c *h2Conn) ReadFrames(fn func(h2Frame)) {
	for {
		f, err := c.readFrame()
		if err != nil {
			return
		}
		fn(f)
	}
}

// Get opens stream with a complete GET request (HPACK: static-table
// entries and literals, no Huffman coding).
func (c *h2Conn) Get(stream uint32, authority, path string) error {
	block := []byte{0x82, 0x87} // :method GET, :scheme https
	block = append(block, 0x04, byte(len(path)))
	block = append(block, path...)
	block = append(block, 0x01, byte(len(authority)))
	block = append(block, authority...)
	return c.writeFrame(frameHeaders, flagEndStream|flagEndHeaders, stream, block)
}

// testTLS is a throwaway certificate for 127.0.0.1 offering h2.
func testTLS() (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, NextProtos: []string{"h2", "http/1.1"}}, nil
}
