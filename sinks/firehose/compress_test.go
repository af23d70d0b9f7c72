package firehose

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy/xerial"
)

// decompress undoes an object's Content-Encoding with readers that are not
// ours: gzip, archive/zip, klauspost's xerial decoder; Hadoop's framing is
// parsed here, each block decoded by s2's snappy decoder.
func decompress(t testing.TB, encoding string, b []byte) []byte {
	t.Helper()
	switch encoding {
	case "":
		return b
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case "zip":
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		if len(zr.File) != 1 || zr.File[0].Method != zip.Deflate {
			t.Fatalf("zip holds %d entries (want one, deflated)", len(zr.File))
		}
		rc, err := zr.File[0].Open()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		out, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case "snappy-java":
		if !bytes.HasPrefix(b, []byte("\x82SNAPPY\x00")) {
			t.Fatalf("snappy-java object without magic: % x", b[:min(len(b), 16)])
		}
		out, err := xerial.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case "hadoop-snappy":
		var out []byte
		for len(b) > 0 {
			if len(b) < 8 {
				t.Fatalf("truncated hadoop-snappy block header")
			}
			raw, n := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
			b = b[8:]
			blk, err := s2.Decode(nil, b[:n])
			if err != nil {
				t.Fatal(err)
			}
			if len(blk) != int(raw) {
				t.Fatalf("block decodes to %d bytes, header says %d", len(blk), raw)
			}
			out = append(out, blk...)
			b = b[n:]
		}
		return out
	}
	t.Fatalf("unknown encoding %q", encoding)
	return nil
}

// TestObjectsGoldenPerCompression writes the same records with every
// CompressionFormat; the golden file holds each object's key, metadata,
// SHA-256 of its bytes (framing is deterministic, so a replay rewrites the
// same bytes) and decompressed content.
func TestObjectsGoldenPerCompression(t *testing.T) {
	for _, c := range []string{CompressionNone, CompressionGZIP, CompressionZIP, CompressionSnappy, CompressionHadoopSnappy} {
		t.Run(c, func(t *testing.T) {
			clk := newClock()
			m := newMemDest()
			cfg := dpConfig()
			cfg.Compression = c
			d := openTest(t, cfg, t.TempDir(), m, clk)
			mustAccept(t, d, batch("s", "1", clickRecords(clk.Now())...))
			if err := d.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, k := range m.keys() {
				meta := m.meta[k]
				raw := m.objs[k]
				fmt.Fprintf(&b, "== %s (encoding=%q records=%d sha256=%x)\n%s", k, meta.ContentEncoding, meta.Records,
					sha256.Sum256(raw), decompress(t, meta.ContentEncoding, raw))
			}
			checkGolden(t, "testdata/objects_compression_"+strings.ToLower(c)+".golden", b.String())
		})
	}
}

// TestCompressionRoundTripLarge crosses every block boundary: several
// snappy-java (32 KiB) and Hadoop (256 KiB) blocks, written in odd sizes.
func TestCompressionRoundTripLarge(t *testing.T) {
	src := make([]byte, 1<<20+12345)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range src {
		src[i] = "abcdefgh{}\":,0123456789"[r.IntN(23)]
	}
	for name, comp := range compressions {
		var out bytes.Buffer
		w, err := comp.wrap(&out, "obj")
		if err != nil {
			t.Fatal(err)
		}
		for p := src; len(p) > 0; {
			n := min(len(p), 1+r.IntN(70000))
			if _, err := w.Write(p[:n]); err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := decompress(t, comp.encoding, out.Bytes()); !bytes.Equal(got, src) {
			t.Errorf("%s: round trip differs (%d bytes, want %d)", name, len(got), len(src))
		}
	}
}

func TestEmptySnappyJavaIsHeaderOnly(t *testing.T) {
	var out bytes.Buffer
	w := newXerial(&out)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), xerialHeader) {
		t.Fatalf("empty stream = % x", out.Bytes())
	}
}
